"""The condition image over a whole generation canvas, cut into each latent window's crop on demand.

The prepared 10 m channels (uint8) covering the canvas are held once; a window's crop is the bilinear resize
of its footprint to ``window / conditioning_scale`` pixels, computed by sampling the bilinear interpolant of
the 10 m image at the crop's pixel centres (torch's ``align_corners=False`` convention, edges clamped). That
equals ``transforms.Resize`` of the footprint as in training (bilinear; its antialiasing does nothing when
enlarging), and overlapping windows see the same values where their crop pixels coincide.
"""

from __future__ import annotations

import numpy as np
import torch
from affine import Affine

from geogen.engines.sr_controlnet.condition import Normalisation, read_condition
from geogen.io.sentinel2 import S2Stack
from tiles import Grid, Window

CACHE_BYTES = 256 * 2**20
"""Crops are kept for reuse across denoising steps up to this many bytes."""


def _linear_taps(positions: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbour indices and upper weight to sample pixel-centre ``positions`` on an axis of ``n`` pixels."""
    p = np.clip(positions, 0.0, n - 1.0)
    i0 = np.minimum(np.floor(p).astype(np.intp), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    return i0, i1, (p - i0).astype(np.float32)


def bilinear_sample(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``image`` (C, H, W) sampled at pixel-centre coordinates ``rows`` x ``cols`` (float32, edges clamp)."""
    r0, r1, wr = _linear_taps(rows, image.shape[1])
    c0, c1, wc = _linear_taps(cols, image.shape[2])
    top, left = int(r0.min()), int(c0.min())
    x = image[:, top : int(r1.max()) + 1, left : int(c1.max()) + 1].astype(np.float32)
    r0, r1, c0, c1 = r0 - top, r1 - top, c0 - left, c1 - left
    x = x[:, r0, :] * (1 - wr)[None, :, None] + x[:, r1, :] * wr[None, :, None]
    return x[:, :, c0] * (1 - wc)[None, None, :] + x[:, :, c1] * wc[None, None, :]


class ConditionCanvas:
    """The condition image of a whole canvas, (C, H / cond_scale, W / cond_scale), computed crop by crop.

    Behaves like the condition tensor ``geogen.diffusion.control.ControlNetHook`` expects (``ndim``,
    ``shape`` and ``[..., rows, cols]`` slicing give float32 torch tensors in [0, 1]) without ever holding it
    whole: only the prepared 10 m channels (uint8) are kept, plus recently used crops.

    Args:
        channels: (C, h, w) uint8 prepared channels (``read_condition``).
        to_source: affine from canvas pixel coordinates to ``channels`` pixel coordinates (both pixel-edge
        based). canvas_shape: (rows, cols) of the canvas in output pixels.
        cond_scale: output pixels per condition pixel (the ControlNet's ``conditioning_scale``).
        cache_bytes: crops kept for reuse across denoising steps up to this size.
    """

    ndim = 3

    def __init__(
        self,
        channels: np.ndarray,
        to_source: Affine,
        canvas_shape: tuple[int, int],
        cond_scale: int,
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        s = int(cond_scale)
        if canvas_shape[0] % s or canvas_shape[1] % s:
            raise ValueError(
                f"a canvas of {canvas_shape} px is not a whole number of {s} x {s} condition pixels"
            )
        self.channels = channels
        self.to_source = to_source
        self.cond_scale = s
        self.shape = (channels.shape[0], canvas_shape[0] // s, canvas_shape[1] // s)
        self.cache_bytes = cache_bytes
        self._cache: dict[tuple[int, int, int, int], torch.Tensor] = {}
        self._cached = 0

    @classmethod
    def from_stack(
        cls, stack: S2Stack, canvas: Grid, norm: Normalisation, cond_scale: int
    ) -> ConditionCanvas:
        """Prepare the channels of the 10 m pixels under ``canvas`` (plus one pixel around) from ``stack``."""
        to_10m = ~stack.grid.transform @ canvas.transform
        x0, y0 = to_10m @ (0, 0)
        x1, y1 = to_10m @ (canvas.width, canvas.height)
        c0, r0 = int(np.floor(min(x0, x1))) - 1, int(np.floor(min(y0, y1))) - 1
        c1, r1 = int(np.ceil(max(x0, x1))) + 1, int(np.ceil(max(y0, y1))) + 1
        channels, _ = read_condition(stack, Window(c0, r0, c1 - c0, r1 - r0), norm)
        return cls(channels, Affine.translation(-c0, -r0) @ to_10m, canvas.shape, cond_scale)

    def __getitem__(self, key: tuple) -> torch.Tensor:
        """``[..., r0:r1, c0:c1]``: the condition pixels rows r0..r1-1, columns c0..c1-1 (steps of 1)."""
        rows, cols = key[-2], key[-1]
        if (
            not (isinstance(rows, slice) and isinstance(cols, slice))
            or rows.step not in (None, 1)
            or cols.step not in (None, 1)
        ):
            raise TypeError(f"a condition canvas is read with [..., rows, cols] slices, got {key!r}")
        r0, r1, _ = rows.indices(self.shape[1])
        c0, c1, _ = cols.indices(self.shape[2])
        return self.crop(r0, r1, c0, c1)

    def crop(self, r0: int, r1: int, c0: int, c1: int) -> torch.Tensor:
        """Condition pixels [r0, r1) x [c0, c1) as a (C, r1 - r0, c1 - c0) float32 tensor in [0, 1]."""
        key = (r0, r1, c0, c1)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        s, t = self.cond_scale, self.to_source
        cols = t.a * (np.arange(c0, c1) + 0.5) * s + t.c - 0.5
        rows = t.e * (np.arange(r0, r1) + 0.5) * s + t.f - 0.5
        crop = torch.from_numpy(bilinear_sample(self.channels, rows, cols) / np.float32(255.0))
        nbytes = crop.numel() * crop.element_size()
        if self._cached + nbytes <= self.cache_bytes:
            self._cache[key] = crop
            self._cached += nbytes
        return crop
