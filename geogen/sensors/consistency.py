"""Making a generated super-resolution agree with the Sentinel-2 image it came from.

A diffusion model draws plausible detail but its colours and large-scale brightness drift from the input
(opensr-test measures that drift as reflectance, spectral and spatial "consistency"). Three corrections, each
a function on arrays whose last two axes are (rows, cols), bands first:

- ``histogram``: every band's values are mapped so that their distribution equals the input band's
  (LDSR-S2's step). One global lookup table per band, computed from scene-wide histograms, so applying it
  window by window is exactly the same as applying it to the whole image.
- ``lowpass``: after the histogram mapping, the output's frequencies below the input's Nyquist frequency are
  replaced by the input's (SEN2SR's step: keep the input's spectrum inside radius min(H, W) / 2 / scale of the
  FFT). The mask is a disc of radius ``1 / (2 scale)`` cycles per pixel with a raised-cosine edge
  (``LOWPASS_ROLLOFF``) so its spatial kernel is short; it is applied as that truncated kernel, hence exactly
  the same in tiles with a halo of ``lowpass_support`` pixels as on the whole image.
- ``project``: after the histogram mapping, the smallest (least-squares) change that makes the output degrade
  exactly to the input under the sensor model (``geogen.sensors.mtf.project_consistent``).

Edges of the whole image are mirrored (``d c b a | a b c d``) in every method, and ``tiled`` applies a method
block by block with mirrored halos, so tiled and whole-image results agree (see tests/diffusion_sr).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from functools import cache

import numpy as np

from geogen.sensors import mtf
from geogen.sensors.sentinel2 import REFLECTANCE_SCALE
from tiles import Window

METHODS = ("histogram", "lowpass", "project")
DEFAULT_METHOD = "project"
"""Chosen by measurement (bench/results/sr_controlnet.md): lowest reflectance and spectral error against the
input under both the sensor model and opensr-test's bilinear degradation, and the best PSNR against the truth
in the Wald proxy."""

LOWPASS_ROLLOFF = 0.25
"""Relative width of the low-pass disc's raised-cosine edge (the transition ends at the cut-off)."""
_KERNEL_TOL = 1e-4
_DN_BINS = 2**16


