import json

import numpy as np
import pytest
import rasterio

from geogen.errors import AreaTooLargeError, GeometryError, InputFileError, RasterError, VectorError
from geogen.io.aoi import (
    area_from_bounds,
    area_from_vector,
    centroid_lonlat,
    check_tile_budget,
    utm_crs_for,
    working_grid,
)
from geogen.io.raster import read_grid
from geogen.io.rasterize import rasterize_classes
from geogen.io.vector import read_vector


def test_slovenian_polygons_reproduce_the_lulc_mask(slovenia):
    grid = read_grid(slovenia / "LULC_mask_10m.tif")
    layer = read_vector(slovenia / "LULC_polygons_MKGP_RABA.gpkg")
    assert layer.crs == "EPSG:32633" and len(layer.features) == 88
    mask = rasterize_classes(
        [(f.geometry, f.properties["LULC_ID"]) for f in layer.features], grid, shapes_crs=layer.crs
    )
    with rasterio.open(slovenia / "LULC_mask_10m.tif") as ds:
        ref = ds.read(1)
    np.testing.assert_array_equal(mask, ref)


def test_epsg4326_polygons_land_in_the_same_pixels(slovenia):
    grid = read_grid(slovenia / "LULC_mask_10m.tif")
    layer = read_vector(slovenia / "LULC_polygons_MKGP_RABA_EPSG4326.geojson")
    assert layer.crs == "EPSG:4326"
    mask = rasterize_classes(
        [(f.geometry, f.properties["LULC_ID"]) for f in layer.features], grid, shapes_crs=layer.crs
    )
    with rasterio.open(slovenia / "LULC_mask_10m.tif") as ds:
        assert (mask == ds.read(1)).mean() > 0.999


def test_geographic_area_works_in_its_utm_zone(slovenia):
    area = area_from_vector(slovenia / "bbox_EPSG32633.geojson")
    g_native = working_grid(area, 10)
    area4326 = area.to_crs("EPSG:4326")
    g = working_grid(area4326, 10)
    assert g.crs == "EPSG:32633" == g_native.crs
    # the UTM grid built from the lon/lat polygon covers the same place to within a pixel
    assert np.allclose(g.bounds, g_native.bounds, atol=10.0 + 1e-6)
    assert g.res == (10.0, 10.0)
    assert all(v % 10 == 0 for v in (g.transform.c, g.transform.f))
    lon, lat = centroid_lonlat(area4326)
    assert 14.55 < lon < 14.565 and 45.866 < lat < 45.875


def test_utm_zones():
    assert utm_crs_for(14.55, 45.87) == "EPSG:32633"
    assert utm_crs_for(153.3, -27.9) == "EPSG:32756"
    assert utm_crs_for(-7.44, 52.64) == "EPSG:32629"
    assert utm_crs_for(180.0, 0.0) == "EPSG:32660"


@pytest.mark.parametrize("gsd", [0, -1, float("nan"), float("inf")])
def test_gsd_must_be_positive(gsd):
    area = area_from_bounds((465000, 5079000, 466000, 5080000), "EPSG:32633")
    with pytest.raises(GeometryError, match="GSD"):
        working_grid(area, gsd)


def test_bad_bounds_and_crs():
    with pytest.raises(GeometryError, match="empty or inverted"):
        area_from_bounds((1, 1, 0, 2), "EPSG:4326")
    with pytest.raises(GeometryError, match="not a valid CRS"):
        area_from_bounds((0, 0, 1, 1), "EPSG:999999")
    with pytest.raises(GeometryError, match="out of range"):
        area_from_bounds((170, 0, 200, 1), "EPSG:4326")


def test_tile_budget_names_count_and_time():
    check_tile_budget(10, 10)
    with pytest.raises(AreaTooLargeError, match=r"needs 5000 tiles \(roughly 1.4 h.*limit of 4096"):
        check_tile_budget(5000, 4096, seconds_per_tile=1.0)


def test_vector_errors(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        read_vector(tmp_path / "nope.gpkg")
    junk = tmp_path / "junk.geojson"
    junk.write_text("this is not json")
    with pytest.raises(VectorError, match="cannot read"):
        read_vector(junk)
    empty = tmp_path / "empty.geojson"
    empty.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(VectorError, match="empty"):
        read_vector(empty)
    bowtie = tmp_path / "bowtie.geojson"
    bowtie.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"c": 1},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]],
                        },
                    }
                ],
            }
        )
    )
    with pytest.raises(VectorError, match=r"feature 0 .* invalid geometry: Self-intersection"):
        read_vector(bowtie)
    line = tmp_path / "line.geojson"
    line.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
                    }
                ],
            }
        )
    )
    with pytest.raises(VectorError, match="LineString; polygons are needed"):
        read_vector(line)


def test_raster_without_crs_is_refused(tmp_path):
    p = tmp_path / "nocrs.tif"
    with rasterio.open(p, "w", driver="GTiff", width=4, height=4, count=1, dtype="uint8") as ds:
        ds.write(np.ones((1, 4, 4), np.uint8))
    with pytest.raises(RasterError, match="no CRS"):
        read_grid(p)
    with pytest.raises(InputFileError, match="not found"):
        read_grid(tmp_path / "missing.tif")
    txt = tmp_path / "t.tif"
    txt.write_text("not a tiff")
    with pytest.raises(RasterError, match="cannot read"):
        read_grid(txt)
