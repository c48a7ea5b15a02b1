"""Battery, plugin side of issue 10 (items 3 and 15): jobs that share an output folder, Cancel, the clean-up after
a failure, the backend's child environment and the backend path. Each row is one case, so none can come back.

Real QGIS headless (pytest-qgis), the REAL backend (GEOGEN_BACKEND) for the end-to-end rows, and
fake_backend.py (run with this Python) for the crash/hang/garbage rows. Every job row checks its outcome
(ok / error / cancelled / killed), a fragment of its message, and which files are left in the output folder:
another job's partial files, claims and cancel requests must survive; the job's own debris must not.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from qgis_plugin.common.errors import BackendError, BackendNotFoundError, JobCancelledError
from qgis_plugin.common.job import Area, RunOptions, sketch_job, superres_job, write_job
from qgis_plugin.runner.backend import Backend, check_program, clean_environment, find_backend
from qgis_plugin.runner.process import JOB_ID_ENV, new_job_id, run_job
from qgis_plugin.runner.task import GeogenTask
from qgis_plugin.tests.helpers import FAKE_BACKEND, wait_for

REPO = Path(__file__).resolve().parents[2]
SAMPLE_S2 = REPO / "geogen" / "data" / "sample_s2" / "S2A_MSIL2A_20170613T101031_87_48"
SLOVENIA = REPO / "tests" / "data" / "s2_l1c_slovenia_eolearn"
MAPPING = REPO / "geogen" / "data" / "mappings" / "slovenia_lulc_to_flair.json"
OTHER = "feedc0de0000"  # the job id of "another job" whose files are planted in the shared folder
OTHER_FILES = (
    f".other.tif.blocks-1234abcd.{OTHER}-99999-abcdef.partial.tif",
    ".other.tif.geogen-claim",
    f"cancel-{OTHER}",
    "cancel",  # "cancel every job in this folder": the plugin neither creates nor deletes it
)
HOSTILE_ENV = {
    "PYTHONINSPECT": "1",  # the backend would sit at a >>> prompt after its job: every job "failed"
    "PYTHONWARNINGS": "error",
    "PYTHONPATH": "/nonexistent/qgis/python",
    "PYTHONHOME": "/nonexistent/qgis",  # inherited, no Python could even start
    "PYTHONSTARTUP": "/nonexistent/startup.py",
    "LD_PRELOAD": "/nonexistent/libhostile.so",
    "LD_LIBRARY_PATH": "/nonexistent/qgis/lib",
    "DYLD_INSERT_LIBRARIES": "/nonexistent/libhostile.dylib",
    "GDAL_DATA": "/nonexistent/qgis/gdal",
    "PROJ_LIB": "/nonexistent/qgis/proj",
    "QT_PLUGIN_PATH": "/nonexistent/qgis/qt",
    JOB_ID_ENV: "inherited0",  # a job id in QGIS's own environment must never reach a job
}


def fake(mode: str) -> Backend:
    return Backend((sys.executable, str(FAKE_BACKEND), mode), "test")


@dataclass
class Outcome:
    """What one job of a row ended with."""

    status: str  # ok | error | cancelled | killed
    message: str
    folder: Path
    job_id: str
    checks: list[str] = field(default_factory=list)  # row-specific facts that held (for the report)


def follow(backend: Backend, job_file: Path, job_id: str | None = None, **kw) -> Outcome:
    job_id = job_id or new_job_id()
    folder = _out_dir(job_file)
    try:
        outcome = run_job(backend, job_file, job_id=job_id, **kw)
    except JobCancelledError as exc:
        return Outcome("killed" if exc.killed else "cancelled", str(exc), folder, job_id)
    except BackendError as exc:
        return Outcome("error", str(exc), folder, job_id)
    return Outcome("ok", json.dumps(outcome.result)[:2000], folder, job_id)


def _out_dir(job_file: Path) -> Path:
    out = Path(json.loads(job_file.read_text(encoding="utf-8"))["output"]["dir"])
    return out if out.is_absolute() else (job_file.parent / out).resolve()


def job_in(folder: Path, job: dict, name: str, tmp_path: Path) -> Path:
    """``job`` written in its own job folder but writing into the shared ``folder`` under ``name``."""
    job["output"] = {**job["output"], "dir": str(folder), "name": name, "result": f"{name}.result.json"}
    return write_job(job, tmp_path / f"job-{name}")


def superres(folder: Path, name: str, tmp_path: Path, source: Path = SAMPLE_S2) -> Path:
    """A weight-free real job that takes a second: bicubic super-resolution of the sample Sentinel-2 patch."""
    return job_in(folder, superres_job(str(source), RunOptions(engine="bicubic", name=name)), name, tmp_path)


def long_sketch(folder: Path, name: str, tmp_path: Path) -> Path:
    """A weight-free real job that runs for several seconds (16 tiles of exemplar synthesis)."""
    job = sketch_job(
        str(SLOVENIA / "LULC_polygons_MKGP_RABA.gpkg"),
        RunOptions(engine="exemplar", name=name),
        class_field="LULC_ID",
        mapping=str(MAPPING),
        aoi=Area((465000.0, 5079000.0, 466500.0, 5080500.0), "EPSG:32633"),
        gsd=1.0,
    )
    return job_in(folder, job, name, tmp_path)


def plant_other_job(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in OTHER_FILES:
        (folder / name).write_text("another job's file")
    (folder / ".other.tif.geogen-claim").write_text(json.dumps({"job": OTHER, "pid": 99999}))


def start_task(backend: Backend, job_file: Path, **kw) -> tuple[GeogenTask, list[GeogenTask]]:
    from qgis.core import QgsApplication

    done: list[GeogenTask] = []
    task = GeogenTask(f"battery {job_file.parent.name}", backend, job_file, done.append, **kw)
    QgsApplication.taskManager().addTask(task)
    return task, done


def alive(pid: int) -> bool:
    if sys.platform == "win32":
        return True  # os.kill(pid, 0) would terminate it on Windows; not checked there
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def wait_file(path: Path, timeout: float = 60.0) -> None:
    wait_for(path.exists, timeout)


def own_partials(folder: Path, job_id: str) -> list[str]:
    if not folder.is_dir():
        return []
    return [p.name for p in folder.iterdir() if ".partial" in p.name and f".{job_id}-" in p.name]


def partials_of(folder: Path, name: str) -> list[str]:
    """The hidden partial files of the output ``name`` (whatever the job id format)."""
    if not folder.is_dir():
        return []
    return [p.name for p in folder.glob(f".{name}.*") if ".partial" in p.name]


# --- the job rows ---------------------------------------------------------------------------------------
def row_hostile_env_real_job(tmp_path: Path, real: Backend, monkeypatch) -> Outcome:
    """Item 15: PYTHONINSPECT, PYTHONWARNINGS, LD_PRELOAD, PYTHONPATH/HOME ... in QGIS's environment do not reach
    a real backend job: it succeeds (it used to 'fail' after writing its outputs)."""
    for key, value in HOSTILE_ENV.items():
        monkeypatch.setenv(key, value)
    try:
        return follow(real, superres(tmp_path / "out", "sr", tmp_path))
    finally:
        for key in HOSTILE_ENV:
            monkeypatch.delenv(
                key
            )  # PYTHONINSPECT must not outlive the row (this interpreter reads it at exit)


def row_env_reaching_the_child(tmp_path: Path, real: Backend, monkeypatch) -> Outcome:
    """Item 15: what the child really sees: none of the hostile variables, what a backend needs, and the
    plugin's own job id (not one inherited from QGIS)."""
    needed = {
        "HTTPS_PROXY": "http://proxy.example:3128",
        "no_proxy": "localhost",
        "SSL_CERT_FILE": "/etc/ssl/certs/ca.pem",
        "CUDA_VISIBLE_DEVICES": "0",
        "HF_HUB_OFFLINE": "1",
        "GEOGEN_HOME": str(tmp_path / "models"),
        "OMP_NUM_THREADS": "1",
        "LC_ALL": "C.UTF-8",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    for key, value in {**HOSTILE_ENV, **needed}.items():
        monkeypatch.setenv(key, value)
    logs: list[str] = []
    job_id = new_job_id()
    try:
        outcome = follow(
            fake("env"),
            superres(tmp_path / "out", "env", tmp_path),
            job_id,
            on_log=lambda level, msg: logs.append(msg),
        )
    finally:
        for key in {**HOSTILE_ENV, **needed}:
            monkeypatch.delenv(key)
    child = json.loads(logs[0])
    leaked = sorted((set(HOSTILE_ENV) - {JOB_ID_ENV}) & set(child))
    assert not leaked, f"reached the backend: {leaked}"
    assert child[JOB_ID_ENV] == job_id
    assert {k: child.get(k) for k in needed} == needed
    assert "PATH" in child and child["PYTHONUNBUFFERED"] == "1" and child["PYTHONIOENCODING"] == "utf-8"
    assert set(child) <= set(clean_environment(os.environ | needed)) | {JOB_ID_ENV, "LC_CTYPE"}
    outcome.checks.append("environment allowlisted")
    return outcome


def row_failed_job_keeps_a_running_jobs_partials_real(tmp_path: Path, real: Backend, monkeypatch) -> Outcome:
    """Item 3: a real job fails in a folder where another real job is writing; the running job's hidden
    partial file survives the failed job's clean-up, and the running job then completes."""
    folder = tmp_path / "shared"
    running, done = start_task(real, long_sketch(folder, "long", tmp_path))
    wait_for(lambda: bool(partials_of(folder, "long")) or bool(done), 120)
    assert not done, f"the long job ended too early: {running.error}"
    partials = partials_of(folder, "long")
    failed = follow(real, superres(folder, "broken", tmp_path, source=tmp_path / "missing.SAFE"))
    assert failed.status == "error", failed
    assert all((folder / p).exists() for p in partials), "the failed job removed the running job's partials"
    wait_for(lambda: bool(done), 240)
    assert running.outcome is not None, running.error
    assert (folder / "long.tif").is_file() and (folder / "long.result.json").is_file()
    failed.checks.append("running job survived and completed")
    return failed


def row_failed_fake_job_removes_only_its_own(tmp_path: Path, real: Backend, monkeypatch) -> Outcome:
    """Item 3: after a crash, the plugin's clean-up leaves another job's partial, claim and cancel files."""
    folder = tmp_path / "shared"
    plant_other_job(folder)
    return follow(fake("crash"), superres(folder, "crash", tmp_path))


def row_killed_job_removes_only_its_own(tmp_path: Path, real: Backend, monkeypatch) -> Outcome:
    """Item 3: a backend deaf to its cancel file is killed; its own partial and claim go, another job's stay."""
    folder = tmp_path / "shared"
    plant_other_job(folder)
    job_file = superres(folder, "hang", tmp_path)
    t0 = time.monotonic()
    outcome = follow(
        fake("hang"), job_file, is_cancelled=lambda: time.monotonic() - t0 > 1.0, cancel_grace_s=1.0
    )
    assert not alive(int((folder / f"pid-{outcome.job_id}").read_text()))
    return outcome


def row_killed_job_rolls_back_its_commits(tmp_path: Path, real: Backend, monkeypatch) -> Outcome:
    """Item 3 (and 2, after a kill): a backend killed after committing one output leaves nothing under final
    names: the output it committed under its own claim goes; an older file it had claimed (to replace) stays,
    and so do another job's files."""
    folder = tmp_path / "shared"
    plant_other_job(folder)
    (folder / "other.tif").write_text("another job's committed output")
    old = folder / "c.result.json"
    old.write_text("{}")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    job_file = superres(folder, "c", tmp_path)
    progress: list[float] = []
    outcome = follow(
        fake("commit"),
        job_file,
        on_progress=lambda p, s: progress.append(p),
        is_cancelled=lambda: 50 in progress,
        cancel_grace_s=0.5,
    )
    assert old.read_text() == "{}"
    return outcome


def row_cancel_stops_only_that_job_fake(tmp_path: Path, real: Backend, monkeypatch) -> Outcome:
    """Item 3: two cooperative jobs in one folder; Cancel of one stops that one (by itself, at its own cancel
    file); the other keeps running until it is cancelled in turn."""
    folder = tmp_path / "shared"
    other, other_done = start_task(fake("cooperative"), superres(folder, "b", tmp_path), cancel_grace_s=30.0)
    wait_file(folder / f"pid-{other.job_id}")
    t0 = time.monotonic()
    outcome = follow(
        fake("cooperative"),
        superres(folder, "a", tmp_path),
        is_cancelled=lambda: time.monotonic() - t0 > 1.0,
        cancel_grace_s=30.0,
    )
    assert not other_done and alive(int((folder / f"pid-{other.job_id}").read_text()))
    assert own_partials(folder, other.job_id), "the cancelled job's clean-up removed the other job's partial"
    assert not (folder / "cancel").exists(), "the folder-wide cancel file must not be used"
    other.cancel()
    wait_for(lambda: bool(other_done), 30)
    assert other.cancelled and not other.killed
    outcome.checks.append("other job kept running, then cancelled by itself")
    return outcome


def row_cancel_real_job_only(tmp_path: Path, real: Backend, monkeypatch) -> Outcome:
    """Item 3, end to end: Cancel of a real job writes only its own cancel file; the real backend stops by
    itself (no kill) and leaves nothing; a job running beside it in the same folder is not stopped."""
    folder = tmp_path / "shared"
    other, other_done = start_task(fake("cooperative"), superres(folder, "b", tmp_path), cancel_grace_s=30.0)
    wait_file(folder / f"pid-{other.job_id}")
    progress: list[float] = []
    seen: set[str] = set()  # the cancel files present while the job ran

    def is_cancelled() -> bool:
        seen.update(p.name for p in folder.glob("cancel*"))
        return len(progress) > 1

    job_id = new_job_id()
    outcome = follow(
        real,
        long_sketch(folder, "long", tmp_path),
        job_id,
        on_progress=lambda p, s: progress.append(p),
        is_cancelled=is_cancelled,
        cancel_grace_s=60.0,
    )
    assert seen == {f"cancel-{job_id}"}, seen  # its own request only: never the folder-wide `cancel`
    assert not other_done and alive(int((folder / f"pid-{other.job_id}").read_text()))
    other.cancel()
    wait_for(lambda: bool(other_done), 30)
    assert other.cancelled
    outcome.checks.append("the job beside it was not stopped")
    return outcome


def row_cancel_legacy_backend(tmp_path: Path, real: Backend, monkeypatch) -> Outcome:
    """A backend older than job ids (no ``job_id`` in its start line) is still asked to stop gently, through
    the one file it watches (``cancel``), which the plugin then deletes since it created it."""
    t0 = time.monotonic()
    return follow(
        fake("legacy"),
        superres(tmp_path / "out", "old", tmp_path),
        is_cancelled=lambda: time.monotonic() - t0 > 1.0,
        cancel_grace_s=30.0,
    )


def row_starting_job_keeps_other_cancel_requests_real(tmp_path: Path, real: Backend, monkeypatch) -> Outcome:
    """Item 3: a real job starting in a folder with another job's cancel request (and a folder-wide `cancel`
    left from before) runs to the end and deletes neither."""
    folder = tmp_path / "shared"
    plant_other_job(folder)
    return follow(real, superres(folder, "sr", tmp_path))


def row_garbage_is_not_trusted(tmp_path: Path, real: Backend, monkeypatch) -> Outcome:
    """A program that does not speak the protocol is reported, not trusted; another job's files stay."""
    folder = tmp_path / "shared"
    plant_other_job(folder)
    return follow(fake("garbage"), superres(folder, "g", tmp_path))


def row_program_in_code_not_executable(tmp_path: Path, real: Backend, monkeypatch) -> Outcome:
    """Item 15: a Backend built in code (python + script form included) is checked before it is started."""
    script = tmp_path / "geogen-script"
    script.write_text("#!/bin/sh\necho hi\n")  # no execute permission
    return follow(Backend((str(script), "--flag"), "test"), superres(tmp_path / "out", "x", tmp_path))


Row = Callable[[Path, Backend, pytest.MonkeyPatch], Outcome]
# (name, row, expected status, message fragment, files that must be left, globs that must match nothing)
JOB_CASES: list[tuple[str, Row, str, str, tuple[str, ...], tuple[str, ...]]] = [
    (
        "15-hostile-env-real-job-succeeds",
        row_hostile_env_real_job,
        "ok",
        '"outputs"',
        ("out/sr.tif", "out/sr.result.json"),
        ("out/.*partial*", "out/cancel*", "out/.*geogen-claim"),
    ),
    ("15-env-allowlist-and-own-job-id", row_env_reaching_the_child, "ok", '"task"', (), ()),
    (
        "03-failed-job-keeps-running-jobs-partials-real",
        row_failed_job_keeps_a_running_jobs_partials_real,
        "error",
        "missing.SAFE",
        ("shared/long.tif", "shared/long.result.json"),
        ("shared/.*partial*", "shared/broken*", "shared/cancel*"),
    ),
    (
        "03-crash-cleanup-leaves-other-jobs-files",
        row_failed_fake_job_removes_only_its_own,
        "error",
        "boom in tile 3",
        tuple(f"shared/{n}" for n in OTHER_FILES),
        ("shared/.crash*",),
    ),
    (
        "03-kill-cleanup-removes-own-files-only",
        row_killed_job_removes_only_its_own,
        "killed",
        "cancelled",
        tuple(f"shared/{n}" for n in OTHER_FILES),
        ("shared/.hang*", "shared/cancel-[!f]*"),
    ),
    (
        "03-kill-rolls-back-own-commits-only",
        row_killed_job_rolls_back_its_commits,
        "killed",
        "cancelled",
        ("shared/c.result.json", "shared/other.tif", *(f"shared/{n}" for n in OTHER_FILES)),
        ("shared/c.tif", "shared/.c.*"),
    ),
    (
        "03-cancel-stops-only-that-job-fake",
        row_cancel_stops_only_that_job_fake,
        "cancelled",
        "cancelled",
        (),
        ("shared/.a.*", "shared/.b.*", "shared/cancel*"),
    ),
    (
        "03-cancel-real-job-stops-by-itself-only-it",
        row_cancel_real_job_only,
        "cancelled",
        "cancelled",
        (),
        ("shared/long*", "shared/.long*", "shared/.b.*", "shared/cancel*"),
    ),
    (
        "03-cancel-legacy-backend-gently",
        row_cancel_legacy_backend,
        "cancelled",
        "cancelled",
        (),
        ("out/cancel*",),
    ),
    (
        "03-starting-job-keeps-other-cancel-requests-real",
        row_starting_job_keeps_other_cancel_requests_real,
        "ok",
        '"outputs"',
        ("shared/sr.tif", "shared/sr.result.json", *(f"shared/{n}" for n in OTHER_FILES)),
        ("shared/.sr*",),
    ),
    (
        "15-garbage-output-not-trusted",
        row_garbage_is_not_trusted,
        "error",
        "not geogen's JSON-lines protocol",
        tuple(f"shared/{n}" for n in OTHER_FILES),
        (),
    ),
    (
        "15-backend-in-code-not-executable",
        row_program_in_code_not_executable,
        "error",
        "not an executable file",
        (),
        ("out/x*", "out/.x*"),
    ),
]


@pytest.mark.parametrize(
    ("name", "row", "status", "fragment", "left", "gone"), JOB_CASES, ids=[c[0] for c in JOB_CASES]
)
def test_job_battery(name, row, status, fragment, left, gone, tmp_path: Path, real_backend_path, monkeypatch):
    outcome = row(tmp_path, Backend((real_backend_path,), "GEOGEN_BACKEND"), monkeypatch)
    assert outcome.status == status, outcome
    assert fragment in outcome.message, outcome
    missing = [p for p in left if not (tmp_path / p).exists()]
    assert not missing, f"{name}: should be left: {missing}"
    for pattern in gone:
        folder, glob = pattern.split("/", 1)
        found = sorted(p.name for p in (tmp_path / folder).glob(glob)) if (tmp_path / folder).is_dir() else []
        assert not found, f"{name}: should be gone ({pattern}): {found}"
    if outcome.status != "ok":
        assert not own_partials(outcome.folder, outcome.job_id)
        assert not (outcome.folder / f"cancel-{outcome.job_id}").exists()


# --- the backend path rows (item 15) --------------------------------------------------------------------
def make(tmp_path: Path, name: str, kind: str) -> Path:
    path = tmp_path / name
    if kind == "dir":
        path.mkdir()
    elif kind in ("exec", "plain"):
        path.write_bytes(b"MZ fake program")
        mode = path.stat().st_mode
        path.chmod(
            mode | stat.S_IXUSR if kind == "exec" else mode & ~(stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        )
    return path  # "missing": nothing made


# (name, os.name whose rules apply, file name, what is there, expected message fragment or None for accepted)
PATH_CASES = [
    ("nt-bat-refused", "nt", "geogen.bat", "exec", "run through cmd.exe"),
    ("nt-cmd-refused", "nt", "geogen.cmd", "exec", "run through cmd.exe"),
    ("nt-BAT-upper-refused", "nt", "GEOGEN.BAT", "exec", "run through cmd.exe"),
    ("nt-ps1-refused", "nt", "geogen.ps1", "exec", "PowerShell"),
    ("nt-vbs-refused", "nt", "geogen.vbs", "exec", "Windows Script Host"),
    ("nt-wsf-refused", "nt", "geogen.wsf", "exec", "Windows Script Host"),
    ("nt-py-refused", "nt", "geogen.py", "exec", "Python launcher"),
    ("nt-bat-refused-even-missing", "nt", "geogen.cmd", "missing", "run through cmd.exe"),
    ("nt-no-suffix-refused", "nt", "geogen", "exec", "not a Windows program (.exe)"),
    ("nt-exe-accepted", "nt", "geogen.exe", "exec", None),
    ("nt-EXE-upper-accepted", "nt", "GEOGEN.EXE", "plain", None),
    ("nt-folder-refused", "nt", "geogen.exe", "dir", "not an executable file"),
    ("nt-missing-refused", "nt", "geogen.exe", "missing", "does not exist"),
    ("posix-exec-accepted", "posix", "geogen", "exec", None),
    ("posix-no-x-refused", "posix", "geogen", "plain", "no execute permission"),
    ("posix-folder-refused", "posix", "geogen", "dir", "not an executable file"),
    ("posix-missing-refused", "posix", "geogen", "missing", "does not exist"),
]


@pytest.mark.parametrize(
    ("name", "os_name", "file_name", "kind", "fragment"), PATH_CASES, ids=[c[0] for c in PATH_CASES]
)
def test_backend_path_battery(name, os_name, file_name, kind, fragment, tmp_path: Path):
    if os_name == "posix" and sys.platform == "win32":
        pytest.skip("POSIX permission rules")
    path = make(tmp_path, file_name, kind)
    if fragment is None:
        assert check_program(path, "the test", os_name=os_name) == path
        return
    with pytest.raises(BackendNotFoundError) as err:
        check_program(path, "the test", os_name=os_name)
    message = str(err.value)
    assert fragment in message and str(path) in message and "the test" in message
    assert "\n" not in message


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission rules")
@pytest.mark.parametrize(
    ("name", "layout", "fragment"),
    [
        ("env-var-not-executable", "plain-file", "GEOGEN_BACKEND environment variable"),
        ("env-var-venv-without-x", "venv-plain", "no execute permission"),
        ("env-var-venv-empty", "venv-empty", "not an executable file"),
        ("env-var-venv-ok", "venv-exec", None),
    ],
)
def test_find_backend_battery(name, layout, fragment, tmp_path: Path):
    venv = tmp_path / "venv"
    exe = venv / "bin" / "geogen"
    target = venv
    if layout == "plain-file":
        target = make(tmp_path, "geogen", "plain")
    elif layout.startswith("venv"):
        exe.parent.mkdir(parents=True)
        if layout != "venv-empty":
            make(exe.parent, "geogen", "exec" if layout == "venv-exec" else "plain")
    environ = {"GEOGEN_BACKEND": str(target)}
    if fragment is None:
        assert find_backend("", environ).command == (str(exe),)
        return
    with pytest.raises(BackendNotFoundError) as err:
        find_backend("", environ)
    assert fragment in str(err.value)


def test_two_runs_in_one_folder_never_read_each_others_job(tmp_path: Path) -> None:
    """Each run starts the backend on its own job file; job.json is only a copy of the latest."""
    first = write_job({"task": "sketch", "seed": 1}, tmp_path)
    second = write_job({"task": "sketch", "seed": 2}, tmp_path)
    assert first != second and first.parent == second.parent == tmp_path
    assert json.loads(first.read_text(encoding="utf-8"))["seed"] == 1
    assert json.loads(second.read_text(encoding="utf-8"))["seed"] == 2
    assert json.loads((tmp_path / "job.json").read_text(encoding="utf-8"))["seed"] == 2
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
