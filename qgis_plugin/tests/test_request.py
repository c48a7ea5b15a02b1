"""A run's parameter values read as the job needs them (JobRequest), through a real geogen algorithm."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from qgis.core import (
    QgsApplication,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsRasterLayer,
)
from qgis.PyQt.QtCore import QDate

from qgis_plugin.algorithms.request import JobRequest
from qgis_plugin.common.job import Area, RunOptions

EXTENT = "465400,465600,5079500,5079700 [EPSG:32633]"


def request(algorithm_id: str, parameters: dict, job_dir: Path) -> JobRequest:
    alg = QgsApplication.processingRegistry().createAlgorithmById(algorithm_id)
    assert alg is not None, algorithm_id
    return JobRequest(alg, parameters, QgsProcessingContext(), QgsProcessingFeedback(), job_dir)


@pytest.mark.parametrize("date", ["2020-06-01", QDate(2020, 6, 1)])
def test_text_values_date_area_and_options(geogen_provider, tmp_path: Path, date):
    """The date is read on every supported QGIS (3.22 has no parameterAsDate); empty values become None."""
    req = request(
        "geogen:text_to_scene",
        {
            "PROMPT": "",
            "EXTENT": EXTENT,
            "GSD": 1.5,
            "DATE": date,
            "CLOUD_COVER": None,
            "GUIDANCE": 5.0,
            "MODEL": "default",
            "SEED": 4,
            "STEPS": 12,
        },
        tmp_path,
    )
    assert req.date() == dt.date(2020, 6, 1)
    assert req.area() == Area((465400.0, 5079500.0, 465600.0, 5079700.0), "EPSG:32633")
    assert req.text("PROMPT") is None and req.string("PROMPT") == ""
    assert req.number("GSD") == 1.5 and req.number("GUIDANCE") == 5.0
    assert req.optional_number("CLOUD_COVER") is None
    engine = req.algorithm.parameterDefinition("ENGINE").defaultValue()
    assert req.options == RunOptions(engine=engine, model=None, seed=4, steps=12, name="text")


def test_missing_values_and_rasters(geogen_provider, tmp_path: Path, slovenia: Path, own):
    s2_path = slovenia / "S2L1C_slovenia_20150711_13band_refl.tif"
    s2 = own(QgsRasterLayer(str(s2_path), "s2"))
    req = request("geogen:superresolve_s2", {"INPUT": s2, "TARGET_GSD": 0, "SEED": 1}, tmp_path)
    assert req.area() is None and req.file("INPUT_FOLDER") == ""
    assert req.optional_number("TARGET_GSD") == 0.0  # given, though zero
    assert req.options == RunOptions(engine=req.options.engine, seed=1, name="superres")  # no steps here
    assert req.exported_raster(req.required_raster("INPUT"), "s2") == str(s2_path.resolve())  # read in place
    raster = request("geogen:landcover_raster_to_scene", {"INPUT": None}, tmp_path)
    with pytest.raises(QgsProcessingException):
        raster.required_raster("INPUT")
    sketch = request("geogen:sketch_to_scene", {"INPUT": None}, tmp_path)
    assert sketch.date() is None and sketch.raster("EXEMPLAR_IMAGE") is None
    with pytest.raises(QgsProcessingException):
        sketch.required_source("INPUT")
