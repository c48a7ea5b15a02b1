"""Result layers: RGB band choice, true-colour style, groups, and temporal outputs with fixed ranges per date.

The layers are built here from real GeoTIFFs written with QGIS's own GDAL (osgeo), exactly as result.json
would list them (test_temporal_e2e.py runs a real temporal job).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, osr
from qgis.core import (
    QgsDateTimeRange,
    QgsMultiBandColorRenderer,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsRasterLayer,
)
from qgis.PyQt.QtCore import QDate, QDateTime, QTime

from qgis_plugin.common.compat import RASTER_TEMPORAL_FIXED
from qgis_plugin.common.results import (
    DATE_PROPERTY,
    SYNTHETIC_PROPERTY,
    ResultLayerPostProcessor,
    add_result_layers,
    layer_name,
    make_layer,
    rgb_bands,
)

S2_BANDS = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"]
ORIGIN = (465180.0, 5080250.0)  # UTM 33N, Slovenia


def write_rgba(path: Path, seed: int, size: int = 32, gsd: float = 10.0) -> dict:
    """A 4-band (RGB + alpha) 8-bit GeoTIFF in EPSG:32633, and its result.json-style record."""
    ds = gdal.GetDriverByName("GTiff").Create(str(path), size, size, 4, gdal.GDT_Byte)
    ds.SetGeoTransform((ORIGIN[0], gsd, 0, ORIGIN[1], 0, -gsd))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    rng = np.random.default_rng(seed)
    for b in range(1, 4):
        ds.GetRasterBand(b).WriteArray(rng.integers(0, 255, (size, size), dtype=np.uint8))
    ds.GetRasterBand(4).WriteArray(np.full((size, size), 255, np.uint8))
    ds.GetRasterBand(4).SetColorInterpretation(gdal.GCI_AlphaBand)
    ds = None
    left, top = ORIGIN
    return {
        "path": str(path),
        "bands": ["red", "green", "blue", "alpha"],
        "crs": "EPSG:32633",
        "bounds": [left, top - size * gsd, left + size * gsd, top],
        "width": size,
        "height": size,
        "kind": "generated",
        "synthetic": True,
        "date": None,
    }


def qdt(day: dt.date, hour: int = 0) -> QDateTime:
    return QDateTime(QDate(day.year, day.month, day.day), QTime(hour, 0, 0))


def test_rgb_band_choice():
    assert rgb_bands(S2_BANDS, 13) == (4, 3, 2)
    assert rgb_bands(["B02", "B03", "B04", "B08"], 4) == (3, 2, 1)
    assert rgb_bands(["B2", "B3", "B4"], 3) == (3, 2, 1)  # short names too
    assert rgb_bands(["red", "green", "blue", "alpha"], 4) == (1, 2, 3)
    assert rgb_bands(["", "", ""], 3) == (1, 2, 3)
    assert rgb_bands(["class"], 1) is None


def test_s2_stack_shown_in_true_colour_by_band_description(slovenia: Path, own):
    """Band names come from the GeoTIFF's descriptions when the record does not list them."""
    path = slovenia / "S2L1C_slovenia_20150711_13band_refl.tif"
    layer = own(make_layer({"path": str(path), "bands": [], "synthetic": False, "kind": "observed"}))
    renderer = layer.renderer()
    assert isinstance(renderer, QgsMultiBandColorRenderer)
    assert (renderer.redBand(), renderer.greenBand(), renderer.blueBand()) == (4, 3, 2)
    ce = renderer.redContrastEnhancement()
    assert ce is not None and 0.0 <= ce.minimumValue() < ce.maximumValue() < 1.0  # stretched on reflectances


def test_rgba_synthetic_image_uses_bands_1_to_3_and_alpha(tmp_path: Path, own):
    record = write_rgba(tmp_path / "sketch.tif", seed=1)
    layer = own(make_layer(record))
    renderer = layer.renderer()
    assert (renderer.redBand(), renderer.greenBand(), renderer.blueBand(), renderer.alphaBand()) == (
        1,
        2,
        3,
        4,
    )
    assert layer.name() == "sketch (synthetic)"
    assert not layer.temporalProperties().isActive()


