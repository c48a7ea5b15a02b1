"""Fixtures for the plugin tests, run in real QGIS headless (pytest-qgis; QT_QPA_PLATFORM=offscreen).

End-to-end tests run the real backend: GEOGEN_BACKEND, else the repository's .venv. Failure cases use
fake_backend.py run with this Python.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TEST_DATA = REPO / "tests" / "data"  # the backend tests' real, openly licensed data (see its README)
_REPO_BACKEND = REPO / ".venv" / ("Scripts/geogen.exe" if sys.platform == "win32" else "bin/geogen")


@pytest.fixture(scope="session")
def real_backend_path() -> str:
    """The real backend executable (GEOGEN_BACKEND or the repository's venv); fails loudly when missing."""
    path = os.environ.get("GEOGEN_BACKEND") or (str(_REPO_BACKEND) if _REPO_BACKEND.is_file() else "")
    if not path or not Path(path).is_file():
        pytest.fail(
            "no geogen backend: set GEOGEN_BACKEND to the backend's `geogen` executable "
            "(python3 bootstrap.py setup builds one in .venv)"
        )
    return path


@pytest.fixture(autouse=True)
def _backend_env(monkeypatch, real_backend_path: str):
    """Every test starts with the real backend configured through GEOGEN_BACKEND and no plugin setting."""
    from qgis_plugin.common import settings

    monkeypatch.setenv("GEOGEN_BACKEND", real_backend_path)
    settings.set_backend_path("")
    yield


@pytest.fixture(scope="session")
def slovenia(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of tests/data/s2_l1c_slovenia_eolearn (the real Slovenian Sentinel-2 series, land-cover mask and
    polygons): QGIS writes .aux.xml statistics next to the rasters it opens, and those stay out of the repository."""
    folder = tmp_path_factory.mktemp("data") / "s2_l1c_slovenia_eolearn"
    shutil.copytree(TEST_DATA / "s2_l1c_slovenia_eolearn", folder)
    dates = ("20150711", "20150731", "20150820", "20150830")
    names = [f"S2L1C_slovenia_{d}_13band_refl.tif" for d in dates]
    missing = [
        n for n in [*names, "LULC_mask_10m.tif", "LULC_polygons_MKGP_RABA.gpkg"] if not (folder / n).is_file()
    ]
    assert not missing, f"test data missing from {folder}: {missing}"
    return folder


@pytest.fixture()
def geogen_provider(qgis_processing):
    """The geogen Processing provider, registered for one test."""
    from qgis.core import QgsApplication

    from qgis_plugin.provider import GeogenProvider

    registry = QgsApplication.processingRegistry()
    if registry.providerById("geogen") is not None:
        registry.removeProvider("geogen")
    provider = GeogenProvider()
    assert registry.addProvider(provider)
    yield provider
    if registry.providerById("geogen") is not None:
        registry.removeProvider("geogen")


@pytest.fixture()
def project(qgis_new_project):
    """A clean project; layers dropped afterwards (avoids crashes at exit)."""
    from qgis.core import QgsProject

    yield QgsProject.instance()
    QgsProject.instance().removeAllMapLayers()
    QgsProject.instance().layerTreeRoot().removeAllChildren()


@pytest.fixture()
def own():
    """``own(layer)`` hands a test's input layer to a layer store that deletes it after the test, so no layer
    outlives QGIS through a kept traceback (which crashes the interpreter at exit)."""
    import gc

    from qgis.core import QgsMapLayerStore

    store = QgsMapLayerStore()

    def _own(layer):
        store.addMapLayer(layer)
        return layer

    yield _own
    store.removeAllMapLayers()
    gc.collect()
