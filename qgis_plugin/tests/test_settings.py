"""Settings live in QgsSettings under geogen/: backend discovery, engine defaults and output folders."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsSettings

from qgis_plugin.common import settings
from qgis_plugin.runner.backend import find_backend


def test_backend_path_setting_is_used_when_no_environment_variable(monkeypatch, real_backend_path: str):
    monkeypatch.delenv("GEOGEN_BACKEND")
    settings.set_backend_path(real_backend_path)
    assert QgsSettings().value("geogen/backend_path") == real_backend_path
    backend = find_backend()
    assert backend.command == (real_backend_path,) and "settings" in backend.source
    settings.set_backend_path("")
    assert QgsSettings().value("geogen/backend_path") is None


def test_output_folder_and_default_engine_round_trip(tmp_path: Path):
    assert settings.output_folder() == settings.default_output_folder()
    assert settings.default_output_folder().name == "geogen"
    settings.set_output_folder(str(tmp_path))
    assert settings.output_folder() == tmp_path
    settings.set_output_folder("")
    settings.set_default_engine("superres", "bicubic")
    assert settings.default_engine("superres") == "bicubic" and settings.default_engine("sketch") == ""
    settings.set_default_engine("superres", "")


def test_default_engine_setting_preselects_the_algorithm_engine(geogen_provider):
    from qgis_plugin.algorithms.superres import SuperResolveS2Algorithm

    settings.set_default_engine("superres", "bicubic")
    try:
        alg = SuperResolveS2Algorithm()
        alg.initAlgorithm()
        assert alg.parameterDefinition("ENGINE").defaultValue() == "bicubic"
    finally:
        settings.set_default_engine("superres", "")
