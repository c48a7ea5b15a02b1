"""Inputs into the job directory with QGIS's writers: polygons to GeoPackage, rasters by path or exported."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, osr
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsGeometry,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorLayer,
)

from qgis_plugin.common.errors import InputError
from qgis_plugin.common.export import area_from_extent, crs_text, export_polygons, raster_file
from qgis_plugin.common.job import RunOptions, relative_to_job, sketch_job, temporal_job, write_job


def test_polygons_exported_with_their_class_field(tmp_path: Path, slovenia: Path, own):
    source = own(QgsVectorLayer(str(slovenia / "LULC_polygons_MKGP_RABA.gpkg"), "lulc", "ogr"))
    out = export_polygons(source, "LULC_ID", tmp_path / "job" / "inputs" / "landcover.gpkg")
    layer = own(QgsVectorLayer(f"{out}|layername=landcover", "x", "ogr"))
    assert layer.isValid() and layer.featureCount() == source.featureCount() == 88
    assert layer.fields().names() == ["fid", "LULC_ID"]
    assert layer.crs() == source.crs()
    assert sorted({f["LULC_ID"] for f in layer.getFeatures()}) == [0, 1, 2, 3, 4, 8]
    area_in = sum(f.geometry().area() for f in source.getFeatures())
    area_out = sum(f.geometry().area() for f in layer.getFeatures())
    assert area_out == pytest.approx(area_in, rel=1e-9)


def test_polygon_export_refuses_a_missing_field_and_an_empty_layer(tmp_path: Path, own):
    layer = own(QgsVectorLayer("Polygon?crs=EPSG:32633&field=kind:integer", "mem", "memory"))
    with pytest.raises(InputError, match="class field 'class' is not in the layer"):
        export_polygons(layer, "class", tmp_path / "a.gpkg")
    with pytest.raises(InputError, match="no polygon"):
        export_polygons(layer, "kind", tmp_path / "b.gpkg")
    feature = QgsFeature(layer.fields())
    feature.setGeometry(QgsGeometry.fromRect(QgsRectangle(0, 0, 10, 10)))
    feature.setAttribute("kind", 7)
    layer.dataProvider().addFeatures([feature])
    out = export_polygons(layer, "kind", tmp_path / "c.gpkg")  # a memory layer is written by QGIS too
    assert [
        f["kind"] for f in own(QgsVectorLayer(f"{out}|layername=landcover", "c", "ogr")).getFeatures()
    ] == [7]


def test_file_raster_is_used_in_place(tmp_path: Path, slovenia: Path, own):
    path = slovenia / "S2L1C_slovenia_20150711_13band_refl.tif"
    layer = own(QgsRasterLayer(str(path), "s2"))
    assert raster_file(layer, tmp_path, "s2") == str(path.resolve())
    assert not (tmp_path / "inputs").exists()


def test_raster_without_a_file_is_exported_with_band_names(tmp_path: Path, own):
    ds = gdal.GetDriverByName("GTiff").Create("/vsimem/geogen_s2.tif", 20, 10, 3, gdal.GDT_Float32)
    ds.SetGeoTransform((465180.0, 10.0, 0, 5080250.0, 0, -10.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    for b, name in enumerate(("B02", "B03", "B04"), start=1):
        ds.GetRasterBand(b).WriteArray(np.full((10, 20), b / 10, np.float32))
        ds.GetRasterBand(b).SetDescription(name)
    ds = None
    try:
        layer = own(QgsRasterLayer("/vsimem/geogen_s2.tif", "mem"))
        assert layer.isValid()
        out = Path(raster_file(layer, tmp_path, "s2"))
    finally:
        gdal.Unlink("/vsimem/geogen_s2.tif")
    assert out == (tmp_path / "inputs" / "s2.tif").resolve()
    copy = gdal.Open(str(out))
    assert (copy.RasterXSize, copy.RasterYSize, copy.RasterCount) == (20, 10, 3)
    assert copy.GetGeoTransform() == pytest.approx((465180.0, 10.0, 0, 5080250.0, 0, -10.0))
    assert [copy.GetRasterBand(b).GetDescription() for b in (1, 2, 3)] == ["B02", "B03", "B04"]
    assert copy.GetRasterBand(3).ReadAsArray().mean() == pytest.approx(0.3)


def test_area_and_crs_for_the_job(tmp_path: Path):
    utm = QgsCoordinateReferenceSystem("EPSG:32633")
    area = area_from_extent(QgsRectangle(1, 2, 3, 4), utm)
    assert area.to_json() == {"bounds": [1.0, 2.0, 3.0, 4.0], "crs": "EPSG:32633"}
    custom = QgsCoordinateReferenceSystem.fromProj("+proj=tmerc +lon_0=14.5 +k=1 +x_0=0 +y_0=0 +ellps=GRS80")
    assert crs_text(custom).startswith(("PROJCRS", "PROJCS"))  # no EPSG code: WKT
    with pytest.raises(InputError, match="empty"):
        area_from_extent(QgsRectangle(), utm)
    with pytest.raises(InputError, match="invalid"):
        crs_text(QgsCoordinateReferenceSystem())


def test_job_file_is_relative_inside_the_job_directory(tmp_path: Path):
    job_dir = tmp_path / "job"
    gpkg = job_dir / "inputs" / "landcover.gpkg"
    job = sketch_job(
        relative_to_job(gpkg, job_dir),
        RunOptions(engine="exemplar", seed=4, name="sketch"),
        class_field="class",
        layer="landcover",
        gsd=0.5,
    )
    written = json.loads(write_job(job, job_dir).read_text())
    assert written["landcover"] == "inputs/landcover.gpkg"
    assert written["output"] == {"dir": ".", "name": "sketch", "overwrite": True, "result": "result.json"}
    assert written["seed"] == 4 and written["engine"] == "exemplar" and "model" not in written
    assert relative_to_job(tmp_path / "elsewhere.tif", job_dir) == str((tmp_path / "elsewhere.tif").resolve())


def test_temporal_job_names_the_model_and_its_controlnet():
    """MODEL + CONTROLNET -> model and options.controlnet; the ControlNet alone -> the job's model (the
    backend then finds the DiffusionSat model under it); neither -> no model at all."""
    day = [dt.date(2015, 7, 1)]
    both = temporal_job(day, RunOptions(model="dsat", name="t"), controlnet="cn3d")
    assert both["model"] == "dsat" and both["options"] == {"controlnet": "cn3d"}
    alone = temporal_job(day, RunOptions(name="t"), controlnet="cn3d")
    assert alone["model"] == "cn3d" and "options" not in alone
    neither = temporal_job(day, RunOptions(name="t"), cloud_max=0.2)
    assert "model" not in neither and "options" not in neither
    assert neither["target_dates"] == ["2015-07-01"] and neither["cloud_max"] == 0.2
