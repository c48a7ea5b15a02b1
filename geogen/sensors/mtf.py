"""The Sentinel-2 MTF sensor model shared by sharpening, Wald scoring and consistency checks.

A band of resolution ``r`` times coarser than the finest grid is modelled as the fine scene seen through a
Gaussian low-pass whose response is ``MTF_GAIN_AT_NYQUIST`` (0.3) at the coarse grid's Nyquist frequency (the
MSI MTF, as in the S2 sharpening literature), then averaged over ``r x r`` fine pixels (corner-aligned:
coarse pixel ``i`` covers fine pixels ``r*i .. r*i+r-1``). ``degrade`` is that model, ``upsample_cubic`` its
usual (non-inverse) interpolation and ``project_consistent`` the smallest change that makes a fine image
degrade exactly to a given coarse one.

Every filter here has a finite support (``*_support`` in fine pixels), uses mirrored edges
(``d c b a | a b c d``) and works on arrays whose last two axes are (rows, cols); a block computed with a halo
at least the support wide therefore matches the same block cut from a whole-scene computation.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from geogen.sensors.sentinel2 import MTF_GAIN_AT_NYQUIST

_TRUNCATE_SIGMAS = 3.5
_CONSISTENCY_TOL = 1e-5


def mtf_sigma(factor: int, gain: float = MTF_GAIN_AT_NYQUIST) -> float:
    """Gaussian sigma (fine pixels) whose response is ``gain`` at the coarse Nyquist frequency."""
    return factor * math.sqrt(-2.0 * math.log(gain)) / math.pi


@cache
def gaussian_kernel(factor: int, gain: float = MTF_GAIN_AT_NYQUIST) -> np.ndarray:
    """The normalised 1-D MTF kernel for ``factor``, truncated at 3.5 sigma."""
    sigma = mtf_sigma(factor, gain)
    radius = max(1, math.ceil(_TRUNCATE_SIGMAS * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _filter2d(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable correlation of the last two axes with a symmetric 1-D ``kernel`` (mirrored edges)."""
    from scipy import ndimage  # imported on first filter: the options models that import this stay cheap

    y = ndimage.correlate1d(x, kernel, axis=-1, mode="reflect")
    return ndimage.correlate1d(y, kernel, axis=-2, mode="reflect")


def _check_divisible(x: np.ndarray, factor: int) -> None:
    if x.shape[-1] % factor or x.shape[-2] % factor:
        raise ValueError(f"array of shape {x.shape[-2:]} is not a whole number of {factor} x {factor} blocks")


def block_mean(x: np.ndarray, factor: int) -> np.ndarray:
    """Mean over non-overlapping ``factor x factor`` blocks of the last two axes."""
    _check_divisible(x, factor)
    h, w = x.shape[-2] // factor, x.shape[-1] // factor
    return x.reshape(*x.shape[:-2], h, factor, w, factor).mean(axis=(-3, -1))


def degrade(x: np.ndarray, factor: int, gain: float | None = MTF_GAIN_AT_NYQUIST) -> np.ndarray:
    """The sensor model: MTF low-pass, then ``factor x factor`` averaging (float32 out).

    Another ``gain`` (or None: averaging only) simulates a sensor unlike the model, to test robustness.
    """
    x = np.asarray(x, dtype=np.float32)
    if factor == 1:
        return x
    if gain is not None:
        x = _filter2d(x, gaussian_kernel(factor, gain).astype(np.float32))
    return block_mean(x, factor)


def degrade_support(factor: int) -> int:
    """Fine pixels beyond a coarse pixel's own footprint that ``degrade`` reads."""
    return 0 if factor == 1 else len(gaussian_kernel(factor)) // 2


@cache
def _cubic_phases(factor: int) -> np.ndarray:
    """(factor, 5) Keys (a = -0.5) weights on coarse pixels i-2..i+2 for each fine phase p (pixel r*i+p)."""
    weights = np.zeros((factor, 5))
    for p in range(factor):
        pos = (p + 0.5) / factor - 0.5  # fine pixel centre r*i+p in coarse pixel units, relative to i
        for k in range(-2, 3):
            d = abs(pos - k)
            if d < 1:
                w = 1.5 * d**3 - 2.5 * d**2 + 1
            elif d < 2:
                w = -0.5 * d**3 + 2.5 * d**2 - 4 * d + 2
            else:
                w = 0.0
            weights[p, k + 2] = w
    return weights


