"""Fixtures: a tiny DiffusionSat pipeline folder on disk (built once), loaded only through geogen's own
code."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.store_fixture import _empty_store  # noqa: F401 (autouse fixture)
from tests.tiny_models import build_tiny_diffusionsat

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight DiffusionSat pipeline folder (SatUNet, VAE x2, CLIP text, DDIM v-prediction)."""
    return build_tiny_diffusionsat(tmp_path_factory.mktemp("models") / "tiny-diffusionsat")


@pytest.fixture(scope="session")
def tiny_components(tiny_model_dir: Path):
    """The tiny model loaded on the CPU in float32 through the store and ``load_components``."""
    from geogen.diffusion.components import load_components
    from geogen.store import Store, resolve

    entry = resolve(str(tiny_model_dir), store=Store(tiny_model_dir.parent / "unused_store"))
    return load_components(entry, device="cpu", dtype="fp32")
