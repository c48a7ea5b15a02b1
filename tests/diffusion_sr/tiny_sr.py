"""A tiny random DiffusionSat SR ControlNet on disk, saved the way DiffusionSat's code saved checkpoints."""

from __future__ import annotations

from pathlib import Path

import torch

from tests.diffusion.tiny_pipeline import randomize_
from tests.models.diffusionsat_reference import CONTROLNET_017_KEYS, write_diffusionsat_folder

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
