"""A temporal job end to end through Processing with the REAL backend and tiny random-weight models: models
installed in a temporary store are offered, the real Slovenian series goes in, and one layer per date comes
back in a group, in date order, each with its day as fixed temporal range and generated frames flagged."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from osgeo import gdal
from qgis.core import QgsCoordinateReferenceSystem, QgsDateTimeRange, QgsRasterLayer, QgsRectangle
from qgis.PyQt.QtCore import QDate, QDateTime, QTime

from qgis_plugin.common.compat import RASTER_TEMPORAL_FIXED
from qgis_plugin.common.results import DATE_PROPERTY, SYNTHETIC_PROPERTY
from qgis_plugin.runner.backend import clean_environment

REPO = Path(__file__).resolve().parents[2]
BASE, CONTROLNET = "tiny-dsat", "tiny-cn3d"
SERIES = ("20150711", "20150731", "20150820", "20150830")  # 07-31 and 08-20 are cloudy over the AOI
AOI = QgsRectangle(465400, 5079840, 465560, 5080000)  # 16 x 16 px at 10 m inside the Slovenian footprint
TARGETS = "2015-07-01, 2015-07-11, 2015-07-31, 2015-08-30"
# (date, generated): 07-01 has no observation, 07-31's is too cloudy; 07-11 and 08-30 are clear observations.
EXPECTED = [("2015-07-01", True), ("2015-07-11", False), ("2015-07-31", True), ("2015-08-30", False)]
BUILD = (
    "import sys; from pathlib import Path\n"
    "from tests.temporal.conftest import build_sensitive_diffusionsat, build_tiny_controlnet_3d\n"
    "root = Path(sys.argv[1])\n"
    "build_tiny_controlnet_3d(build_sensitive_diffusionsat(root / 'base'), root / 'controlnet')\n"
)


def _backend_run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{args[:3]} failed: {done.stderr[-2000:]}"


@pytest.fixture(scope="module")
def model_home(real_backend_path: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model store (GEOGEN_HOME) holding the tiny DiffusionSat model and its tiny 3-D ControlNet, built by
    the backend's own Python (QGIS's has no torch) and installed with `geogen models add`."""
    backend = Path(real_backend_path)
    python = backend.with_name("python.exe" if sys.platform == "win32" else "python")
    if not python.is_file():
        pytest.skip(f"no Python next to the backend {backend} to build the tiny models with")
    root = tmp_path_factory.mktemp("tiny_temporal")
    home = root / "geogen_home"
    env = clean_environment(os.environ) | {"GEOGEN_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    _backend_run([str(python), "-c", BUILD, str(root)], env)
    _backend_run([str(backend), "models", "add", BASE, str(root / "base")], env)
    _backend_run([str(backend), "models", "add", CONTROLNET, str(root / "controlnet")], env)
    return home


@pytest.fixture()
def series(slovenia: Path, own) -> list[QgsRasterLayer]:
    files = [slovenia / f"S2L1C_slovenia_{d}_13band_refl.tif" for d in SERIES]
    missing = [f.name for f in files if not f.is_file()]
    assert not missing, f"test data missing from {slovenia}: {missing}"
    return [own(QgsRasterLayer(str(f), f.stem)) for f in files]


def day_start(iso: str) -> QDateTime:
    d = dt.date.fromisoformat(iso)
    return QDateTime(QDate(d.year, d.month, d.day), QTime(0, 0, 0))


def test_installed_models_are_offered_apart(geogen_provider, model_home: Path, monkeypatch):
    """MODEL lists the DiffusionSat model, CONTROLNET its 3-D ControlNet, as the backend reports them."""
    from qgis.core import QgsApplication

    monkeypatch.setenv("GEOGEN_HOME", str(model_home))
    alg = QgsApplication.processingRegistry().createAlgorithmById("geogen:temporal_sequence")
    assert alg.parameterDefinition("MODEL").options() == ["default", BASE]
    assert alg.parameterDefinition("CONTROLNET").options() == ["default", CONTROLNET]
    monkeypatch.setenv("GEOGEN_HOME", str(model_home.parent / "empty_home"))  # another store: asked again
    alg = QgsApplication.processingRegistry().createAlgorithmById("geogen:temporal_sequence")
    assert alg.parameterDefinition("CONTROLNET").options() == ["default"]


def test_temporal_job_yields_a_group_of_dated_layers(
    geogen_provider, project, series, model_home: Path, monkeypatch, tmp_path: Path
):
    import processing

    monkeypatch.setenv("GEOGEN_HOME", str(model_home))
    out = tmp_path / "slovenia_sequence"
    result = processing.runAndLoadResults(
        "geogen:temporal_sequence",
        {
            "INPUTS": series,
            "TARGET_DATES": TARGETS,
            "EXTENT": f"{AOI.xMinimum()},{AOI.xMaximum()},{AOI.yMinimum()},{AOI.yMaximum()} [EPSG:32633]",
            "GSD": 10,
            "CLOUD_MAX": 0.2,
            "MODEL": BASE,
            "CONTROLNET": CONTROLNET,
            "STEPS": 2,
            "SEED": 3,
            "OUTPUT": str(out),
        },
    )

    job = (out / "job.json").read_text(encoding="utf-8")
    assert f'"model": "{BASE}"' in job and f'"controlnet": "{CONTROLNET}"' in job
    assert Path(result["RESULT"]).is_file()
    group = project.layerTreeRoot().findGroup(f"geogen temporal: {out.name}")
    assert group is not None, [n.name() for n in project.layerTreeRoot().children()]
    layers = [node.layer() for node in group.findLayers()]
    assert [layer.name() for layer in layers] == [
        f"temporal_{d}" + (" (synthetic)" if generated else "") for d, generated in EXPECTED
    ]
    for layer, (iso, generated) in zip(layers, EXPECTED, strict=True):
        assert layer.isValid() and layer.crs() == QgsCoordinateReferenceSystem("EPSG:32633")
        assert layer.extent() == AOI and (layer.width(), layer.height()) == (16, 16)
        tags = gdal.Info(layer.source(), format="json")["metadata"][""]
        assert tags["GEOGEN_DATE"] == iso
        assert tags["GEOGEN_SYNTHETIC"] == ("YES" if generated else "NO")
        assert layer.customProperty(DATE_PROPERTY) == iso
        assert layer.customProperty(SYNTHETIC_PROPERTY) is generated
        props = layer.temporalProperties()
        assert props.isActive() and props.mode() == RASTER_TEMPORAL_FIXED
        span = props.fixedTemporalRange()
        assert (span.begin(), span.end()) == (day_start(iso), day_start(iso).addDays(1))
        assert span.includeBeginning() and not span.includeEnd()
    for iso, _ in EXPECTED:  # the Temporal Controller shows exactly that day's frame at noon
        noon = day_start(iso).addSecs(12 * 3600)
        shown = [
            layer.name()
            for layer in layers
            if layer.temporalProperties().isVisibleInTemporalRange(QgsDateTimeRange(noon, noon))
        ]
        assert shown == [f"temporal_{iso}" + (" (synthetic)" if iso in ("2015-07-01", "2015-07-31") else "")]


def test_controlnet_alone_finds_its_diffusionsat_model(
    geogen_provider, project, series, model_home: Path, monkeypatch, tmp_path: Path
):
    """Only the 3-D ControlNet chosen: the backend takes the only DiffusionSat model installed under it."""
    import json

    import processing

    monkeypatch.setenv("GEOGEN_HOME", str(model_home))
    out = tmp_path / "controlnet_only"
    result = processing.runAndLoadResults(
        "geogen:temporal_sequence",
        {
            "INPUTS": series[:1],
            "TARGET_DATES": "2015-07-21",
            "EXTENT": "465400,465480,5079920,5080000 [EPSG:32633]",
            "CONTROLNET": CONTROLNET,
            "STEPS": 1,
            "OUTPUT": str(out),
        },
    )
    record = json.loads(Path(result["RESULT"]).read_text(encoding="utf-8"))
    generated = [o for o in record["outputs"] if o["synthetic"]]
    assert [o["date"] for o in generated] == ["2015-07-21"]
    assert generated[0]["extra"]["model"] == BASE and generated[0]["extra"]["controlnet"] == CONTROLNET
    group = project.layerTreeRoot().findGroup(f"geogen temporal: {out.name}")
    (layer,) = [n.layer() for n in group.findLayers() if n.layer().customProperty(SYNTHETIC_PROPERTY)]
    assert layer.temporalProperties().fixedTemporalRange().begin() == day_start("2015-07-21")