def _upsample_axis(x: np.ndarray, factor: int, axis: int) -> np.ndarray:
    weights = _cubic_phases(factor).astype(np.float32)
    x = np.moveaxis(x, axis, -1)
    n = x.shape[-1]
    pad = [(0, 0)] * (x.ndim - 1) + [(2, 2)]
    xp = np.pad(x, pad, mode="symmetric")
    out = np.empty((*x.shape[:-1], n, factor), dtype=np.float32)
    for p in range(factor):
        acc = np.zeros(x.shape, dtype=np.float32)
        for k in range(5):
            if weights[p, k] != 0:
                acc += weights[p, k] * xp[..., k : k + n]
        out[..., p] = acc
    return np.moveaxis(out.reshape((*x.shape[:-1], n * factor)), -1, axis)


def upsample_cubic(x: np.ndarray, factor: int) -> np.ndarray:
    """Bicubic (Keys, a = -0.5) interpolation onto the corner-aligned grid ``factor`` times finer."""
    x = np.asarray(x, dtype=np.float32)
    if factor == 1:
        return x
    return _upsample_axis(_upsample_axis(x, factor, -1), factor, -2)


def upsample_support(factor: int) -> int:
    """Fine pixels of margin a block needs so that ``upsample_cubic`` is exact inside it (2 coarse pixels)."""
    return 2 * factor


def _degrade_1d_matrix(factor: int, n_coarse: int) -> np.ndarray:
    """The 1-D sensor model as a periodic (n_coarse, n_coarse * factor) matrix."""
    k = gaussian_kernel(factor)
    radius = len(k) // 2
    n = n_coarse * factor
    a = np.zeros((n_coarse, n))
    for i in range(n_coarse):
        for j in range(i * factor, (i + 1) * factor):
            for t, kv in enumerate(k):
                a[i, (j + t - radius) % n] += kv / factor
    return a


@cache
def _gram_inverse_kernel(factor: int, reg: float = 0.0) -> np.ndarray:
    """1-D FIR approximation of (A A^T + reg * max eig)^-1 on the coarse grid (A = 1-D sensor model)."""
    n_coarse = 128
    a = _degrade_1d_matrix(factor, n_coarse)
    gram_col = (a @ a.T)[:, 0]  # circulant: first column defines it
    spectrum = np.real(np.fft.fft(gram_col))
    inv = np.real(np.fft.ifft(1.0 / (spectrum + reg * spectrum.max())))
    centred = np.roll(inv, n_coarse // 2)
    keep = np.nonzero(np.abs(centred) > _CONSISTENCY_TOL * np.abs(centred).max())[0]
    half = max(n_coarse // 2 - keep.min(), keep.max() - n_coarse // 2)
    return centred[n_coarse // 2 - half : n_coarse // 2 + half + 1]


def _degrade_adjoint(y: np.ndarray, factor: int) -> np.ndarray:
    """A^T y: spread each coarse pixel over its block (divided by the block size), then the MTF low-pass."""
    spread = np.repeat(np.repeat(y, factor, axis=-2), factor, axis=-1) / float(factor * factor)
    return _filter2d(spread, gaussian_kernel(factor).astype(np.float32))


def project_consistent(
    fine: np.ndarray, coarse: np.ndarray, factor: int, valid: np.ndarray | None = None, reg: float = 0.0
) -> np.ndarray:
    """The fine image closest (least squares) to ``fine`` whose ``degrade`` equals ``coarse``.

    ``fine + A^T (A A^T)^-1 (coarse - A fine)`` with A = ``degrade``; the inverse is a truncated FIR filter,
    so ``degrade`` of the result matches ``coarse`` to about 1e-5 of the residual. Coarse pixels outside
    ``valid`` (filled nodata) get no correction of their own, so made-up values are not propagated.
    """
    if factor == 1:
        return np.asarray(coarse, dtype=np.float32).copy()
    residual = np.asarray(coarse, dtype=np.float32) - degrade(fine, factor)
    if valid is not None:
        residual = np.where(valid, residual, np.float32(0))
    inv = _gram_inverse_kernel(factor, reg).astype(np.float32)
    correction = _degrade_adjoint(_filter2d(residual, inv), factor)
    return (np.asarray(fine, dtype=np.float32) + correction).astype(np.float32)


def consistency_support(factor: int, reg: float = 0.0) -> int:
    """Fine pixels of margin a block needs for ``project_consistent`` to be exact inside it."""
    if factor == 1:
        return 0
    inv_radius = len(_gram_inverse_kernel(factor, reg)) // 2
    return degrade_support(factor) + factor * (inv_radius + 1) + degrade_support(factor)
