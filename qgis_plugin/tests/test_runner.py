"""The backend runner: finding the backend, the JSON-lines protocol, and every way a process can go wrong
(fake backends: hang, crash, garbage, error), with real QProcess."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from qgis_plugin.common.errors import BackendError, BackendNotFoundError, JobCancelledError
from qgis_plugin.common.job import RunOptions, superres_job, write_job
from qgis_plugin.runner.backend import INSTALL_HINT, Backend, clean_environment, find_backend
from qgis_plugin.runner.info import backend_info
from qgis_plugin.runner.process import remove_partials, run_job
from qgis_plugin.runner.protocol import LineSplitter, parse_line, progress_percent
from qgis_plugin.tests.helpers import FAKE_BACKEND


def fake(mode: str) -> Backend:
    return Backend((sys.executable, str(FAKE_BACKEND), mode), "test")


@pytest.fixture()
def job_file(tmp_path: Path) -> Path:
    return write_job(superres_job("/nowhere/s2.tif", RunOptions(name="superres")), tmp_path / "job")


def process_alive(pid: int) -> bool:
    """Whether ``pid`` still runs (POSIX: signal 0; on Windows os.kill would terminate it, so not checked)."""
    if sys.platform == "win32":
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


# --- protocol -------------------------------------------------------------------------------------------
def test_parse_line_accepts_protocol_events_only():
    assert parse_line(b'{"type": "progress", "done": 3, "total": 4, "stage": "tiles"}\n')["done"] == 3
    assert parse_line('{"type": "result", "result": {}}')["type"] == "result"
    assert parse_line(b"Loading weights...") is None
    assert parse_line(b"{broken json") is None
    assert parse_line(b'{"type": "unknown"}') is None
    assert parse_line(b'["type", "progress"]') is None
    assert parse_line(b"\xff\xfe{") is None


def test_progress_percent():
    assert progress_percent({"done": 1, "total": 4}) == 25.0
    assert progress_percent({"done": 9, "total": 4}) == 100.0
    assert progress_percent({"done": 1, "total": 0}) is None
    assert progress_percent({"done": "x", "total": 4}) is None


def test_line_splitter_joins_chunks():
    s = LineSplitter()
    assert s.feed(b'{"type": "pro') == []
    assert s.feed(b'gress"}\r\n{"a"') == [b'{"type": "progress"}']
    assert s.flush() == [b'{"a"']


# --- finding the backend --------------------------------------------------------------------------------
def test_find_backend_order(tmp_path: Path, monkeypatch):
    env_exe, setting_exe = tmp_path / "env-geogen", tmp_path / "setting-geogen"
    for p in (env_exe, setting_exe):
        p.write_text("")
        p.chmod(0o755)
    assert find_backend(str(setting_exe), {"GEOGEN_BACKEND": str(env_exe)}).command == (str(env_exe),)
    found = find_backend(str(setting_exe), {})
    assert found.command == (str(setting_exe),) and "settings" in found.source
    venv = tmp_path / "venv"
    exe = venv / ("Scripts/geogen.exe" if sys.platform == "win32" else "bin/geogen")
    exe.parent.mkdir(parents=True)
    exe.write_text("")
    exe.chmod(0o755)
    assert find_backend(str(venv), {}).command == (str(exe),)  # a venv folder is accepted too


def test_find_backend_explicit_path_missing_is_an_error(tmp_path: Path):
    with pytest.raises(BackendNotFoundError) as err:
        find_backend("", {"GEOGEN_BACKEND": str(tmp_path / "nope" / "geogen")})
    assert "GEOGEN_BACKEND" in str(err.value) and "nope" in str(err.value) and INSTALL_HINT in str(err.value)


def test_find_backend_nothing_found_says_what_to_install(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    with pytest.raises(BackendNotFoundError) as err:
        find_backend("", {})
    assert "pip install geogen" in str(err.value)


def test_clean_environment_is_an_allowlist():
    qgis_vars = ("PYTHONPATH", "PYTHONHOME", "PROJ_LIB", "GDAL_DATA", "QT_PLUGIN_PATH", "QGIS_PREFIX_PATH")
    hostile = ("LD_PRELOAD", "LD_LIBRARY_PATH", "DYLD_INSERT_LIBRARIES", "PYTHONINSPECT", "PYTHONWARNINGS")
    kept = {"PATH": "/bin", "HOME": "/home/u", "OMP_NUM_THREADS": "1", "https_proxy": "http://p:3128"}
    kept |= {"GEOGEN_HOME": "/m", "HF_HUB_OFFLINE": "1", "LC_ALL": "C.UTF-8", "SYSTEMROOT": "C:\\Windows"}
    env = {k: "x" for k in (*qgis_vars, *hostile, "SOMETHING_ELSE", "COMSPEC")} | kept
    cleaned = clean_environment(env)
    assert not set(qgis_vars) & set(cleaned) and not set(hostile) & set(cleaned)
    assert "SOMETHING_ELSE" not in cleaned and "COMSPEC" not in cleaned
    assert {k: cleaned[k] for k in kept} == kept
    assert cleaned["PYTHONUNBUFFERED"] == "1" and cleaned["PYTHONIOENCODING"] == "utf-8"
    assert clean_environment({"PYTHONUNBUFFERED": "0"})["PYTHONUNBUFFERED"] == "1"


def test_backend_child_sees_cleaned_environment(monkeypatch):
    """The variables are really absent in a child started with the backend environment."""
    from qgis.PyQt.QtCore import QProcess

    from qgis_plugin.runner.process import backend_environment

    monkeypatch.setenv("PROJ_LIB", "/qgis/share/proj")
    monkeypatch.setenv("PYTHONPATH", "/qgis/python")
    proc = QProcess()
    proc.setProcessEnvironment(backend_environment())
    proc.start(sys.executable, ["-c", "import json, os; print(json.dumps(sorted(os.environ)))"])
    assert proc.waitForFinished(30000)
    names = json.loads(bytes(proc.readAllStandardOutput()).decode())
    assert "PROJ_LIB" not in names and "PYTHONPATH" not in names
    assert "PATH" in names and "PYTHONUNBUFFERED" in names


def test_backend_info_of_real_backend(real_backend_path: str):
    info = backend_info(Backend((real_backend_path,)), refresh=True)
    assert "superres" in info["tasks"]
    assert any(e["name"] == "sharpen" and e["task"] == "superres" for e in info["engines"])


def test_backend_info_rejects_a_program_that_is_not_geogen():
    with pytest.raises(BackendError, match="not a working geogen backend"):
        backend_info(fake("garbage"), refresh=True)


# --- running: failure modes -----------------------------------------------------------------------------
def test_program_that_does_not_exist(job_file: Path, tmp_path: Path):
    with pytest.raises(BackendError, match="could not start the geogen backend"):
        run_job(Backend((str(tmp_path / "missing" / "geogen"),)), job_file)


def test_hanging_backend_is_killed_on_cancel_and_leaves_nothing(job_file: Path):
    out = job_file.parent
    t0 = time.monotonic()
    with pytest.raises(JobCancelledError) as err:
        run_job(fake("hang"), job_file, is_cancelled=lambda: time.monotonic() - t0 > 1.0, cancel_grace_s=1.0)
    assert err.value.killed
    elapsed = time.monotonic() - t0
    assert elapsed < 6.0  # 1 s before cancel + 1 s grace + kill
    pid = int((out / "pid").read_text())
    assert not process_alive(pid)
    assert not list(out.glob(".*partial*")), "partial files must be removed after a kill"
    assert not list(out.glob(".*.geogen-claim")), "the killed job's claims must be removed"
    assert not list(out.glob("cancel*"))


def test_cooperative_backend_stops_at_the_cancel_file(job_file: Path):
    """The cross-platform protocol: a `cancel` file in the output folder; the backend exits 130 by itself."""
    t0 = time.monotonic()
    with pytest.raises(JobCancelledError) as err:
        run_job(
            fake("cooperative"),
            job_file,
            is_cancelled=lambda: time.monotonic() - t0 > 0.5,
            cancel_grace_s=30.0,
        )
    assert not err.value.killed and time.monotonic() - t0 < 10.0  # stopped by itself, well before 30 s
    assert not list(job_file.parent.glob(".*partial*"))


def test_crashing_backend_reports_exit_code_and_stderr(job_file: Path):
    with pytest.raises(BackendError) as err:
        run_job(fake("crash"), job_file)
    assert err.value.exit_code == 1
    assert "exit code 1" in str(err.value) and "boom in tile 3" in str(err.value)


def test_garbage_output_is_reported_not_trusted(job_file: Path):
    logs = []
    with pytest.raises(BackendError) as err:
        run_job(fake("garbage"), job_file, on_log=lambda level, msg: logs.append(msg))
    assert "not geogen's JSON-lines protocol" in str(err.value)
    assert any("Loading model weights" in m for m in logs)


def test_backend_error_line_becomes_the_message(job_file: Path):
    progress = []
    with pytest.raises(BackendError) as err:
        run_job(fake("error"), job_file, on_progress=lambda p, s: progress.append((p, s)))
    assert str(err.value) == "input not found: /nowhere/s2.tif"
    assert err.value.error_type == "InputFileError" and err.value.exit_code == 2
    assert progress == [(0.0, "tiles")]


def test_real_backend_user_error_is_reported(job_file: Path, real_backend_path: str):
    with pytest.raises(BackendError) as err:
        run_job(Backend((real_backend_path,)), job_file)
    assert err.value.exit_code == 2
    assert "/nowhere/s2.tif" in str(err.value) or "not available" in str(err.value)


def test_remove_partials_only_touches_this_jobs_files(tmp_path: Path):
    me, other = "0f3c9a7b12de", "77aa88bb99cc"
    keep = [
        tmp_path / "a.tif",
        tmp_path / ".hidden",
        tmp_path / "job.json",
        tmp_path / f".a.tif.blocks-1a2b3c4d.{other}-4243-a1b2c3.partial.tif",  # another job, maybe running
        tmp_path / ".a.tif.0a1b2c3d.partial.tif",  # an older backend's partial: not known to be ours
        tmp_path / ".b.tif.geogen-claim",  # another job's claim
        tmp_path / ".c.tif.geogen-claim",  # unreadable claim
        tmp_path / f"{me}.partial.tif",  # not hidden: a user's file
        tmp_path / "cancel",
    ]
    drop = [
        tmp_path / f".a.tif.blocks-1a2b3c4d.{me}-4242-a1b2c3.partial.tif",
        tmp_path / f".a.tif.blocks-1a2b3c4d.{me}-4242-a1b2c3.partial.tif.aux.xml",
        tmp_path / f".result.json.rec-99aa00bb.{me}-4242-a1b2c3.partial.json",
        tmp_path / ".a.tif.geogen-claim",
    ]
    for p in keep + drop:
        p.write_text("x")
    (tmp_path / ".a.tif.geogen-claim").write_text(json.dumps({"job": me, "pid": 4242}))
    (tmp_path / ".b.tif.geogen-claim").write_text(json.dumps({"job": other, "pid": 4243}))
    assert sorted(remove_partials(tmp_path, me)) == sorted(drop)
    assert all(p.exists() for p in keep)
    assert remove_partials(tmp_path, "") == []


def test_installed_models_are_offered_per_task(real_backend_path: str):
    from qgis_plugin.runner.info import models_for

    info = backend_info(Backend((real_backend_path,)), refresh=True)
    assert isinstance(info["models"], list)  # from `geogen models list --json`
    # The kinds' tasks come from the real backend's table (`geogen info --json` model_kinds), never a plugin copy.
    listing = {
        "model_kinds": info["model_kinds"],
        "models": [
            {"name": "dsat", "kind": "diffusionsat", "installed": True},
            {"name": "seg2sat", "kind": "controlnet", "installed": True},
            {"name": "style", "kind": "lora", "installed": True},
            {"name": "broken", "kind": "controlnet", "installed": False},
            {"name": "sr", "kind": "diffusionsat-sr-controlnet"},
        ],
    }
    # as the job's `model`: a ControlNet or a LoRA is not a sketch model (they go to options.controlnet, loras)
    assert models_for(listing, "sketch") == ["dsat"]
    assert models_for(listing, "text") == ["dsat"]
    assert models_for(listing, "temporal") == ["dsat"]
    assert models_for(listing, "superres") == ["dsat", "sr"]
    assert models_for(None, "text") == []


def test_models_listed_by_info_with_their_tasks(real_backend_path: str):
    """`geogen info --json` lists models with {task, engine, field} objects; the 3-D ControlNet is found by the
    backend's own kind table (the plugin keeps no copy of it)."""
    from qgis_plugin.runner.info import kinds_for_field, model_tasks, models_for, models_for_field

    table = backend_info(Backend((real_backend_path,)), refresh=True)["model_kinds"]
    cn3d_kinds = kinds_for_field({"model_kinds": table}, "temporal", "options.controlnet")
    assert cn3d_kinds == ("diffusionsat-3d-controlnet",)
    info = {
        "model_kinds": table,
        "models": [
            {
                "name": "dsat",
                "kind": "diffusionsat",
                "tasks": [{"task": "text", "engine": "diffusionsat"}, {"task": "temporal", "engine": "d3"}],
            },
            {
                "name": "cn3d",
                "kind": "diffusionsat-3d-controlnet",
                "tasks": [{"task": "temporal", "engine": "d3"}],
            },
            {"name": "old", "kind": "controlnet", "tasks": ["sketch"]},
            {"name": "style", "kind": "lora", "tasks": [{"task": "sketch", "engine": "c", "field": "loras"}]},
        ],
    }
    assert model_tasks(info["models"][0]) == ("text", "temporal")
    assert models_for(info, "temporal") == ["dsat", "cn3d"]
    assert models_for(info, "temporal", exclude_kinds=cn3d_kinds) == ["dsat"]
    assert models_for(info, "sketch") == ["old"]  # a LoRA is not a model to pick
    assert models_for_field(info, "temporal", "options.controlnet") == ["cn3d"]
    assert models_for_field(None, "temporal", "options.controlnet") == []
