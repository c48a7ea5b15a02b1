import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import rasterio
from affine import Affine

from geogen.errors import OutputError
from geogen.io.geotiff import GeoTIFFWriter, reproject_file
from geogen.io.tags import provenance_tags
from tiles import Grid, Window

GRID = Grid(300, 200, Affine(10, 0, 465000, 0, -10, 5080000), "EPSG:32633")


def test_cog_with_grid_tags_descriptions_and_alpha(tmp_path):
    out = tmp_path / "a.tif"
    rng = np.random.default_rng(0)
    data = rng.integers(0, 255, (3, 200, 300), dtype=np.uint8)
    valid = np.ones((200, 300), bool)
    valid[:, :50] = False
    tags = provenance_tags(engine="exemplar", model="flair", prompt="p", seed=7, metadata={"gsd": 10})
    with GeoTIFFWriter(
        out, GRID, 3, "uint8", alpha=True, band_descriptions=["red", "green", "blue"], tags=tags
    ) as w:
        w.write(Window(0, 0, 300, 100), data[:, :100], valid[:100])
        w.write(Window(0, 100, 300, 100), data[:, 100:], valid[100:])
    assert [p.name for p in tmp_path.iterdir()] == ["a.tif"]
    with rasterio.open(out) as ds:
        assert (
            ds.crs.to_epsg() == 32633
            and ds.transform == GRID.transform
            and (ds.width, ds.height) == (300, 200)
        )
        assert ds.bounds == GRID.bounds
        np.testing.assert_array_equal(ds.read([1, 2, 3]), data)
        np.testing.assert_array_equal(ds.read(4), valid.astype(np.uint8) * 255)
        assert ds.descriptions == ("red", "green", "blue", "alpha")
        t = ds.tags()
        assert t["GEOGEN_SYNTHETIC"] == "YES" and t["GEOGEN_ENGINE"] == "exemplar" and t["GEOGEN_SEED"] == "7"
        assert t["GEOGEN_PROMPT"] == "p" and t["GEOGEN_MODEL"] == "flair" and "GEOGEN_VERSION" in t
        assert ds.profile["tiled"] and ds.compression.name.lower() == "deflate"
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"


def test_nodata_outside_valid(tmp_path):
    out = tmp_path / "n.tif"
    valid = np.zeros((200, 300), bool)
    valid[10:20, 10:20] = True
    with GeoTIFFWriter(
        out, GRID, 1, "uint16", nodata=0, tags=provenance_tags(engine="x", synthetic=False)
    ) as w:
        w.write(GRID.full_window, np.full((1, 200, 300), 1234.4), valid)
    with rasterio.open(out) as ds:
        a = ds.read(1)
        assert ds.nodata == 0 and a[15, 15] == 1234 and a[0, 0] == 0 and ds.tags()["GEOGEN_SYNTHETIC"] == "NO"


def test_refuses_existing_output_and_unwritable_folder(tmp_path):
    out = tmp_path / "x.tif"
    out.write_bytes(b"old")
    with pytest.raises(OutputError, match="exists"):
        GeoTIFFWriter(out, GRID, 1, "uint8")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputError, match="cannot create output folder"):
        GeoTIFFWriter(blocker / "sub" / "y.tif", GRID, 1, "uint8")


def test_exception_leaves_nothing(tmp_path):
    out = tmp_path / "e.tif"
    with pytest.raises(RuntimeError), GeoTIFFWriter(out, GRID, 1, "uint8") as w:
        w.write(Window(0, 0, 10, 10), np.ones((1, 10, 10)))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_overwrite_keeps_old_file_until_commit(tmp_path):
    out = tmp_path / "o.tif"
    out.write_bytes(b"previous result")
    with pytest.raises(RuntimeError), GeoTIFFWriter(out, GRID, 1, "uint8", overwrite=True):
        raise RuntimeError("boom")
    assert out.read_bytes() == b"previous result"


def test_kill_mid_write_never_leaves_a_final_file(tmp_path):
    out = tmp_path / "big.tif"
    flag = tmp_path / "writing"
    script = textwrap.dedent(f"""
        import numpy as np, time, pathlib
        from affine import Affine
        from geogen.io.geotiff import GeoTIFFWriter
        from tiles import Grid, Window
        g = Grid(4096, 4096, Affine(1, 0, 0, 0, -1, 4096), "EPSG:32633")
        with GeoTIFFWriter(r"{out}", g, 3, "uint8") as w:
            for r in range(0, 4096, 256):
                w.write(Window(0, r, 4096, 256), np.random.randint(0, 255, (3, 256, 4096), dtype=np.uint8))
                pathlib.Path(r"{flag}").touch()
                time.sleep(0.2)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert flag.exists(), "writer never started"
    proc.kill()
    proc.wait(timeout=30)
    assert not out.exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "writing"]
    assert all(name.startswith(".big.") and ".partial" in name for name in leftovers)


def test_reproject_file_keeps_tags(tmp_path):
    src = tmp_path / "s.tif"
    with GeoTIFFWriter(src, GRID, 1, "uint8", band_descriptions=["v"], tags=provenance_tags(engine="e")) as w:
        w.write(GRID.full_window, np.full((1, 200, 300), 9))
    dst = reproject_file(src, tmp_path / "d.tif", "EPSG:4326")
    with rasterio.open(dst) as ds:
        assert ds.crs.to_epsg() == 4326 and ds.tags()["GEOGEN_ENGINE"] == "e" and ds.descriptions == ("v",)
        lon0, lat0 = ds.bounds.left, ds.bounds.top
    assert 14.5 < lon0 < 14.6 and 45.8 < lat0 < 45.9


def test_final_file_that_cannot_be_replaced_is_a_clear_error(tmp_path, monkeypatch):
    """On Windows a GeoTIFF open in QGIS cannot be replaced: one OutputError, the old file kept, no temp left."""
    import os

    out = tmp_path / "busy.tif"
    out.write_bytes(b"open in QGIS")

    def refuse(src, dst):
        raise PermissionError(13, "The process cannot access the file")

    monkeypatch.setattr(os, "replace", refuse)
    with (
        pytest.raises(OutputError, match="in use or read-only"),
        GeoTIFFWriter(out, GRID, 1, "uint8", overwrite=True) as w,
    ):
        w.write(GRID.full_window, np.ones((1, 200, 300)))
    assert out.read_bytes() == b"open in QGIS"
    assert [p.name for p in tmp_path.iterdir()] == ["busy.tif"]
