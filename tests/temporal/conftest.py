"""Fixtures: a tiny DiffusionSat pipeline and a tiny 3-D ControlNet saved on disk (loaded only through
geogen's own store and loaders), the real Slovenian Sentinel-2 series and a small crop of a real NAIP
frame."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from rasterio.windows import Window as RioWindow

from tests.diffusion.tiny_pipeline import build_tiny_diffusionsat, randomize_

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SLOVENIA_DATES = ("20150711", "20150731", "20150820", "20150830")
CLEAR = ("20150711", "20150830")
NAIP_FRAME = "m_4709963_se_14_1_20090818.tif"
# Inside the Slovenian footprint (EPSG:32633): 40 x 40 px at 10 m.
SLOVENIA_AOI = (465400.0, 5079600.0, 465800.0, 5080000.0)


def build_tiny_controlnet_3d(base: Path, folder: Path, *, seed: int = 11) -> Path:
    """A random 3-D ControlNet copied from ``base``'s UNet (RGB frames, temporal attention mixed in at 0.5).

    ``conditioning_embedding_out_channels=(8, 16)`` gives one stride-(1, 2, 2) stage: frames at full pixel
    size land on the tiny VAE's 2x latent grid (the released model: three stages for the 8x VAE).
    """
    from geogen.models import SatControlNetModel3D
    from geogen.models.loading import load_unet

    unet = load_unet(base / "unet")
    torch.manual_seed(seed)
    model = SatControlNetModel3D.from_unet(
        unet,
        conditioning_in_channels=3,
        use_temporal_transformer=True,
        conditioning_embedding_out_channels=(8, 16),
    )
    randomize_(model, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for alpha in model.mixing_attns:
            alpha.fill_(0.5)
        for (
            name,
            p,
        ) in model.named_parameters():  # residuals and metadata strong enough to show in 8-bit pixels
            if name.startswith(("controlnet_down_blocks", "controlnet_mid_block")):
                p.copy_(torch.randn(p.shape, generator=gen))
            elif name.startswith("metadata_embedding"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    model.eval().save_pretrained(folder)
    return folder


def build_sensitive_diffusionsat(root: Path) -> Path:
    """The tiny DiffusionSat pipeline with its UNet's output layer scaled up 30 times.

    With the shared tiny weights the UNet's prediction is about 0.03 in size, so the decoded pixels hardly
    depend on anything the model is given; scaled, a ControlNet moves them by about 24 levels of 255.
    """
    from geogen.models.loading import load_unet

    build_tiny_diffusionsat(root)
    unet = load_unet(root / "unet")
    with torch.no_grad():
        unet.conv_out.weight.mul_(30.0)
        unet.conv_out.bias.mul_(30.0)
    unet.save_pretrained(root / "unet")
    return root


@pytest.fixture(scope="session")
def temporal_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(tiny DiffusionSat pipeline folder, tiny 3-D ControlNet folder)."""
    root = tmp_path_factory.mktemp("temporal_models")
    base = build_sensitive_diffusionsat(root / "tiny-diffusionsat")
    return base, build_tiny_controlnet_3d(base, root / "tiny-controlnet-3d")


@pytest.fixture(autouse=True)
def _empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets an empty model store of its own (never the user's)."""
    home = tmp_path / "geogen_home"
    monkeypatch.setenv("GEOGEN_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def slovenia_series(slovenia: Path) -> list[Path]:
    files = [slovenia / f"S2L1C_slovenia_{d}_13band_refl.tif" for d in SLOVENIA_DATES]
    missing = [f for f in files if not f.is_file()]
    if missing:
        pytest.skip(f"Slovenian L1C series not found: {missing[0]}")
    return files


@pytest.fixture(scope="session")
def naip_crop(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 32 x 28 px crop (5 m) of a real NAIP frame, keeping its name (date 2009-08-18), CRS and nodata."""
    src_path = shared_data / "naip_nd_timeseries" / NAIP_FRAME
    if not src_path.is_file():
        pytest.skip(f"NAIP frame not found: {src_path}")
    out = tmp_path_factory.mktemp("naip") / NAIP_FRAME
    win = RioWindow(400, 300, 32, 28)
    with rasterio.open(src_path) as src:
        data = src.read(window=win)
        transform = src.transform @ Affine.translation(win.col_off, win.row_off)
        profile = src.profile | {
            "width": win.width,
            "height": win.height,
            "transform": transform,
            "blockxsize": 16,
            "blockysize": 16,
        }
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data)
    assert np.all(data[:3] > 0)
    return out
