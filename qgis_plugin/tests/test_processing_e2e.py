"""End to end through Processing with the REAL backend process: inputs exported by QGIS, `geogen run`, outputs
loaded as georeferenced layers at the right place; failures and cancellation reported cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from osgeo import gdal
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsMultiBandColorRenderer,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorLayer,
)

REPO = Path(__file__).resolve().parents[2]
MAPPING = REPO / "geogen" / "data" / "mappings" / "slovenia_lulc_to_flair.json"
AOI = QgsRectangle(465400, 5079500, 465600, 5079700)  # 200 m x 200 m inside the Slovenian polygons
UTM33 = QgsCoordinateReferenceSystem("EPSG:32633")


class RecordingFeedback(QgsProcessingFeedback):
    """Keeps what the algorithm reported."""

    def __init__(self) -> None:
        super().__init__()
        self.progress: list[float] = []
        self.infos: list[str] = []
        self.warnings: list[str] = []
        self.progressChanged.connect(self.progress.append)

    def pushInfo(self, info):
        self.infos.append(info)
        super().pushInfo(info)

    def pushWarning(self, warning):
        self.warnings.append(warning)
        super().pushWarning(warning)


def loaded_layers(project, group_prefix: str) -> list[QgsRasterLayer]:
    groups = [g for g in project.layerTreeRoot().children() if g.name().startswith(group_prefix)]
    assert len(groups) == 1, [g.name() for g in project.layerTreeRoot().children()]
    return [node.layer() for node in groups[0].findLayers()]


def assert_extent(layer_extent: QgsRectangle, expected: QgsRectangle, tol: float) -> None:
    for got, want in (
        (layer_extent.xMinimum(), expected.xMinimum()),
        (layer_extent.xMaximum(), expected.xMaximum()),
        (layer_extent.yMinimum(), expected.yMinimum()),
        (layer_extent.yMaximum(), expected.yMaximum()),
    ):
        assert abs(got - want) <= tol, (layer_extent.toString(), expected.toString())


def no_partials(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if ".partial" in p.name or p.name.startswith("cancel")]


def test_sketch_polygons_to_scene_exemplar(geogen_provider, project, own, slovenia: Path, tmp_path: Path):
    import processing

    polygons = own(QgsVectorLayer(str(slovenia / "LULC_polygons_MKGP_RABA.gpkg"), "lulc", "ogr"))
    assert polygons.isValid()
    feedback = RecordingFeedback()
    out = tmp_path / "sketch_job"
    result = processing.runAndLoadResults(
        "geogen:sketch_to_scene",
        {
            "INPUT": polygons,
            "CLASS_FIELD": "LULC_ID",
            "MAPPING": str(MAPPING),
            "ENGINE": "exemplar",
            "EXTENT": f"{AOI.xMinimum()},{AOI.xMaximum()},{AOI.yMinimum()},{AOI.yMaximum()} [EPSG:32633]",
            "GSD": 1.0,
            "SEED": 3,
            "OUTPUT": str(out),
        },
        feedback=feedback,
    )

    assert (out / "job.json").is_file() and (out / "inputs" / "landcover.gpkg").is_file()
    assert Path(result["RESULT"]).is_file()
    layers = loaded_layers(project, "geogen sketch")
    assert len(layers) == 1
    layer = layers[0]
    assert layer.isValid() and layer.crs() == UTM33
    assert_extent(layer.extent(), AOI, tol=1.0)
    assert (layer.width(), layer.height()) == (200, 200)
    assert "(synthetic)" in layer.name()
    renderer = layer.renderer()
    assert isinstance(renderer, QgsMultiBandColorRenderer)
    assert (renderer.redBand(), renderer.greenBand(), renderer.blueBand()) == (1, 2, 3)
    rgb = gdal.Open(layer.source()).ReadAsArray()[:3].astype(float)
    assert rgb.std() > 5  # a textured image, not a flat fill
    assert feedback.progress and max(feedback.progress) == pytest.approx(100.0)
    assert no_partials(out)


def test_landcover_raster_to_scene_covers_the_raster(
    geogen_provider, project, own, slovenia: Path, tmp_path: Path
):
    import processing

    mask = own(QgsRasterLayer(str(slovenia / "LULC_mask_10m.tif"), "mask"))
    feedback = RecordingFeedback()
    processing.runAndLoadResults(
        "geogen:landcover_raster_to_scene",
        {"INPUT": mask, "MAPPING": str(MAPPING), "GSD": 2.0, "OUTPUT": str(tmp_path / "raster_job")},
        feedback=feedback,
    )
    (layer,) = loaded_layers(project, "geogen sketch")
    assert layer.crs() == mask.crs()
    assert_extent(layer.extent(), mask.extent(), tol=2.0)  # the raster's place on a snapped 2 m grid
    assert layer.rasterUnitsPerPixelX() == pytest.approx(2.0)
    assert any("exemplars" in w for w in feedback.warnings)  # the backend's warnings reach the feedback


def test_superresolve_s2_layer_with_sharpen(geogen_provider, project, own, slovenia: Path, tmp_path: Path):
    import processing

    s2 = own(QgsRasterLayer(str(slovenia / "S2L1C_slovenia_20150711_13band_refl.tif"), "s2"))
    feedback = RecordingFeedback()
    out = tmp_path / "sr_job"
    result = processing.runAndLoadResults(
        "geogen:superresolve_s2", {"INPUT": s2, "ENGINE": "sharpen", "OUTPUT": str(out)}, feedback=feedback
    )
    layers = loaded_layers(project, "geogen superres")
    assert len(layers) == 1 and layers[0].source() == result["OUTPUT_LAYERS"][0]
    layer = layers[0]
    assert layer.crs() == s2.crs()
    assert_extent(layer.extent(), s2.extent(), tol=10.0)  # the same place, on a 10 m grid
    assert abs(layer.rasterUnitsPerPixelX() - 10.0) < 0.1
    renderer = layer.renderer()
    names = [layer.bandName(b) for b in (renderer.redBand(), renderer.greenBand(), renderer.blueBand())]
    assert [n.split(": ")[-1] for n in names] == ["B04", "B03", "B02"]
    assert "(synthetic)" not in layer.name()
    assert max(feedback.progress) == pytest.approx(100.0)
    assert no_partials(out)


@pytest.mark.parametrize(
    "alg, params, expected",
    [
        (
            "geogen:text_to_scene",
            {
                "PROMPT": "a village with fields",
                "GSD": 1.0,
                "EXTENT": "465400,465600,5079500,5079700 [EPSG:32633]",
            },
            "needs a model",
        ),
        ("geogen:temporal_sequence", {"TARGET_DATES": "2020-03-01, 2020-06-01"}, "nothing to generate from"),
    ],
)
def test_job_the_backend_cannot_run_reports_its_message(
    geogen_provider, project, tmp_path: Path, monkeypatch, alg, params, expected
):
    """A valid job the backend cannot run (no model installed, nothing to start from): its words come back."""
    import processing

    monkeypatch.setenv("GEOGEN_HOME", str(tmp_path / "empty_store"))
    with pytest.raises(QgsProcessingException) as err:
        processing.runAndLoadResults(alg, {**params, "OUTPUT": str(tmp_path / "job")})
    message = str(err.value)  # the backend's own words
    assert expected in message, message
    assert "Traceback" not in message and "invalid job" not in message  # the plugin's job.json was valid
    assert project.count() == 0
    assert (tmp_path / "job" / "job.json").is_file()


def test_failing_job_shows_the_backend_error(geogen_provider, project, own, slovenia: Path, tmp_path: Path):
    """A class raster is not a Sentinel-2 stack: the backend says so, nothing is loaded, QGIS carries on."""
    import processing

    not_s2 = own(QgsRasterLayer(str(slovenia / "LULC_mask_10m.tif"), "mask"))
    with pytest.raises(QgsProcessingException) as err:
        processing.runAndLoadResults(
            "geogen:superresolve_s2", {"INPUT": not_s2, "OUTPUT": str(tmp_path / "bad")}
        )
    message = str(err.value)
    assert "LULC_mask_10m.tif" in message and "Sentinel-2" in message and "Traceback" not in message
    assert project.count() == 0


def test_bad_parameters_are_refused_before_running(geogen_provider, tmp_path: Path, slovenia: Path):
    import processing

    with pytest.raises(QgsProcessingException, match="exactly one"):
        processing.run("geogen:superresolve_s2", {"OUTPUT": str(tmp_path / "none")})
    with pytest.raises(QgsProcessingException, match="not a date"):
        processing.run(
            "geogen:temporal_sequence", {"TARGET_DATES": "2020-13-45", "OUTPUT": str(tmp_path / "d")}
        )


def test_cancel_stops_the_real_backend_and_loads_nothing(
    geogen_provider, project, own, slovenia: Path, tmp_path: Path
):
    import processing

    polygons = own(QgsVectorLayer(str(slovenia / "LULC_polygons_MKGP_RABA.gpkg"), "lulc", "ogr"))
    feedback = RecordingFeedback()
    feedback.progressChanged.connect(lambda p: feedback.cancel() if p > 0 else None)
    out = tmp_path / "cancelled"
    with pytest.raises(QgsProcessingException, match="cancelled"):
        processing.runAndLoadResults(
            "geogen:sketch_to_scene",
            {
                "INPUT": polygons,
                "CLASS_FIELD": "LULC_ID",
                "MAPPING": str(MAPPING),
                "EXTENT": "465000,465800,5079400,5079800 [EPSG:32633]",  # two tiles
                "GSD": 1.0,
                "OUTPUT": str(out),
            },
            feedback=feedback,
        )
    assert project.count() == 0
    assert not list(out.glob("*.tif")) and no_partials(out)
