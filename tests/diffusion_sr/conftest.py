"""Fixtures: a tiny DiffusionSat pipeline plus a tiny SR ControlNet saved as DiffusionSat's code saved it,
and real Sentinel-2 inputs from tests/data. Models are loaded only through geogen's own code."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.store_fixture import _empty_store  # noqa: F401 (autouse fixture)
from tests.tiny_models import build_sr_controlnet, build_tiny_diffusionsat

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PATCH = "S2A_MSIL2A_20170613T101031_87_48"  # BigEarthNet, Upper Austria, L2A, 120 x 120 px at 10 m


@pytest.fixture(scope="session")
def sr_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(base DiffusionSat pipeline folder, SR ControlNet folder)."""
    root = tmp_path_factory.mktemp("sr_models")
    base = build_tiny_diffusionsat(root / "tiny-diffusionsat")
    return base, build_sr_controlnet(base, root / "tiny-sr-controlnet")


@pytest.fixture(scope="session")
def patch(test_data: Path) -> Path:
    folder = test_data / "bigearthnet_s2_l2a" / PATCH
    assert folder.is_dir(), f"BigEarthNet patch not found: {folder}"
    return folder


@pytest.fixture(scope="session")
def slovenia_dates(slovenia: Path) -> list[Path]:
    files = sorted(slovenia.glob("S2L1C_slovenia_*_13band_refl.tif"))
    assert len(files) == 4, f"Slovenian L1C time series not found under {slovenia}"
    return files
