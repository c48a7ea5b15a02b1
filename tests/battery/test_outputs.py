"""Battery, cluster A (issue 10): who owns an output. Items 1 (two jobs, one name), 2 (cancel during the warp),
4 (the result record is never replaced without overwrite), 8 (partials of killed jobs), 9 (files named `cancel`)
and the "Each job owns its outputs" / "Crash recovery" rules, run against the real CLI in subprocesses
(``python -m geogen.cli.main``), on the bundled Sentinel-2 patch, a FLAIR mask and a larger scene tiled from the
patch (so that a job runs long enough to be cancelled or killed mid-way).

Contract under test (README, job section; geogen/io/claims.py): final names are claimed at the start with
``.<name>.geogen-claim``; partial files carry ``<job id>-<pid>-<host>``; ``cancel-<job id>`` cancels one job,
``cancel`` every job of the folder that started before it appeared; ``geogen clean`` removes dead jobs' debris.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

REPO = Path(__file__).resolve().parents[2]
SAMPLE_S2 = REPO / "geogen" / "data" / "sample_s2" / "S2A_MSIL2A_20170613T101031_87_48"
MASK = REPO / "tests" / "data" / "flair1_aerial_masks" / "MSK_067998.tif"
CLI = [sys.executable, "-m", "geogen.cli.main"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "HF_HUB_OFFLINE": "1"}
ENV.pop("GEOGEN_JOB_ID", None)
TIMEOUT = 300


def geogen(
    *args: Any, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *map(str, args)],
        capture_output=True,
        text=True,
        env={**ENV, **(env or {})},
        timeout=TIMEOUT,
        cwd=cwd,
    )


def spawn(*args: Any, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [*CLI, *map(str, args), "--progress", "jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**ENV, **(env or {})},
    )


def read_until(proc: subprocess.Popen, pred: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    """Read the job's JSON lines until one satisfies ``pred``; returns it (None: the job ended first)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        if pred(event):
            return event
    return None


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=TIMEOUT)
    return proc.returncode, out, err


def listing(folder: Path) -> set[str]:
    """Every name in ``folder``, hidden ones included."""
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("geogen: error: "), stderr
    return lines[0]


