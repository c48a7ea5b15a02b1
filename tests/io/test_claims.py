"""Output ownership (issue 10): claims, no-replace commits, per-job partials, cancel files, the strip-wise warp."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.enums import ColorInterp
from rasterio.vrt import WarpedVRT
from rasterio.warp import Resampling

from geogen.errors import CancelledError, OutputError
from geogen.io import claims
from geogen.io.geotiff import GeoTIFFWriter, commit_file, prepare_output, reproject_file, temp_sibling
from geogen.job.runner import CancelToken
from tiles import Grid

GRID = Grid(300, 200, Affine(10, 0, 500000, 0, -10, 5100000), "EPSG:32633")


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_pid_alive() -> None:
    assert claims.pid_alive(os.getpid())
    assert not claims.pid_alive(_dead_pid())
    assert not claims.pid_alive(0)


def test_partial_names_carry_their_owner(tmp_path: Path) -> None:
    with claims.job_scope("abcd1234"):
        p = temp_sibling(tmp_path / "x.tif", "blocks")
    assert (
        p.name.startswith(".x.blocks-")
        and f".abcd1234-{os.getpid()}-{claims.host_tag()}.partial.tif" in p.name
    )
    assert claims.is_partial(p)


def test_commit_without_overwrite_never_replaces_a_file_made_meanwhile(tmp_path: Path) -> None:
    out = tmp_path / "o.tif"
    with (
        claims.job_scope("job00001"),
        pytest.raises(OutputError, match="output exists"),
        GeoTIFFWriter(out, GRID, 1, "uint8") as w,
    ):
        w.write(GRID.full_window, np.ones((1, 200, 300)))
        out.write_bytes(b"someone else's")  # another program took the name after the start
    assert out.read_bytes() == b"someone else's"
    assert {p.name for p in tmp_path.iterdir()} == {"o.tif"}  # no partial, no claim left


def test_failed_job_removes_what_it_committed_and_its_claims(tmp_path: Path) -> None:
    out = tmp_path / "o.tif"
    with pytest.raises(RuntimeError), claims.job_scope("job00002"):
        with GeoTIFFWriter(out, GRID, 1, "uint8") as w:
            w.write(GRID.full_window, np.ones((1, 200, 300)))
        assert out.exists() and claims.claim_file(out).exists()
        raise RuntimeError("the result record could not be written")
    assert list(tmp_path.iterdir()) == []


def test_commit_checks_the_cancel_token_first(tmp_path: Path) -> None:
    token = CancelToken()
    tmp = tmp_path / "t.json"
    tmp.write_text("{}")
    with pytest.raises(CancelledError), claims.job_scope("job00003", check=token.check):
        prepare_output(tmp_path / "r.json", overwrite=False)
        token.set()
        commit_file(tmp, tmp_path / "r.json")
    assert not (tmp_path / "r.json").exists()


def test_a_live_claim_refuses_a_dead_one_is_taken_over(tmp_path: Path) -> None:
    out = tmp_path / "o.tif"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        cf = claims.claim_file(out)
        cf.write_text(json.dumps({"job": "other0001", "pid": sleeper.pid, "host": claims.host_tag()}))
        held = f"being written by another geogen job \\(pid {sleeper.pid}\\)"
        with pytest.raises(OutputError, match=held), claims.job_scope("job00004"):
            prepare_output(out, overwrite=True)
        assert json.loads(cf.read_text())["job"] == "other0001"  # not released by the refused job
    finally:
        sleeper.kill()
        sleeper.wait()
    with claims.job_scope("job00005"):
        prepare_output(out, overwrite=True)
        assert json.loads(cf.read_text())["job"] == "job00005"
    assert not cf.exists()


def test_sweep_keeps_live_and_foreign_host_files(tmp_path: Path) -> None:
    h, dead = claims.host_tag(), _dead_pid()
    names = {
        f".a.blocks-00000000.deadjob1-{dead}-{h}.partial.tif": True,
        f".a.blocks-00000000.livejob1-{os.getpid()}-{h}.partial.tif": True,  # this process, no such job: stale
        f".a.blocks-00000000.farjob01-{dead}-ffffff.partial.tif": False,  # another host: only age tells
        "cancel": False,
        "cancel.txt": False,
        "cancel-deadjob1": False,  # recent
    }
    for n in names:
        (tmp_path / n).write_text("x")
    old = time.time() - 2 * 86400
    legacy = tmp_path / ".b.blocks.0123abcd.partial.tif"
    legacy.write_text("x")
    os.utime(legacy, (old, old))
    removed = {p.name for p in claims.sweep(tmp_path)}
    assert removed == {n for n, stale in names.items() if stale} | {legacy.name}


def test_cancel_token_files(tmp_path: Path) -> None:
    (tmp_path / "cancel").mkdir()  # a folder named cancel: not a request
    t = CancelToken()
    t.watch(tmp_path, "job00006")
    assert not t.requested()
    (tmp_path / "cancel").rmdir()
    (tmp_path / "cancel").write_text("")  # made after the start: every job of the folder
    assert t.requested()
    t2 = CancelToken()
    t2.watch(tmp_path, "job00007")  # the same file is stale for a job started after it
    assert not t2.requested()
    (tmp_path / "cancel-job00007").write_text("")
    assert t2.requested() and not CancelToken(tmp_path / "cancel").requested()
    t2.release()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cancel"]


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:3035"])
@pytest.mark.parametrize("kind", ["rgba", "u16"])
def test_warp_in_strips_gives_the_pixels_of_a_one_call_copy(tmp_path: Path, crs: str, kind: str) -> None:
    rng = np.random.default_rng(0)
    grid = Grid(700, 600, GRID.transform, GRID.crs)
    src = tmp_path / "s.tif"
    valid = np.ones((600, 700), bool)
    valid[:, :90] = False
    if kind == "rgba":
        kw = {"alpha": True, "colorinterp": [ColorInterp.red, ColorInterp.green, ColorInterp.blue]}
        with GeoTIFFWriter(src, grid, 3, "uint8", **kw) as w:  # type: ignore[arg-type]
            w.write(grid.full_window, rng.integers(0, 255, (3, 600, 700)), valid)
    else:
        with GeoTIFFWriter(src, grid, 4, "uint16", nodata=0) as w:
            w.write(grid.full_window, rng.integers(1, 9999, (4, 600, 700)), valid)
    steps: list[tuple[int, int]] = []
    got = reproject_file(src, tmp_path / "strips.tif", crs, progress=lambda d, n: steps.append((d, n)))
    assert len(steps) >= 2 and steps[-1][0] == steps[-1][1]
    ref = tmp_path / "ref.tif"  # what the warp was before it had cancellation points: one GDAL copy
    with rasterio.open(src) as s, WarpedVRT(s, crs=crs, resampling=Resampling.bilinear) as vrt:
        rasterio.shutil.copy(vrt, ref, driver="GTiff", tiled=True, compress="DEFLATE", bigtiff="IF_SAFER")
    with rasterio.open(got) as a, rasterio.open(ref) as b:
        assert (a.width, a.height, a.transform, a.crs, a.nodata) == (
            b.width,
            b.height,
            b.transform,
            b.crs,
            b.nodata,
        )
        assert np.array_equal(a.read(), b.read())


def test_cancel_during_a_warp_stops_at_the_next_strip(tmp_path: Path) -> None:
    grid = Grid(400, 900, GRID.transform, GRID.crs)
    src = tmp_path / "s.tif"
    with GeoTIFFWriter(src, grid, 1, "uint8") as w:
        w.write(grid.full_window, np.ones((1, 900, 400)))
    token = CancelToken()

    def progress(done: int, total: int) -> None:
        token.check()
        token.set()

    with pytest.raises(CancelledError), claims.job_scope("job00008", check=token.check):
        reproject_file(src, tmp_path / "d.tif", "EPSG:4326", progress=progress)
    assert {p.name for p in tmp_path.iterdir()} == {"s.tif"}
