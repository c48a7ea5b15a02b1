"""Metadata normalisation matches DiffusionSat's training code; grids give WGS84 centres and ground GSD."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from affine import Affine
from hypothesis import given
from hypothesis import strategies as st
from pyproj import Transformer

from geogen.errors import GeometryError, JobSpecError
from geogen.metadata import FIELDS, Metadata
from tiles.grid import Grid
from tiles.window import Window

# The normalised vector of DiffusionSat's example notebook (Brisbane area, 0.41 m, 2017-02-11, cloud unknown).
NOTEBOOK_VECTOR = [925.8798, 345.2111, 411.4541, 0.0, 308.3333, 166.6667, 354.8387]


def test_documented_example():
    md = Metadata(lon=153.3167, lat=-27.862, gsd_m=0.41145, date=dt.date(2017, 2, 11))

    vec = md.normalize()

    assert vec.dtype == np.float32 and vec.shape == (7,)
    assert [round(float(v), 2) for v in vec] == [925.88, 345.21, 411.45, 0.0, 308.33, 166.67, 354.84]


def test_notebook_vector_reads_back():
    md = Metadata.denormalize(NOTEBOOK_VECTOR)

    assert md.lon == pytest.approx(153.3167, abs=1e-3)
    assert md.lat == pytest.approx(-27.862, abs=1e-3)
    assert md.gsd_m == pytest.approx(0.41145, abs=1e-5)
    assert md.cloud_cover is None
    assert md.date == dt.date(2017, 2, 11)


def test_formula_per_field():
    vec = Metadata(lon=0.0, lat=0.0, gsd_m=10.0, cloud_cover=0.5, date=dt.date(2100, 12, 31)).normalize()

    assert dict(zip(FIELDS, vec.tolist(), strict=True)) == pytest.approx(
        {
            "lon": 500.0,
            "lat": 500.0,
            "gsd": 10000.0,
            "cloud_cover": 500.0,
            "year": 1000.0,
            "month": 1000.0,
            "day": 1000.0,
        }
    )


def test_unknown_fields_are_zero_and_read_back_as_unknown():
    assert Metadata().normalize().tolist() == [0.0] * 7
    assert Metadata.denormalize(np.zeros(7)) == Metadata()
    partial = Metadata(gsd_m=0.5)
    assert Metadata.denormalize(partial.normalize()) == partial


@given(
    lon=st.floats(-179.9, 180),
    lat=st.floats(-89.9, 90),
    gsd=st.floats(0.05, 60),
    cloud=st.floats(0.001, 1),
    date=st.dates(dt.date(1981, 1, 1), dt.date(2099, 12, 31)),
)
def test_round_trip(lon, lat, gsd, cloud, date):
    md = Metadata(lon, lat, gsd, cloud, date)

    back = Metadata.denormalize(md.normalize())

    assert back.lon == pytest.approx(lon, abs=1e-3)
    assert back.lat == pytest.approx(lat, abs=1e-3)
    assert back.gsd_m == pytest.approx(gsd, rel=1e-6)
    assert back.cloud_cover == pytest.approx(cloud, rel=1e-6, abs=1e-6)
    assert back.date == date


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"lat": 91.0}, GeometryError, "Latitude"),
        ({"lon": -180.5}, GeometryError, "Longitude"),
        ({"lon": math.nan}, GeometryError, "Longitude"),
        ({"gsd_m": 0.0}, GeometryError, "GSD"),
        ({"cloud_cover": 1.5}, JobSpecError, "Cloud"),
        ({"date": dt.date(1979, 12, 31)}, JobSpecError, "1981-01-01"),
        ({"date": dt.date(1980, 6, 1)}, JobSpecError, "unknown"),
        ({"date": "2017-02-11"}, JobSpecError, "datetime.date"),
    ],
)
def test_invalid_values_name_the_problem(kwargs, error, match):
    with pytest.raises(error, match=match):
        Metadata(**kwargs)


def test_bad_vectors_are_refused():
    with pytest.raises(JobSpecError, match="7 finite"):
        Metadata.denormalize([1.0, 2.0])
    with pytest.raises(JobSpecError, match="impossible date"):
        Metadata.denormalize([0, 0, 0, 0, 308.33, 166.67, 1000.0])  # 31 February


def utm_grid(lon: float, lat: float, res: float, size: int = 100) -> Grid:
    zone = int((lon + 180) // 6) + 1
    crs = f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    half = res * size / 2
    return Grid(size, size, Affine(res, 0, x - half, 0, -res, y + half), crs)


def test_from_grid_centre_and_gsd_in_utm():
    grid = utm_grid(153.3167, -27.862, 0.5)

    md = Metadata.from_grid(grid, date=dt.date(2017, 2, 11), cloud_cover=0.1)

    assert md.lon == pytest.approx(153.3167, abs=1e-7)
    assert md.lat == pytest.approx(-27.862, abs=1e-7)
    assert md.gsd_m == pytest.approx(0.5, rel=1e-3)  # UTM scale factor is within 0.1 % of 1 here
    assert md.date == dt.date(2017, 2, 11) and md.cloud_cover == 0.1


def test_from_grid_window_centre():
    grid = utm_grid(2.35, 48.85, 10.0)
    window = Window(0, 0, 10, 10)

    md = Metadata.from_grid(grid, window=window)

    x, y = grid[window].centre()
    lon, lat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(x, y)
    assert (md.lon, md.lat) == pytest.approx((lon, lat))
    assert md.lat > 48.85 and md.lon < 2.35  # upper-left corner of the area


def test_web_mercator_gsd_is_ground_distance():
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(10.0, 60.0)
    grid = Grid(64, 64, Affine(2.0, 0, x - 64, 0, -2.0, y + 64), "EPSG:3857")

    md = Metadata.from_grid(grid)

    assert md.gsd_m == pytest.approx(2.0 * math.cos(math.radians(60.0)), rel=1e-3)


def test_from_grid_refuses_degrees():
    grid = Grid(10, 10, Affine(0.001, 0, 10.0, 0, -0.001, 50.0), "EPSG:4326")

    with pytest.raises(GeometryError, match="metric"):
        Metadata.from_grid(grid)
