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
from geogen.io import claims, gdal_env, processes
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
        and f".abcd1234-{os.getpid()}-{claims.host_tag()}" in p.name
        and p.name.endswith(".partial.tif")
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
        "cancel-deadjob1": False,  # a job's own request: the job (or the plugin) removes it, never the sweep
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


# --- review fixes: cancel files, liveness before age, PID reuse, overwrite rollback, datacube, GDAL cache -----


def _old(path: Path, days: float = 3) -> None:
    t = time.time() - days * 86400
    os.utime(path, (t, t))


def test_sweep_never_removes_cancel_files_however_old(tmp_path: Path) -> None:
    names = ["cancel", "cancel-notes", "cancel-2023", "cancel-deadjob1", "cancel-abcd"]
    for n in names:
        (tmp_path / n).write_text("the user's")
        _old(tmp_path / n)
    assert claims.sweep(tmp_path) == []
    assert all(e.kind != "cancel" for e in claims.scan(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


def test_a_live_same_host_owner_is_never_stale_by_age(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.2)
        h, start = claims.host_tag(), processes.process_start(sleeper.pid)
        partial = tmp_path / f".a.blocks-00000000.longjob1-{sleeper.pid}-{h}.partial.tif"
        far = tmp_path / f".a.blocks-00000000.farjob01-{sleeper.pid}-ffffff.partial.tif"
        cf = claims.claim_file(tmp_path / "a.tif")
        cf.write_text(json.dumps({"job": "longjob1", "pid": sleeper.pid, "host": h, "start": start}))
        for p in (partial, far):
            p.write_text("x")
        for p in (partial, far, cf):
            _old(p)  # a CPU diffusion job running for days
        assert {p.name for p in claims.sweep(tmp_path)} == {far.name}  # another host: by age only
        assert partial.exists() and cf.exists()
        with (
            pytest.raises(OutputError, match="being written by another geogen job"),
            claims.job_scope("job00010"),
        ):
            prepare_output(tmp_path / "a.tif", overwrite=True)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_process_start_and_pid_reuse() -> None:
    me = os.getpid()
    assert processes.pid_alive(me, processes.own_start())
    if processes.own_start() is None:
        pytest.skip("this OS does not tell a process's start time")
    assert processes.pid_alive(me, processes.start_tag(processes.own_start()))
    assert not processes.pid_alive(me, "another-boot:12345")  # the PID was reused: the recorded one is gone
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.2)
        start = processes.process_start(sleeper.pid)
        assert processes.pid_alive(sleeper.pid, start) and processes.pid_alive(sleeper.pid)
        assert not processes.pid_alive(sleeper.pid, "0" + (start or ""))
        sleeper.kill()
        time.sleep(0.2)
        assert not processes.pid_alive(sleeper.pid)  # a zombie (not reaped yet) counts as dead
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_claim_or_partial_of_a_reused_pid_is_stale(tmp_path: Path) -> None:
    if processes.own_start() is None:
        pytest.skip("this OS does not tell a process's start time")
    h, me = claims.host_tag(), os.getpid()
    partial = tmp_path / f".a.blocks-00000000.oldjob01-{me}-{h}-abcdef.partial.tif"  # my PID, another start
    partial.write_text("x")
    cf = claims.claim_file(tmp_path / "a.tif")
    cf.write_text(json.dumps({"job": "oldjob01", "pid": me, "host": h, "start": "another-boot:1"}))
    assert {p.name for p in claims.sweep(tmp_path)} == {partial.name, cf.name}
    with claims.job_scope("job00011") as scope:
        prepare_output(tmp_path / "a.tif", overwrite=True)
        rec = json.loads(cf.read_text())
        assert rec["start"] == processes.own_start() and scope.owner.tag.endswith(
            "-" + str(processes.start_tag(rec["start"]))
        )


def test_store_lock_uses_the_same_liveness_check(tmp_path: Path) -> None:
    from geogen.store import lock

    assert lock.pid_alive is processes.pid_alive
    rec = json.loads(lock.owner_record())
    assert rec["start"] == processes.own_start()
    if rec["start"] is not None:
        rec["start"] = "another-boot:1"  # this PID, but another process: the lock's owner is gone
        assert lock.owner_dead(rec, 0.0, 600.0)


@pytest.mark.parametrize("fail", ["error", "cancel"])
def test_a_failed_overwrite_puts_the_previous_file_back(tmp_path: Path, fail: str) -> None:
    out, record = tmp_path / "o.tif", tmp_path / "o.result.json"
    with GeoTIFFWriter(out, GRID, 1, "uint8") as w:
        w.write(GRID.full_window, np.full((1, 200, 300), 7))
    record.write_text('{"previous": true}\n')
    before = out.read_bytes()
    token = CancelToken()
    with (
        pytest.raises(CancelledError if fail == "cancel" else RuntimeError),
        claims.job_scope("job00012", check=token.check),
    ):
        prepare_output(record, overwrite=True)
        with GeoTIFFWriter(out, GRID, 1, "uint8", overwrite=True) as w:
            w.write(GRID.full_window, np.full((1, 200, 300), 9))
        assert out.read_bytes() != before  # committed over the previous file...
        if fail == "cancel":
            token.set()  # cancelled between the image commit and the record's
        else:
            raise RuntimeError("the result record could not be written")
        tmp = temp_sibling(record, "json")
        tmp.write_text("{}")
        commit_file(tmp, record, overwrite=True)
    assert out.read_bytes() == before  # ... and back, byte-identical
    assert record.read_text() == '{"previous": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.result.json", "o.tif"]


def test_a_successful_overwrite_leaves_no_copy_of_the_previous_file(tmp_path: Path) -> None:
    out = tmp_path / "o.tif"
    out.write_bytes(b"previous")
    with claims.job_scope("job00013"), GeoTIFFWriter(out, GRID, 1, "uint8", overwrite=True) as w:
        w.write(GRID.full_window, np.ones((1, 200, 300)))
    assert [p.name for p in tmp_path.iterdir()] == ["o.tif"] and out.read_bytes() != b"previous"


def test_datacube_commit_honours_overwrite(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from geogen.timeseries import datacube

    seen: list[bool] = []
    monkeypatch.setattr(datacube, "build_datacube", lambda *a, **k: _FakeCube())
    monkeypatch.setattr(datacube, "commit_file", lambda tmp, out, overwrite=True: seen.append(overwrite))
    for flag in (False, True):
        datacube.write_datacube(tmp_path / f"c{flag}.nc", GRID, [], overwrite=flag)
    assert seen == [False, True]


class _FakeCube:
    def to_netcdf(self, path: Path, **kwargs: object) -> None:
        Path(path).write_bytes(b"cube")


@pytest.mark.parametrize("value", ["10%", "512MB", "512", "1GB"])
def test_a_user_gdal_cachemax_in_any_form_is_left_alone(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    from rasterio.env import get_gdal_config

    monkeypatch.setenv("GDAL_CACHEMAX", value)
    before = get_gdal_config("GDAL_CACHEMAX")
    with gdal_env.bounded_gdal_cache(10**9) as bound:
        assert bound == 0 and get_gdal_config("GDAL_CACHEMAX") == before
        gdal_env.raise_cache(10**9)
        assert get_gdal_config("GDAL_CACHEMAX") == before
        assert gdal_env.cache_bytes() > 0
    assert get_gdal_config("GDAL_CACHEMAX") == before


def test_gdal_cache_cap_is_restored_and_rasterio_env_is_the_users(monkeypatch: pytest.MonkeyPatch) -> None:
    from rasterio.env import get_gdal_config

    monkeypatch.delenv("GDAL_CACHEMAX", raising=False)
    before = get_gdal_config("GDAL_CACHEMAX")
    assert gdal_env.cache_bytes() == gdal_env.DEFAULT_CACHE_BYTES  # the same windows on every machine
    with gdal_env.bounded_gdal_cache() as bound:
        assert bound == gdal_env.MIN_CACHE and gdal_env.cache_bytes() == gdal_env.MIN_CACHE
        gdal_env.raise_cache(200 * gdal_env.MIB)
        assert gdal_env.cache_bytes() == 256 * gdal_env.MIB
    assert get_gdal_config("GDAL_CACHEMAX") == before  # a long-lived process gets its own size back
    gdal_env.raise_cache(10**9)  # outside a job: not touched
    assert get_gdal_config("GDAL_CACHEMAX") == before
    with rasterio.Env(GDAL_CACHEMAX=300 * gdal_env.MIB):
        inside = get_gdal_config("GDAL_CACHEMAX")
        with gdal_env.bounded_gdal_cache() as bound:
            assert bound == 0 and get_gdal_config("GDAL_CACHEMAX") == inside
    assert get_gdal_config("GDAL_CACHEMAX") == before


def test_gdal_cache_bytes_without_sysconf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "sysconf", raising=False)  # Windows
    for text, expected in [("10%", 16 * 2**30 // 10), ("512MB", 512 * 2**20), ("512", 512 * 2**20)]:
        monkeypatch.setattr(gdal_env, "configured", lambda text=text: text)  # rasterio < 1.4 reports text
        assert gdal_env.cache_bytes() == expected
    monkeypatch.setattr(gdal_env, "configured", lambda: None)
    assert gdal_env.cache_bytes() == gdal_env.DEFAULT_CACHE_BYTES
