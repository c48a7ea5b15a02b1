"""The NetCDF datacube: time-sorted, CF time and grid mapping readable by xarray, pyproj and GDAL; atomic."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from pyproj import CRS

from geogen.errors import OutputError
from geogen.timeseries.datacube import CubeFrame, write_datacube
from tiles import Grid

GRID = Grid(5, 4, Affine(10, 0, 465400, 0, -10, 5080000), "EPSG:32633")


def _frame(date: dt.date, kind: str, value: int) -> CubeFrame:
    rgb = np.stack([np.full((4, 5), value + k, np.uint8) for k in range(3)])
    valid = np.ones((4, 5), bool)
    valid[0, 0] = False
    return CubeFrame(date, kind, rgb, valid, f"{kind}_{date}.tif")


def test_cube_round_trip(tmp_path: Path) -> None:
    frames = [
        _frame(dt.date(2015, 9, 15), "generated", 30),
        _frame(dt.date(2015, 7, 11), "observed", 10),
        _frame(dt.date(2015, 8, 1), "generated", 20),
    ]
    path = write_datacube(tmp_path / "seq.nc", GRID, frames, attrs={"title": "t"})
    with xr.open_dataset(path) as ds:
        times = [np.datetime64(d) for d in ("2015-07-11", "2015-08-01", "2015-09-15")]
        np.testing.assert_array_equal(ds.time.values, np.array(times, "datetime64[ns]"))
        assert ds.time.encoding["units"] == "days since 1970-01-01"
        assert list(ds.kind.values) == ["observed", "generated", "generated"]
        assert list(ds.synthetic.values) == [0, 1, 1]
        assert ds.red.dtype == np.uint8 and ds.red.dims == ("time", "y", "x")
        np.testing.assert_array_equal(ds.red.values[:, 1, 1], [10, 20, 30])
        np.testing.assert_array_equal(ds.blue.values[1], np.full((4, 5), 22))
        assert ds.valid.values[:, 0, 0].tolist() == [0, 0, 0] and ds.valid.values[:, 1:, :].all()
        np.testing.assert_allclose(ds.x.values, 465405 + 10 * np.arange(5))
        np.testing.assert_allclose(ds.y.values, 5079995 - 10 * np.arange(4))
        assert ds.red.attrs["grid_mapping"] == "spatial_ref"
        assert CRS.from_wkt(ds.spatial_ref.attrs["crs_wkt"]) == CRS.from_epsg(32633)
        assert ds.spatial_ref.attrs["grid_mapping_name"] == "transverse_mercator"
        assert ds.attrs["Conventions"] == "CF-1.8" and ds.attrs["title"] == "t"
    with rasterio.open(f"netcdf:{path}:green") as gdal:  # GDAL (QGIS) reads the grid and the three dates
        assert gdal.crs == rasterio.crs.CRS.from_epsg(32633)
        assert gdal.transform.almost_equals(GRID.transform)
        assert gdal.count == 3


def test_cube_refuses_to_overwrite_and_leaves_no_partial(tmp_path: Path) -> None:
    path = write_datacube(tmp_path / "seq.nc", GRID, [_frame(dt.date(2015, 7, 11), "observed", 1)])
    with pytest.raises(OutputError, match="exists"):
        write_datacube(path, GRID, [_frame(dt.date(2015, 7, 11), "observed", 1)])
    with pytest.raises(OutputError, match="one frame per date"):
        write_datacube(tmp_path / "b.nc", GRID, [_frame(dt.date(2015, 7, 11), "observed", 1)] * 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seq.nc"]