def pixels(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read()


@pytest.fixture(scope="module")
def big_scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample patch tiled 12 x 12 (1440 x 1440 px at 10 m): a job of a few seconds, a warp of 6+ strips."""
    dst = tmp_path_factory.mktemp("big") / SAMPLE_S2.name
    dst.mkdir()
    for src in sorted(SAMPLE_S2.iterdir()):
        if src.suffix.lower() != ".tif":
            shutil.copy(src, dst / src.name)
            continue
        with rasterio.open(src) as ds:
            profile, data = ds.profile, ds.read()
        reps = 12
        data = np.tile(data, (1, reps, reps))
        profile.update(width=data.shape[2], height=data.shape[1], tiled=True, blockxsize=256, blockysize=256)
        with rasterio.open(dst / src.name, "w", **profile) as out:
            out.write(data)
    return dst


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def host() -> str:
    from geogen.io.claims import host_tag

    return host_tag()


# --- table: one command, its exit code, its message, what is left ------------------------------------------

Setup = Callable[[Path], None]


def _user_settings(d: Path) -> None:
    (d / "settings.json").write_text('{"mine": true}\n')


def _old_result(d: Path) -> None:
    (d / "s.result.json").write_text('{"earlier": "run"}\n')


def _stale_cancel(d: Path) -> None:
    (d / "cancel").write_text("left by an earlier run\n")
    old = time.time() - 3600
    os.utime(d / "cancel", (old, old))


def _cancel_dir(d: Path) -> None:
    (d / "cancel").mkdir()
    (d / "cancel" / "keep.txt").write_text("mine")


def _cancel_txt(d: Path) -> None:
    (d / "cancel.txt").write_text("my notes")


def _dead_debris(d: Path) -> None:
    pid, h = dead_pid(), host()
    (d / f".s.blocks-1a2b3c4d.deadjob00000-{pid}-{h}.partial.tif").write_bytes(b"x" * 1000)
    (d / f".s.blocks-1a2b3c4d.deadjob00000-{pid}-{h}.partial.tif.aux.xml").write_text("<x/>")
    (d / ".s.tif.geogen-claim").write_text(json.dumps({"job": "deadjob00000", "pid": pid, "host": h}))


def _job_file(d: Path, **output: Any) -> Path:
    job = {"task": "superres", "input": str(SAMPLE_S2), "output": {"dir": str(d), "name": "s", **output}}
    (d / "job.json").write_text(json.dumps(job))
    return d / "job.json"


CASES: list[tuple[str, Setup | None, list[str], int, str, set[str]]] = [
    # item 4: a job's "result" naming a user's file is refused without overwrite; the file is untouched
    (
        "result-names-a-user-file",
        _user_settings,
        ["run", "{job:result=settings.json}"],
        2,
        "settings.json",
        {"settings.json", "job.json"},
    ),
    # item 4: <stem>.result.json of an earlier run is not replaced without --overwrite
    (
        "result-record-exists",
        _old_result,
        ["superres", SAMPLE_S2, "-o", "{d}/s.tif"],
        2,
        "s.result.json",
        {"s.result.json"},
    ),
    # ... and is with --overwrite
    (
        "result-record-overwrite",
        _old_result,
        ["superres", SAMPLE_S2, "-o", "{d}/s.tif", "--overwrite"],
        0,
        "",
        {"s.tif", "s.result.json"},
    ),
    # item 9: a stale `cancel` (older than the job) neither stops the job nor is deleted
    (
        "stale-cancel-file",
        _stale_cancel,
        ["superres", SAMPLE_S2, "-o", "{d}/s.tif"],
        0,
        "",
        {"s.tif", "s.result.json", "cancel"},
    ),
    # item 9: a directory named `cancel` is not a cancel request, and is left alone
    (
        "cancel-directory",
        _cancel_dir,
        ["superres", SAMPLE_S2, "-o", "{d}/s.tif"],
        0,
        "",
        {"s.tif", "s.result.json", "cancel"},
    ),
    # item 9: a user's `cancel.txt` is untouched
    (
        "cancel-txt-untouched",
        _cancel_txt,
        ["superres", SAMPLE_S2, "-o", "{d}/s.tif"],
        0,
        "",
        {"s.tif", "s.result.json", "cancel.txt"},
    ),
    # item 8: a dead job's partials and claim on the same name are removed by the next run, which succeeds
    (
        "dead-debris-swept-by-next-run",
        _dead_debris,
        ["superres", SAMPLE_S2, "-o", "{d}/s.tif"],
        0,
        "",
        {"s.tif", "s.result.json"},
    ),
    # item 8: `geogen clean` removes them and lists them
    ("clean-removes-dead-debris", _dead_debris, ["clean", "{d}"], 0, "", set()),
    ("clean-missing-folder", None, ["clean", "{d}/nope"], 2, "does not exist", set()),
    # bad GEOGEN_JOB_ID: one line, nothing written
    (
        "bad-job-id",
        None,
        ["superres", SAMPLE_S2, "-o", "{d}/s.tif", "--env", "GEOGEN_JOB_ID=../x"],
        2,
        "GEOGEN_JOB_ID",
        set(),
    ),
]


@pytest.mark.parametrize(
    ("name", "setup", "args", "code", "message", "left"), CASES, ids=[c[0] for c in CASES]
)
def test_case(
    tmp_path: Path, name: str, setup: Setup | None, args: list[Any], code: int, message: str, left: set[str]
) -> None:
    d = tmp_path / "out"
    d.mkdir()
    if setup is not None:
        setup(d)
    before = {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}
    env: dict[str, str] = {}
    argv: list[str] = []
    it = iter(args)
    for a in it:
        if a == "--env":
            k, v = next(it).split("=", 1)
            env[k] = v
        elif str(a).startswith("{job:"):
            output = dict(kv.split("=", 1) for kv in str(a)[5:-1].split(","))
            argv.append(str(_job_file(d, **output)))
        else:
            argv.append(str(a).replace("{d}", str(d)))
    r = geogen(*argv, env=env)
    assert r.returncode == code, (r.stdout, r.stderr)
    if code != 0:
        assert message in one_error_line(r.stderr)
    assert listing(d) == left
    replaced = {"s.tif", "s.result.json"} if code == 0 else set()
    for (
        n,
        content,
    ) in before.items():  # what was there is untouched (but the outputs a job succeeded to write)
        if n in left and n not in replaced:
            assert (d / n).read_bytes() == content, n
    if name == "clean-removes-dead-debris":
        assert r.stdout.count("removed ") == 3, r.stdout
    if name == "cancel-directory":
        assert (d / "cancel" / "keep.txt").read_text() == "mine"


# --- two jobs, one output name (item 1) ---------------------------------------------------------------------


def test_two_jobs_on_one_name_one_wins_the_other_says_so(tmp_path: Path) -> None:
    out = tmp_path / "out" / "same.tif"
    procs = {seed: spawn("sketch", MASK, "-o", out, "--seed", seed) for seed in (1, 2)}
    results = {seed: finish(p) for seed, p in procs.items()}
    winners = [s for s, (rc, _, _) in results.items() if rc == 0]
    assert len(winners) == 1, {s: (rc, err) for s, (rc, _, err) in results.items()}
    loser = 3 - winners[0]
    rc, _, err = results[loser]
    assert rc == 2 and f"{out} " in one_error_line(err)
    assert "being written by another geogen job" in err or "output exists" in err
    record = json.loads((tmp_path / "out" / "same.result.json").read_text())
    printed = json.loads(results[winners[0]][1].splitlines()[-1])["result"]
    assert record == printed  # the record on disk is the winner's
    with rasterio.open(out) as ds:
        assert ds.tags()["GEOGEN_SEED"] == str(winners[0])
        assert (ds.width, ds.height) == (record["outputs"][0]["width"], record["outputs"][0]["height"])
        ds.read()  # complete
    assert listing(tmp_path / "out") == {"same.tif", "same.result.json"}


def test_job_holding_a_name_refuses_a_second_one_at_start(tmp_path: Path, big_scene: Path) -> None:
    d = tmp_path / "out"
    first = spawn("superres", big_scene, "-o", d / "s.tif")
    assert read_until(first, lambda e: e["type"] == "progress") is not None
    second = geogen("superres", big_scene, "-o", d / "s.tif", "--overwrite")
    assert second.returncode == 2
    line = one_error_line(second.stderr)
    assert "being written by another geogen job" in line and f"{d / 's.tif'} " in line
    rc, _, err = finish(first)
    assert rc == 0, err
    assert listing(d) == {"s.tif", "s.result.json"}


# --- cancel (items 2, 3, 9) ----------------------------------------------------------------------------------


def test_cancel_during_the_warp_leaves_no_final_file(tmp_path: Path, big_scene: Path) -> None:
    d = tmp_path / "out"
    proc = spawn("superres", big_scene, "-o", d / "s.tif", "--out-crs", "EPSG:4326")
    start = read_until(proc, lambda e: e["type"] == "start")
    assert start is not None
    seen = read_until(proc, lambda e: e.get("stage") == "reproject")
    assert seen is not None, "the job never reached the warp"
    Path(start["cancel_file"]).write_text("")
    rc, out, err = finish(proc)
    assert rc == 130 and "job cancelled" in one_error_line(err)
    assert json.loads(out.splitlines()[-1])["error"] == "CancelledError"
    assert listing(d) == set()  # no image, no record, no partial, no claim; its own cancel file consumed


def test_folder_wide_cancel_made_after_the_start_stops_the_job(tmp_path: Path, big_scene: Path) -> None:
    d = tmp_path / "out"
    proc = spawn("superres", big_scene, "-o", d / "s.tif", "--out-crs", "EPSG:3035")
    assert read_until(proc, lambda e: e["type"] == "progress") is not None
    (d / "cancel").write_text("")
    rc, _, err = finish(proc)
    assert rc == 130, err
    assert listing(d) == {"cancel"}  # the request is the user's (or plugin's): never deleted by geogen


def test_per_job_cancel_stops_only_that_job(tmp_path: Path, big_scene: Path) -> None:
    d = tmp_path / "out"
    a = spawn("superres", big_scene, "-o", d / "a.tif", env={"GEOGEN_JOB_ID": "jobaaaa1"})
    b = spawn("superres", big_scene, "-o", d / "b.tif", env={"GEOGEN_JOB_ID": "jobbbbb2"})
    start = read_until(a, lambda e: e["type"] == "start")
    assert start is not None and start["job_id"] == "jobaaaa1"
    assert start["cancel_file"] == str(d / "cancel-jobaaaa1")
    assert read_until(a, lambda e: e["type"] == "progress") is not None
    (d / "cancel-jobaaaa1").write_text("")
    rc_a, _, err_a = finish(a)
    rc_b, _, err_b = finish(b)
    assert rc_a == 130 and "job cancelled" in one_error_line(err_a)
    assert rc_b == 0, err_b
    assert listing(d) == {"b.tif", "b.result.json"}  # A's request consumed, nothing of A left
    pixels(d / "b.tif")


def test_cancel_requested_before_the_start_with_a_chosen_job_id(tmp_path: Path) -> None:
    d = tmp_path / "out"
    d.mkdir()
    (d / "cancel-early0001").write_text("")
    r = geogen("superres", SAMPLE_S2, "-o", d / "s.tif", env={"GEOGEN_JOB_ID": "early0001"})
    assert r.returncode == 130 and "job cancelled" in one_error_line(r.stderr)
    assert listing(d) == set()


# --- crashes (item 8) ---------------------------------------------------------------------------------------


def test_kill_9_then_rerun_gives_the_same_pixels_and_no_debris(tmp_path: Path, big_scene: Path) -> None:
    ref = tmp_path / "ref"
    r = geogen("superres", big_scene, "-o", ref / "s.tif", "--out-crs", "EPSG:3035")
    assert r.returncode == 0, r.stderr
    d = tmp_path / "out"
    proc = spawn("superres", big_scene, "-o", d / "s.tif", "--out-crs", "EPSG:3035")
    assert read_until(proc, lambda e: e["type"] == "progress") is not None
    proc.kill()
    proc.wait(timeout=60)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    proc.stderr.close()
    assert "s.tif" not in listing(d)
    left = listing(d)
    assert any(n.endswith(".geogen-claim") for n in left), left  # the dead job's claim is there...
    r = geogen("superres", big_scene, "-o", d / "s.tif", "--out-crs", "EPSG:3035")
    assert r.returncode == 0, r.stderr  # ... and taken over: no "being written by another job"
    assert listing(d) == {"s.tif", "s.result.json"}
    assert np.array_equal(pixels(d / "s.tif"), pixels(ref / "s.tif"))


def test_clean_removes_a_dead_jobs_partials_not_a_live_ones(tmp_path: Path, big_scene: Path) -> None:
    d = tmp_path / "out"
    live = spawn("superres", big_scene, "-o", d / "live.tif", "--out-crs", "EPSG:3035")
    assert read_until(live, lambda e: e["type"] == "progress") is not None
    pid, h = dead_pid(), host()
    dead = [
        d / f".x.blocks-1a2b3c4d.deadjob00000-{pid}-{h}.partial.tif",
        d / f".x.cog-5e6f7a8b.deadjob00000-{pid}-{h}.partial.tif",
        d / ".x.tif.geogen-claim",
    ]
    for p in dead[:2]:
        p.write_bytes(b"half")
    dead[2].write_text(json.dumps({"job": "deadjob00000", "pid": pid, "host": h}))
    live_files = {n for n in listing(d) if "partial" in n or n.endswith(".geogen-claim")}
    assert ".live.tif.geogen-claim" in live_files
    r = geogen("clean", d)
    assert r.returncode == 0, r.stderr
    assert all(f"removed {p}" in r.stdout for p in dead), r.stdout
    assert not any(p.exists() for p in dead)
    assert (d / ".live.tif.geogen-claim").exists()  # the live job's claim (and partials) are kept
    assert "kept " in r.stdout
    rc, _, err = finish(live)
    assert rc == 0, err  # and it finishes normally
    assert listing(d) == {"live.tif", "live.result.json"}


# --- overwrite that fails: the previous files come back (review fix) ---------------------------------------


def test_failed_overwrite_puts_the_previous_image_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from geogen.cli.main import cli
    from geogen.job import runner

    d = tmp_path / "out"
    r = geogen("sketch", MASK, "-o", d / "m.tif", "--seed", 1)
    assert r.returncode == 0, r.stderr
    before = {n: (d / n).read_bytes() for n in ("m.tif", "m.result.json")}

    def no_record(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")  # the record fails after the image was committed

    monkeypatch.setattr(runner, "write_json_atomic", no_record)
    res = CliRunner().invoke(cli, ["sketch", str(MASK), "-o", str(d / "m.tif"), "--seed", "2", "--overwrite"])
    assert res.exit_code != 0
    assert listing(d) == {"m.tif", "m.result.json"}
    assert {n: (d / n).read_bytes() for n in before} == before  # byte-identical: nothing of the failed job
