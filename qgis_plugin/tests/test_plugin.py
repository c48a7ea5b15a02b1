"""The plugin loads and unloads through QGIS's entry points, and its provider registers every algorithm."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest
from qgis.core import QgsApplication, QgsProcessingException, QgsVectorLayer

EXPECTED = {
    "geogen:sketch_to_scene",
    "geogen:landcover_raster_to_scene",
    "geogen:text_to_scene",
    "geogen:superresolve_s2",
    "geogen:temporal_sequence",
}
REPO = Path(__file__).resolve().parents[2]


def test_plugin_loads_and_unloads(qgis_iface, qgis_processing):
    import qgis_plugin

    registry = QgsApplication.processingRegistry()
    if registry.providerById("geogen") is not None:
        registry.removeProvider("geogen")
    plugin = qgis_plugin.classFactory(qgis_iface)
    plugin.initGui()
    try:
        provider = registry.providerById("geogen")
        assert provider is not None
        assert {a.id() for a in provider.algorithms()} == EXPECTED
        assert plugin.dock is not None and plugin.dock.objectName() == "GeogenDock"
        assert plugin.dock.widget() is not None
        plugin.action.setChecked(True)
        assert not plugin.dock.isHidden()  # shown (its parent, the mock main window, is not on screen)
    finally:
        plugin.unload()
    assert registry.providerById("geogen") is None
    assert plugin.dock is None and plugin.action is None


def test_algorithms_have_parameters_help_and_backend_engines(geogen_provider):
    algs = {a.id(): a for a in geogen_provider.algorithms()}
    for alg in algs.values():
        assert len(alg.shortHelpString()) > 200
        names = {p.name() for p in alg.parameterDefinitions()}
        assert {"ENGINE", "MODEL", "SEED", "OUTPUT"} <= names
        assert {o.name() for o in alg.outputDefinitions()} >= {"OUTPUT_LAYERS", "RESULT"}
    sketch = algs["geogen:sketch_to_scene"]
    assert sketch.parameterDefinition("CLASS_FIELD").parentLayerParameterName() == "INPUT"
    assert {"EXTENT", "GSD", "DATE", "PROMPT", "MAPPING", "STEPS"} <= {
        p.name() for p in sketch.parameterDefinitions()
    }
    engines = algs["geogen:superresolve_s2"].parameterDefinition("ENGINE")
    assert engines.options()[0] == "sharpen"  # the backend's default comes first
    assert "bicubic" in engines.options() and engines.defaultValue() == "sharpen"
    assert algs["geogen:sketch_to_scene"].parameterDefinition("ENGINE").options()[0] == "exemplar"
    assert {"PROMPT", "EXTENT", "GSD"} <= {
        p.name() for p in algs["geogen:text_to_scene"].parameterDefinitions()
    }
    assert {"TARGET_DATES", "INPUTS"} <= {
        p.name() for p in algs["geogen:temporal_sequence"].parameterDefinitions()
    }
    ok, message = algs["geogen:sketch_to_scene"].canExecute()
    assert ok and message == ""
    assert geogen_provider.canBeActivated()


def test_missing_backend_gives_a_clear_message_everywhere(
    geogen_provider, monkeypatch, tmp_path, project, own
):
    import processing

    monkeypatch.setenv("GEOGEN_BACKEND", str(tmp_path / "no-such-env" / "bin" / "geogen"))
    assert not geogen_provider.canBeActivated()
    assert "pip install geogen" in geogen_provider.warningMessage()
    ok, message = (
        QgsApplication.processingRegistry().createAlgorithmById("geogen:superresolve_s2").canExecute()
    )
    assert not ok and "GEOGEN_BACKEND" in message and "pip install geogen" in message
    layer = own(QgsVectorLayer("Polygon?crs=EPSG:32633&field=c:integer", "empty", "memory"))
    with pytest.raises(QgsProcessingException, match="geogen backend not found"):
        processing.run(
            "geogen:sketch_to_scene", {"INPUT": layer, "CLASS_FIELD": "c", "OUTPUT": str(tmp_path / "o")}
        )
    assert project.count() == 0


def test_metadata_supports_qgis_3_22_to_4():
    meta = configparser.ConfigParser(interpolation=None)
    meta.read(REPO / "metadata.txt", encoding="utf-8")
    general = meta["general"]
    assert general["qgisMinimumVersion"] == "3.22"
    assert general["qgisMaximumVersion"] == "4.99"
    assert general["supportsQt6"] == "True"
    assert general["hasProcessingProvider"] == "yes"
    for key in (
        "name",
        "description",
        "about",
        "version",
        "author",
        "email",
        "repository",
        "tracker",
        "icon",
    ):
        assert general.get(key), key
    assert (REPO / "qgis_plugin" / general["icon"]).is_file()
