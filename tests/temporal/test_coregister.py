"""Co-registration: exact copies on the same pixel grid, bilinear otherwise, nodata kept, no overlap refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from geogen.errors import GeometryError
from geogen.io.raster import read_grid
from geogen.timeseries.coregister import coregister, same_pixel_grid
from geogen.timeseries.render import S2_GAIN
from tiles import Grid


def _ramp(path: Path, *, tags: dict[str, str] | None = None) -> Path:
    """uint8 RGB, 20 x 10 px at 10 m in EPSG:32633; red = 10 x column, green = 10 x row, blue 7."""
    cols, rows = np.meshgrid(np.arange(20), np.arange(10))
    data = np.stack([10 * cols, 10 * rows, np.full_like(cols, 7)]).astype(np.uint8)
    profile = {
        "driver": "GTiff",
        "width": 20,
        "height": 10,
        "count": 3,
        "dtype": "uint8",
        "crs": "EPSG:32633",
        "transform": Affine(10, 0, 465000, 0, -10, 5080000),
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
        if tags:
            ds.update_tags(**tags)
    return path


def test_same_pixel_grid_is_copied_exactly(slovenia_series: list[Path]) -> None:
    path = slovenia_series[0]
    grid = read_grid(path)
    frame = coregister(path, grid)
    with rasterio.open(path) as ds:
        refl = ds.read([4, 3, 2])  # B04, B03, B02: true colour
    expected = np.rint(np.clip(refl * S2_GAIN, 0, 1) * 255).astype(np.uint8)
    assert frame.exact and frame.valid.all() and not frame.synthetic
    np.testing.assert_array_equal(frame.rgb, expected)


def test_sub_window_of_the_same_grid_is_exact(slovenia_series: list[Path]) -> None:
    path = slovenia_series[3]
    full = read_grid(path)
    from tiles import Window

    part = full[Window(10, 20, 30, 25)]
    assert same_pixel_grid(full, part)
    np.testing.assert_array_equal(coregister(path, part).rgb, coregister(path, full).rgb[:, 20:45, 10:40])


def test_half_pixel_shift_is_bilinear(tmp_path: Path) -> None:
    """On a linear ramp, bilinear resampling half a pixel to the right gives the neighbours' mean exactly."""
    path = _ramp(tmp_path / "ramp_20200101.tif")
    grid = Grid(10, 6, Affine(10, 0, 465000 + 5 + 20, 0, -10, 5080000 - 20), "EPSG:32633")
    frame = coregister(path, grid)
    assert not frame.exact and frame.valid.all()
    src_cols = 2 + np.arange(10)  # target column j lies halfway between source columns 2 + j and 3 + j
    np.testing.assert_array_equal(frame.rgb[0], np.broadcast_to(10 * src_cols + 5, (6, 10)))
    np.testing.assert_array_equal(frame.rgb[1], np.broadcast_to(10 * (2 + np.arange(6))[:, None], (6, 10)))
    assert (frame.rgb[2] == 7).all() and frame.cloud is None


def test_outside_the_frame_is_invalid(tmp_path: Path) -> None:
    path = _ramp(tmp_path / "ramp_20200101.tif")
    grid = Grid(30, 10, Affine(10, 0, 464900, 0, -10, 5080000), "EPSG:32633")  # 10 px further west
    frame = coregister(path, grid)
    assert frame.exact
    assert not frame.valid[:, :10].any() and frame.valid[:, 10:].all()
    np.testing.assert_array_equal(frame.rgb[0, :, 10:], np.broadcast_to(10 * np.arange(20), (10, 20)))


def test_reprojection_to_another_crs(naip_crop: Path) -> None:
    """The NAIP crop (NAD83 / UTM 14N) onto a WGS84 / UTM 14N grid at a fractional offset: each pixel is the
    bilinear interpolation of the source at the same place, computed here independently."""
    from pyproj import Transformer
    from scipy.ndimage import map_coordinates

    src = read_grid(naip_crop)
    left, _, _, top = src.bounds
    grid = Grid(20, 16, Affine(5, 0, left + 21.3, 0, -5, top - 33.9), "EPSG:32614")
    frame = coregister(naip_crop, grid)
    assert not frame.exact and frame.valid.all()
    with rasterio.open(naip_crop) as ds:
        original = ds.read([1, 2, 3]).astype(float)
    cols, rows = np.meshgrid(np.arange(20) + 0.5, np.arange(16) + 0.5)
    x, y = grid.transform @ (cols, rows)
    sx, sy = Transformer.from_crs("EPSG:32614", "EPSG:26914", always_xy=True).transform(x, y)
    scol, srow = ~src.transform @ (sx, sy)
    expected = np.stack([map_coordinates(band, [srow - 0.5, scol - 0.5], order=1) for band in original])
    assert np.abs(frame.rgb.astype(float) - expected).max() <= 1.0


def test_nodata_stays_invalid(naip_crop: Path, tmp_path: Path) -> None:
    holed = tmp_path / naip_crop.name
    with rasterio.open(naip_crop) as src:
        data, profile = src.read(), src.profile
    data[:, :10, :12] = 0  # NAIP nodata
    with rasterio.open(holed, "w", **profile) as dst:
        dst.write(data)
    frame = coregister(holed, read_grid(holed))
    assert not frame.valid[:10, :12].any() and frame.valid[10:].all()
    assert (frame.rgb[:, :10, :12] == 0).all()


def test_no_overlap_names_the_file(naip_crop: Path, slovenia_series: list[Path]) -> None:
    with pytest.raises(GeometryError, match=r"m_4709963_se_14_1_20090818\.tif does not overlap the area"):
        coregister(naip_crop, read_grid(slovenia_series[0]))


def test_synthetic_inputs_are_recognised(tmp_path: Path) -> None:
    path = _ramp(tmp_path / "gen_2020-01-01.tif", tags={"GEOGEN_SYNTHETIC": "YES"})
    assert coregister(path, read_grid(path)).synthetic