def reflectance_histogram(values: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Counts of ``values`` (bands, ...) in bins of one DN (0 .. 65535, clipped): (bands, 65536)."""
    values = np.asarray(values, dtype=np.float32)
    bands = values.shape[0]
    flat = values.reshape(bands, -1)
    mask = None if valid is None else np.broadcast_to(valid, values.shape[1:]).reshape(-1)
    out = np.zeros((bands, _DN_BINS), np.int64)
    for b in range(bands):
        v = flat[b] if mask is None else flat[b][mask]
        dn = np.clip(np.rint(v * REFLECTANCE_SCALE), 0, _DN_BINS - 1).astype(np.int64)
        out[b] = np.bincount(dn, minlength=_DN_BINS)
    return out


def level_histogram(raw: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Counts of the 256 levels of an 8-bit image (bands, h, w): (bands, 256)."""
    raw = np.asarray(raw)
    out = np.zeros((raw.shape[0], 256), np.int64)
    mask = None if valid is None else np.broadcast_to(valid, raw.shape[1:])
    for b in range(raw.shape[0]):
        v = raw[b] if mask is None else raw[b][mask]
        out[b] = np.bincount(v.reshape(-1).astype(np.int64), minlength=256)
    return out


def histogram_luts(source_counts: np.ndarray, target_counts: np.ndarray) -> np.ndarray:
    """Per-band lookup tables (bands, levels) float32 mapping each source level to a target reflectance.

    Level ``v`` goes to the target quantile at the mid-rank of ``v`` in the source distribution, so the mapped
    source has (up to ties) the target's distribution. ``target_counts`` are ``reflectance_histogram`` bins.
    Bands whose source or target is empty map to 0.
    """
    src = np.asarray(source_counts, np.float64)
    tgt = np.asarray(target_counts, np.float64)
    luts = np.zeros(src.shape, np.float32)
    centres = np.arange(tgt.shape[1], dtype=np.float64) / REFLECTANCE_SCALE
    for b in range(src.shape[0]):
        n_src, n_tgt = src[b].sum(), tgt[b].sum()
        if n_src == 0 or n_tgt == 0:
            continue
        mid_rank = (np.cumsum(src[b]) - src[b] / 2) / n_src
        present = tgt[b] > 0
        tgt_rank = ((np.cumsum(tgt[b]) - tgt[b] / 2) / n_tgt)[present]
        luts[b] = np.interp(mid_rank, tgt_rank, centres[present]).astype(np.float32)
    return luts


def apply_luts(raw: np.ndarray, luts: np.ndarray) -> np.ndarray:
    """``raw`` integer levels (bands, h, w) through per-band ``luts`` (bands, levels) -> float32."""
    raw = np.asarray(raw)
    return np.stack([luts[b][raw[b].astype(np.intp)] for b in range(raw.shape[0])]).astype(np.float32)


def match_histograms(sr: np.ndarray, lr: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Each band of ``sr`` (bands, H, W), any dtype, mapped onto the value distribution of ``lr``'s band.

    The array version of ``histogram_luts`` for outputs that are not 8-bit (quantile mapping by rank).
    ``valid`` (h, w) selects the ``lr`` pixels that define the target distribution.
    """
    sr = np.asarray(sr, np.float64)
    lr = np.asarray(lr, np.float64)
    out = np.empty(sr.shape, np.float32)
    for b in range(sr.shape[0]):
        target = np.sort(lr[b].reshape(-1) if valid is None else lr[b][valid])
        if target.size == 0:
            out[b] = 0
            continue
        flat = sr[b].reshape(-1)
        _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
        mid_rank = (np.cumsum(counts) - counts / 2) / flat.size
        target_rank = (np.arange(target.size) + 0.5) / target.size
        out[b] = np.interp(mid_rank, target_rank, target)[inverse].reshape(sr.shape[1:])
    return out


@cache
def lowpass_kernel(scale: int, rolloff: float = LOWPASS_ROLLOFF) -> np.ndarray:
    """The 2-D spatial kernel of the disc low-pass (cut-off 1 / (2 scale) cycles per pixel), summing to 1.

    Built in the Fourier domain on a grid large enough for its ringing to die out, then truncated to the disc
    outside which it stays below 1e-4 of its peak (radius about 18 x scale pixels).
    """
    if scale < 2:
        raise ValueError(f"a low-pass for super-resolution needs a scale of at least 2, got {scale}")
    n = max(256, 2 ** math.ceil(math.log2(64 * scale)))
    f = np.fft.fftfreq(n)
    rho = np.hypot(f[:, None], f[None, :])
    cut = 1.0 / (2 * scale)
    lo = cut * (1.0 - rolloff)
    response = np.clip((cut - rho) / (cut - lo), 0.0, 1.0)
    response = 0.5 - 0.5 * np.cos(np.pi * response)
    kernel = np.fft.fftshift(np.real(np.fft.ifft2(response)))
    centre = n // 2
    yy, xx = np.indices(kernel.shape)
    distance = np.hypot(yy - centre, xx - centre)
    radius = int(np.ceil(distance[np.abs(kernel) > _KERNEL_TOL * np.abs(kernel).max()].max()))
    kernel = kernel[centre - radius : centre + radius + 1, centre - radius : centre + radius + 1]
    disc = distance[centre - radius : centre + radius + 1, centre - radius : centre + radius + 1] <= radius
    kernel = np.where(disc, kernel, 0.0)
    return (kernel / kernel.sum()).astype(np.float32)


def lowpass_support(scale: int) -> int:
    """Fine pixels of halo a block needs for ``replace_low_frequencies`` to be exact inside it."""
    return len(lowpass_kernel(scale)) // 2 + mtf.upsample_support(scale)


def lowpass(x: np.ndarray, scale: int) -> np.ndarray:
    """``x`` (..., rows, cols) through the disc low-pass of ``lowpass_kernel`` (mirrored edges), float32."""
    from scipy.signal import fftconvolve  # 1.4 s to import: only when a low-pass runs, not with the options

    kernel = lowpass_kernel(scale)
    r = len(kernel) // 2
    x = np.asarray(x, np.float32)
    pad = [(0, 0)] * (x.ndim - 2) + [(r, r), (r, r)]
    padded = np.pad(x, pad, mode="symmetric")
    k = kernel.reshape((1,) * (x.ndim - 2) + kernel.shape)
    return fftconvolve(padded, k, mode="valid", axes=(-2, -1)).astype(np.float32)


def replace_low_frequencies(sr: np.ndarray, lr: np.ndarray, scale: int) -> np.ndarray:
    """``sr`` (bands, H, W) with its frequencies below the input's Nyquist taken from ``lr`` (bands, h, w).

    ``sr + lowpass(upsample_cubic(lr) - sr)``: the input's low frequencies, the output's high ones.
    """
    up = mtf.upsample_cubic(lr, scale)
    sr = np.asarray(sr, np.float32)
    return sr + lowpass(up - sr, scale)


def project(sr: np.ndarray, lr: np.ndarray, scale: int, valid: np.ndarray | None = None) -> np.ndarray:
    """``sr`` changed as little as possible so that ``mtf.degrade(result, scale)`` equals ``lr``."""
    return mtf.project_consistent(sr, lr, scale, valid)


def method_support(method: str, scale: int) -> int:
    """Halo (fine pixels, a multiple of ``scale``) a block needs for ``method`` to be exact inside it.

    Raises:
        ValueError: unknown method.
    """
    if method == "histogram":
        return 0
    if method == "lowpass":
        support = lowpass_support(scale)
    elif method == "project":
        support = mtf.consistency_support(scale)
    else:
        raise ValueError(f"unknown consistency method {method!r}; known: {', '.join(METHODS)}")
    return -(-support // scale) * scale


def correct(
    method: str, sr: np.ndarray, lr: np.ndarray, scale: int, lr_valid: np.ndarray | None = None
) -> np.ndarray:
    """The spatial part of ``method`` on reflectance arrays (the histogram mapping is applied before this).

    Input pixels outside ``lr_valid`` (nodata) give no correction: ``project`` skips them, ``lowpass`` takes
    the degraded output's own value there.

    Raises:
        ValueError: unknown method.
    """
    if method == "histogram":
        return np.asarray(sr, np.float32)
    if method == "lowpass":
        if lr_valid is not None and not np.all(lr_valid):
            lr = np.where(lr_valid, lr, mtf.degrade(sr, scale))
        return replace_low_frequencies(sr, lr, scale)
    if method == "project":
        return project(sr, lr, scale, lr_valid)
    raise ValueError(f"unknown consistency method {method!r}; known: {', '.join(METHODS)}")


def mirror_indices(start: int, stop: int, n: int) -> np.ndarray:
    """Indices ``start .. stop-1`` folded into ``0 .. n-1`` mirrored at the edges (numpy's "symmetric")."""
    i = np.arange(start, stop) % (2 * n)
    return np.where(i >= n, 2 * n - 1 - i, i)


def blocks(shape: tuple[int, int], step: int) -> list[Window]:
    """Abutting ``step``-pixel windows covering ``shape`` (the last row and column of blocks cut short)."""
    rows, cols = shape
    return [
        Window(c, r, min(step, cols - c), min(step, rows - r))
        for r in range(0, rows, step)
        for c in range(0, cols, step)
    ]


Fetch = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""Returns the (bands, len(rows), len(cols)) array at the given row and column indices of an image."""


def tiled(
    method: str,
    fetch_sr: Fetch,
    fetch_lr: Fetch,
    shape: tuple[int, int],
    scale: int,
    *,
    block: int = 512,
    fetch_lr_valid: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> Iterator[tuple[Window, np.ndarray]]:
    """``correct(method, ...)`` over a fine image of ``shape`` block by block, each read with a mirrored halo.

    Args:
        method: one of ``METHODS``.
        fetch_sr: reads the (already histogram-mapped) fine image at given row/column indices.
        fetch_lr: reads the input (coarse) image at given coarse row/column indices.
        shape: (rows, cols) of the fine image; both multiples of ``scale``.
        scale: fine pixels per coarse pixel.
        block: block side in fine pixels (rounded down to a multiple of ``scale``).
        fetch_lr_valid: reads the input's valid mask (coarse indices); None: all valid.

    Yields:
        (window of the fine image, corrected float32 block), blocks covering the image once.

    Raises:
        ValueError: unknown method, or a shape that is not a whole number of coarse pixels.
    """
    rows, cols = shape
    if rows % scale or cols % scale:
        raise ValueError(
            f"a fine image of {rows} x {cols} px is not a whole number of {scale} x {scale} blocks"
        )
    halo = method_support(method, scale)
    step = max(scale, block // scale * scale)
    for w in blocks((rows, cols), step):
        r_idx = mirror_indices(w.row_off - halo, w.row_end + halo, rows)
        c_idx = mirror_indices(w.col_off - halo, w.col_end + halo, cols)
        sr = fetch_sr(r_idx, c_idx)
        if method == "histogram":
            yield w, np.asarray(sr, np.float32)
            continue
        hs = halo // scale
        lr_r = mirror_indices(w.row_off // scale - hs, w.row_end // scale + hs, rows // scale)
        lr_c = mirror_indices(w.col_off // scale - hs, w.col_end // scale + hs, cols // scale)
        lr = fetch_lr(lr_r, lr_c)
        valid = None if fetch_lr_valid is None else fetch_lr_valid(lr_r, lr_c)
        out = correct(method, sr, lr, scale, valid)
        yield w, out[:, halo : halo + w.height, halo : halo + w.width]
