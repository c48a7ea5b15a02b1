"""Fixtures: a tiny DiffusionSat pipeline plus a tiny SR ControlNet saved as DiffusionSat's code saved it,
and real Sentinel-2 inputs from ../shared/data. Models are loaded only through geogen's own code."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from tests.diffusion.tiny_pipeline import build_tiny_diffusionsat, randomize_
from tests.models.diffusionsat_reference import CONTROLNET_017_KEYS, write_diffusionsat_folder

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PATCH = "S2A_MSIL2A_20170613T101031_87_48"  # BigEarthNet, Upper Austria, L2A, 120 x 120 px at 10 m
COND_SCALE = 2  # as the released model: the condition at half the target resolution


def build_sr_controlnet(base: Path, folder: Path, *, channels: int = 10, seed: int = 7) -> Path:
    """A random SatControlNetModel copied from ``base``'s UNet, saved with a 0.17-style config and a pickle.

    ``conditioning_embedding_out_channels=(8,)`` keeps the condition encoder from downsampling, so a condition
    at 1/2 of the target lands on the tiny VAE's 2x latent grid (the released model: 1/2 and 4x on 8x).
    """
    from geogen.models import SatControlNetModel
    from geogen.models.loading import load_unet

    unet = load_unet(base / "unet")
    torch.manual_seed(seed)
    model = SatControlNetModel.from_unet(
        unet,
        conditioning_in_channels=channels,
        conditioning_scale=COND_SCALE,
        conditioning_embedding_out_channels=(8,),
    )
    randomize_(model, seed)
    return write_diffusionsat_folder(model.eval(), folder, "ControlNetModel", CONTROLNET_017_KEYS)


@pytest.fixture(scope="session")
def sr_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(base DiffusionSat pipeline folder, SR ControlNet folder)."""
    root = tmp_path_factory.mktemp("sr_models")
    base = build_tiny_diffusionsat(root / "tiny-diffusionsat")
    return base, build_sr_controlnet(base, root / "tiny-sr-controlnet")


@pytest.fixture(autouse=True)
def _empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets an empty model store of its own (never the user's)."""
    home = tmp_path / "geogen_home"
    monkeypatch.setenv("GEOGEN_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def patch(shared_data: Path) -> Path:
    folder = shared_data / "bigearthnet_s2_l2a" / PATCH
    if not folder.is_dir():
        pytest.skip(f"BigEarthNet patch not found: {folder}")
    return folder


@pytest.fixture(scope="session")
def slovenia_dates(slovenia: Path) -> list[Path]:
    files = sorted(slovenia.glob("S2L1C_slovenia_*_13band_refl.tif"))
    if len(files) < 2:
        pytest.skip(f"Slovenian L1C time series not found under {slovenia}")
    return files