def test_temporal_outputs_become_a_group_with_fixed_ranges(tmp_path: Path, project):
    dates = [dt.date(2020, 6, 1), dt.date(2020, 3, 1), dt.date(2020, 9, 15)]
    records = []
    for i, day in enumerate(dates):
        rec = write_rgba(tmp_path / f"temporal_{i}.tif", seed=i)
        rec["date"] = day.isoformat()
        records.append(rec)

    layers = add_result_layers(records, project, "geogen temporal: job1")

    group = project.layerTreeRoot().findGroup("geogen temporal: job1")
    assert group is not None
    assert [node.layer().id() for node in group.findLayers()] == [lyr.id() for lyr in layers]
    assert [lyr.name() for lyr in layers] == [
        f"temporal_{i} {d} (synthetic)" for i, d in sorted(enumerate(dates), key=lambda x: x[1])
    ]
    for layer, day in zip(layers, sorted(dates), strict=True):
        props = layer.temporalProperties()
        assert props.isActive()
        assert props.mode() == RASTER_TEMPORAL_FIXED
        rng = props.fixedTemporalRange()
        assert rng.begin() == qdt(day) and rng.end() == qdt(day + dt.timedelta(days=1))
        assert rng.includeBeginning() and not rng.includeEnd()
        # visible during its own day only
        assert props.isVisibleInTemporalRange(QgsDateTimeRange(qdt(day, 12), qdt(day, 13)))
        other = day + dt.timedelta(days=2)
        assert not props.isVisibleInTemporalRange(QgsDateTimeRange(qdt(other, 12), qdt(other, 13)))
    assert project.mapLayer(layers[0].id()) is not None


def test_results_group_goes_just_above_the_sketch_layer(tmp_path: Path, project):
    below = QgsRasterLayer(str(write_rgba(tmp_path / "base.tif", 9)["path"]), "base")
    sketch = QgsRasterLayer(str(write_rgba(tmp_path / "sketch_in.tif", 8)["path"]), "sketch")
    project.addMapLayer(sketch)
    project.addMapLayer(below)  # goes on top of the tree
    add_result_layers([write_rgba(tmp_path / "out.tif", 3)], project, "geogen sketch: j", above=sketch)
    names = [child.name() for child in project.layerTreeRoot().children()]
    assert names == ["base", "geogen sketch: j", "sketch"]


def test_unreadable_result_adds_no_layer(tmp_path: Path, project):
    good = write_rgba(tmp_path / "good.tif", 1)
    bad = dict(good, path=str(tmp_path / "missing.tif"))
    with pytest.raises(Exception, match="cannot open the result"):
        add_result_layers([good, bad], project, "geogen x")
    assert project.count() == 0


def test_processing_post_processor_styles_dates_and_groups(tmp_path: Path, project):
    record = write_rgba(tmp_path / "frame.tif", 2)
    record["date"] = "2021-04-05"
    layer = QgsRasterLayer(record["path"], "frame")
    project.addMapLayer(layer)
    context = QgsProcessingContext()
    context.setProject(project)
    ResultLayerPostProcessor(record, "geogen temporal: j2").postProcessLayer(
        layer, context, QgsProcessingFeedback()
    )
    group = project.layerTreeRoot().findGroup("geogen temporal: j2")
    assert [n.layer() for n in group.findLayers()] == [layer]
    assert project.layerTreeRoot().findLayer(layer.id()).parent() is group
    assert layer.temporalProperties().isActive()
    assert layer.temporalProperties().fixedTemporalRange().begin() == qdt(dt.date(2021, 4, 5))
    assert layer.name() == layer_name(record) == "frame 2021-04-05 (synthetic)"
    assert layer.renderer().alphaBand() == 4


def test_post_processed_layers_keep_their_group_in_date_order(tmp_path: Path, project):
    """Processing may load a job's outputs in any order: the group still lists them by date, undated last."""
    context = QgsProcessingContext()
    context.setProject(project)
    days = ["2021-06-01", None, "2021-03-01", "2021-09-01", "2021-04-01"]
    for i, day in enumerate(days):
        record = write_rgba(tmp_path / f"f{i}.tif", i)
        record["date"] = day
        record["synthetic"] = i % 2 == 0
        layer = QgsRasterLayer(record["path"], f"f{i}")
        project.addMapLayer(layer)
        ResultLayerPostProcessor(record, "geogen temporal: j3").postProcessLayer(
            layer, context, QgsProcessingFeedback()
        )
    group = project.layerTreeRoot().findGroup("geogen temporal: j3")
    layers = [n.layer() for n in group.findLayers()]
    assert [lyr.customProperty(DATE_PROPERTY) for lyr in layers] == [
        "2021-03-01",
        "2021-04-01",
        "2021-06-01",
        "2021-09-01",
        "",
    ]
    assert [lyr.name()[:2] for lyr in layers] == ["f2", "f4", "f0", "f3", "f1"]
    assert [lyr.customProperty(SYNTHETIC_PROPERTY) for lyr in layers] == [True, True, True, False, False]
