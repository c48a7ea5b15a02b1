"""Decoding a latent canvas to pixels tile by tile, blended into a streaming mosaic (memory bounded).

The latent canvas is cut into overlapping tiles (``tiles.plan`` in latent pixels); each is decoded by the VAE
on its own and its pixels (``tile.scaled(vae_factor)``) go into a ``tiles.StreamingMosaic`` that blends the
overlaps and hands finished uint8 bands to the sink (a GeoTIFF writer). Only the latent canvas (a few MB even
for 10 000 px squares) is held whole; the pixels held are about one tile band.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from geogen.errors import EngineError
from tiles import Sink, StreamingMosaic, WeightKind, plan, stream_order

Progress = Callable[[int, int], None]


@dataclass
class DecodeStats:
    """What decoding held and did: VAE calls, the mosaic's peak buffer and buffered rows."""

    tiles: int
    peak_buffer_bytes: int
    peak_buffered_rows: int


# The VAE is Any, as in DiffusionComponents: its config is read by attribute, which neither diffusers' typing
# nor torch.nn.Module's can express.
def vae_factor(vae: Any) -> int:
    """Pixels per latent pixel of an AutoencoderKL (2 ** (number of blocks - 1))."""
    return 2 ** (len(vae.config.block_out_channels) - 1)


@torch.no_grad()
def decode_latents(
    vae: Any,
    latents: torch.Tensor,
    sink: Sink,
    *,
    tile: int = 64,
    overlap: int = 16,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    weight_kind: WeightKind = "cosine",
    progress: Progress | None = None,
) -> DecodeStats:
    """Decode ``latents`` (C, rows, cols) into uint8 RGB handed to ``sink(window, array)`` band by band.

    Args:
        vae: an AutoencoderKL (``decode(z).sample`` in [-1, 1]); latents are divided by its scaling factor.
        latents: the clean latent canvas, float32.
        sink: receives (pixel window, (3, h, w) uint8) for disjoint windows covering the pixel canvas once.
        tile: decode tile side in latent pixels (edge policy of ``tiles.plan``).
        overlap: overlap of neighbouring decode tiles in latent pixels (blended in pixel space).
        device: where the VAE runs (default: the latents' device).
        dtype: the VAE's input dtype (default: its parameters').
        weight_kind: blending ramp in the overlaps (``tiles.blend``).
        progress: called as ``progress(done, total)`` after each tile (a cancellation point).

    Raises:
        EngineError: a latent canvas of the wrong shape, or tile/overlap sizes that do not plan.
    """
    if latents.ndim != 3:
        raise EngineError(f"latents must be (channels, rows, cols), got shape {tuple(latents.shape)}")
    device = torch.device(device) if device is not None else latents.device
    dtype = dtype or next(vae.parameters()).dtype
    factor = vae_factor(vae)
    scaling = float(getattr(vae.config, "scaling_factor", 1.0) or 1.0)
    rows, cols = int(latents.shape[1]), int(latents.shape[2])
    try:
        latent_tiles = plan((rows, cols), tile, min(overlap, max(0, tile - 1)))
    except ValueError as exc:
        raise EngineError(f"cannot plan decode tiles: {exc}") from None
    pixel_tiles = [t.scaled(factor) for t in latent_tiles]
    by_index = {t.index: t for t in pixel_tiles}
    order = stream_order(latent_tiles)
    with StreamingMosaic(
        (rows * factor, cols * factor), 3, pixel_tiles, sink, dtype=np.uint8, weight_kind=weight_kind
    ) as mosaic:
        for done, t in enumerate(order, start=1):
            rs, cs = t.window.slices
            z = (latents[:, rs, cs] / scaling)[None].to(device=device, dtype=dtype)
            image = vae.decode(z).sample[0].float()
            pixels = ((image / 2 + 0.5).clamp(0, 1) * 255).cpu().numpy()
            mosaic.add(by_index[t.index], pixels)
            if progress is not None:
                progress(done, len(order))
    return DecodeStats(len(order), mosaic.peak_buffer_bytes, mosaic.peak_buffered_rows)
