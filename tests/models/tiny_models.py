"""The tiny DiffusionSat configuration the model tests share (time projection 32 -> embedding 128)."""

from __future__ import annotations

import torch

TINY_UNET = dict(
    sample_size=16,
    block_out_channels=(32, 64),
    layers_per_block=1,
    cross_attention_dim=32,
    attention_head_dim=8,
    norm_num_groups=8,
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
)
TIME_PROJ_DIM = TINY_UNET["block_out_channels"][0]
BATCH, LATENT = 2, 16


def randomize_(model: torch.nn.Module, seed: int, std: float = 0.1) -> torch.nn.Module:
    """Give every parameter (zero-initialised convs included) random values, so no path is trivially zero."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * std)
    return model
