"""What the model tests share on top of ``tests.tiny_models``: batch and latent sizes, the time projection
width (32 -> embedding 128) and their weight randomisation."""

from __future__ import annotations

import torch

from tests.tiny_models import TINY_UNET
from tests.tiny_models import randomize_ as _randomize_

TIME_PROJ_DIM = TINY_UNET["block_out_channels"][0]
BATCH, LATENT = 2, 16


def randomize_(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every parameter N(0, 0.1), zero-initialised convs and norm scales too: no path is trivially zero."""
    return _randomize_(model, seed, std=0.1, norms_near_one=False)
