"""Fixtures of the Python API tests: the bundled Sentinel-2 sample, FLAIR exemplars, tiny diffusion models."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.helpers import EXEMPLARS, SAMPLE
from tests.store_fixture import _empty_store  # noqa: F401 (autouse fixture)
from tests.tiny_models import build_temporal_models, build_tiny_diffusionsat


@pytest.fixture(scope="session")
def scene() -> Path:
    """The bundled Sentinel-2 L2A sample (one GeoTIFF per band)."""
    return next(p for p in sorted(SAMPLE.iterdir()) if p.is_dir())


@pytest.fixture(scope="session")
def flair_mask() -> Path:
    """A real FLAIR class map (FLAIR-19 codes) bundled as an exemplar."""
    return EXEMPLARS / "flair_067998" / "MSK_067998.tif"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight DiffusionSat pipeline folder."""
    return build_tiny_diffusionsat(tmp_path_factory.mktemp("models") / "tiny-diffusionsat")


@pytest.fixture(scope="session")
def temporal_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(tiny DiffusionSat pipeline folder, tiny 3-D ControlNet folder)."""
    return build_temporal_models(tmp_path_factory.mktemp("temporal_models"))
