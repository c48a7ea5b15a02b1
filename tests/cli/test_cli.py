"""The CLI end to end: real commands, real data, and every user mistake as one clear line with a non-zero exit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from geogen.cli.main import cli

SAMPLE = Path(__file__).resolve().parents[2] / "geogen" / "data" / "sample_s2"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def scene() -> Path:
    return next(p for p in SAMPLE.iterdir() if p.is_dir())


def invoke(runner: CliRunner, *args: str):
    return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_user_error(result, fragment: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("geogen: error: "), result.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_superres_writes_georeferenced_10m_stack(runner, scene, tmp_path):
    out = tmp_path / "sharp.tif"
    r = invoke(runner, "superres", scene, "-o", out, "--progress", "none")
    assert r.exit_code == 0, r.output
    with rasterio.open(scene / f"{scene.name}_B02.tif") as b02, rasterio.open(out) as ds:
        assert ds.crs == b02.crs and ds.transform == b02.transform and ds.shape == b02.shape
        assert ds.count == 12 and ds.descriptions[:4] == ("B01", "B02", "B03", "B04")
        np.testing.assert_array_equal(ds.read(2), b02.read(1))  # 10 m bands pass through untouched
        assert ds.tags()["GEOGEN_SYNTHETIC"] == "NO"
    record = json.loads((tmp_path / "sharp.result.json").read_text())
    assert record["outputs"][0]["path"] == str(out) and record["task"] == "superres"
    assert record["engine"] == "sharpen" and len(record["spec_hash"]) == 64


def test_run_job_file_with_jsonl_progress(runner, scene, tmp_path):
    job = tmp_path / "job" / "job.json"
    job.parent.mkdir()
    job.write_text(
        json.dumps({"task": "superres", "input": str(scene), "output": {"dir": "out", "name": "s"}})
    )
    r = invoke(runner, "run", job, "--progress", "jsonl")
    assert r.exit_code == 0, r.output
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert events[0]["type"] == "start"
    progress = [e for e in events if e["type"] == "progress"]
    assert progress and progress[-1]["done"] == progress[-1]["total"]
    assert events[-1]["type"] == "result"
    assert Path(events[-1]["result_path"]) == tmp_path / "job" / "out" / "result.json"
    assert (tmp_path / "job" / "out" / "s.tif").exists()


def test_jsonl_error_event(runner, tmp_path):
    r = invoke(runner, "run", tmp_path / "missing.json", "--progress", "jsonl")
    assert r.exit_code == 2
    event = json.loads(r.stdout.splitlines()[-1])
    assert event == {
        "type": "error",
        "error": "InputFileError",
        "message": f"job file not found: {tmp_path / 'missing.json'}",
    }


def _no_crs_raster(path: Path) -> None:
    with rasterio.open(path, "w", driver="GTiff", width=8, height=8, count=1, dtype="uint16") as ds:
        ds.write(np.ones((1, 8, 8), np.uint16))


def test_user_errors(runner, scene, tmp_path):
    out = tmp_path / "o.tif"
    assert_user_error(invoke(runner, "superres", tmp_path / "nope", "-o", out), "not found")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_user_error(invoke(runner, "superres", empty, "-o", out), "no Sentinel-2 band")
    nocrs = tmp_path / "nocrs"
    nocrs.mkdir()
    _no_crs_raster(nocrs / "T_B02.tif")
    assert_user_error(invoke(runner, "superres", nocrs, "-o", out), "CRS")
    assert_user_error(
        invoke(runner, "superres", scene, "-o", out, "--engine", "magic"), "unknown engine 'magic'"
    )
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"task": "superres",')
    assert_user_error(invoke(runner, "run", bad_json), "not valid JSON")
    wrong = tmp_path / "wrong.json"
    wrong.write_text(
        json.dumps(
            {"task": "superres", "input": str(scene), "output": {"dir": str(tmp_path)}, "target_gsd": -5}
        )
    )
    assert_user_error(invoke(runner, "run", wrong), "target_gsd")
    out.write_bytes(b"x")
    assert_user_error(invoke(runner, "superres", scene, "-o", out), "output exists")
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    assert_user_error(
        invoke(runner, "superres", scene, "-o", blocker / "x" / "o.tif"), "cannot create output folder"
    )
    assert not list((tmp_path).glob("*.partial*"))


def test_bands_of_different_extents(runner, scene, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(scene, bad)
    b05 = next(bad.glob("*_B05.tif"))
    with rasterio.open(b05) as ds:
        profile, data = ds.profile, ds.read()
    profile["transform"] = profile["transform"] @ profile["transform"].translation(3, 0)
    with rasterio.open(b05, "w", **profile) as ds:
        ds.write(data)
    assert_user_error(invoke(runner, "superres", bad, "-o", tmp_path / "o.tif"), "B05")


def test_area_beyond_the_limit_says_tiles_and_time(runner, scene, tmp_path):
    job = tmp_path / "job.json"
    job.write_text(
        json.dumps(
            {
                "task": "superres",
                "input": str(scene),
                "output": {"dir": str(tmp_path)},
                "max_tiles": 1,
                "options": {"tile": 64},
            }
        )
    )
    r = invoke(runner, "run", job)
    assert_user_error(r, "above the limit of 1")
    assert "roughly" in r.stderr
    assert not (tmp_path / "geogen.tif").exists()


def test_aoi_outside_scene(runner, scene, tmp_path):
    r = invoke(
        runner, "superres", scene, "-o", tmp_path / "o.tif", "--aoi", "0,0,1,1", "--aoi-crs", "EPSG:4326"
    )
    assert r.exit_code == 2 and "geogen: error:" in r.stderr


def test_info_and_schema(runner):
    r = invoke(runner, "info", "--json")
    info = json.loads(r.stdout)
    assert {"superres", "sketch"} <= set(info["tasks"])
    assert any(e["name"] == "sharpen" and e["default"] for e in info["engines"])
    schema = json.loads(invoke(runner, "job-schema").stdout)
    assert "discriminator" in json.dumps(schema)


def test_cancel_by_file_and_signal_leaves_nothing(tmp_path, scene):
    """A real `geogen run` process: a cancel file stops it at the next tile, exit 130, no final output."""
    big = tmp_path / "big.json"
    big.write_text(
        json.dumps(
            {
                "task": "superres",
                "input": str(scene),
                "engine": "sharpen-cnn",
                "output": {"dir": str(tmp_path / "out"), "name": "c"},
                "options": {"tile": 64, "iterations": 3000},
            }
        )
    )
    exe = Path(sys.executable).parent / ("geogen.exe" if os.name == "nt" else "geogen")
    proc = subprocess.Popen(
        [str(exe), "run", str(big), "--progress", "jsonl"], stdout=subprocess.PIPE, text=True
    )
    try:
        first = proc.stdout.readline()
        assert json.loads(first)["type"] == "start"
        (tmp_path / "out" / "cancel").write_text("")
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    tail = [json.loads(ln) for ln in proc.stdout.read().splitlines() if ln.strip()]
    assert rc == 130 and tail[-1]["type"] == "error" and tail[-1]["error"] == "CancelledError"
    assert not (tmp_path / "out" / "c.tif").exists()
    assert not list((tmp_path / "out").glob(".*partial*"))


@pytest.mark.skipif(os.name == "nt", reason="POSIX signal delivery")
def test_sigterm_cancels_cleanly(tmp_path, scene):
    import signal

    job = tmp_path / "j.json"
    job.write_text(
        json.dumps(
            {
                "task": "superres",
                "input": str(scene),
                "engine": "sharpen-cnn",
                "output": {"dir": str(tmp_path / "out"), "name": "t"},
                "options": {"tile": 64, "iterations": 3000},
            }
        )
    )
    exe = Path(sys.executable).parent / "geogen"
    proc = subprocess.Popen(
        [str(exe), "run", str(job), "--progress", "jsonl"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert json.loads(proc.stdout.readline())["type"] == "start"
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == 130
    assert not (tmp_path / "out" / "t.tif").exists()
    assert not list((tmp_path / "out").glob(".*partial*"))


def test_bad_option_values_are_user_errors(runner, scene, tmp_path):
    assert_user_error(invoke(runner, "superres", scene, "-o", tmp_path / "a.png"), "output must be a .tif")
    assert_user_error(
        invoke(runner, "superres", scene, "-o", tmp_path / "a.tif", "--date", "foo"), "PATH=YYYY"
    )
    r = invoke(runner, "superres", scene, "-o", tmp_path / "a.tif", "--aoi", "3,2,1,4")
    assert r.exit_code == 2 and "empty or inverted" in r.stderr and "pydantic" not in r.stderr
