"""Image-quality metrics for sharpening / super-resolution, with their conventions stated, not implied.

Arrays are (bands, rows, cols) or (rows, cols), in the same units for prediction and reference (geogen uses
reflectance, so ``data_range=1.0`` is the usual choice; reflectance x 10000 DN would need 10000). An optional
``valid`` (rows, cols) bool mask restricts every metric to those pixels.

- PSNR: 10 log10(data_range^2 / MSE), MSE pooled over all bands and valid pixels. ``data_range`` is required:
  the same output scores 34.5 or 29.6 dB depending on it.
- SSIM: Wang et al. 2004 with an 11-tap Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, population
  statistics, a 5-pixel border dropped; the mean over bands of each band's mean SSIM. ``data_range`` required.
- SAM: mean spectral angle in **degrees** (torchmetrics and sewar return radians), over pixels where both
  spectra are non-zero.
- ERGAS: 100 / scale * sqrt(mean_k (RMSE_k / mean_k)^2), with ``scale`` the coarse-to-fine pixel-size ratio
  (2 for 20 m -> 10 m), i.e. Wald's 100 h/l. Libraries differ on what their ``ratio`` argument means; compare
  at equal h/l.
- RMSE: over all bands and valid pixels, in the data's units.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

_SSIM_SIGMA = 1.5
_SSIM_TRUNCATE = 3.5  # radius int(3.5 * 1.5 + 0.5) = 5: the classic 11 x 11 window
_K1, _K2 = 0.01, 0.03


def _as_bands(pred: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, r = np.asarray(pred, np.float64), np.asarray(ref, np.float64)
    if p.shape != r.shape:
        raise ValueError(f"prediction {p.shape} and reference {r.shape} differ in shape")
    if p.ndim == 2:
        p, r = p[None], r[None]
    if p.ndim != 3:
        raise ValueError(f"expected (bands, rows, cols) or (rows, cols) arrays, got shape {p.shape}")
    return p, r


def _mask(valid: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    if valid is None:
        return np.ones(shape[-2:], bool)
    v = np.asarray(valid, bool)
    if v.shape != shape[-2:]:
        raise ValueError(f"valid mask {v.shape} does not match the images' {shape[-2:]}")
    if not v.any():
        raise ValueError("valid mask selects no pixel")
    return v


def _check_range(data_range: float) -> float:
    if not (isinstance(data_range, (int, float)) and math.isfinite(data_range) and data_range > 0):
        raise ValueError(f"data_range must be a positive number, got {data_range!r}")
    return float(data_range)


def band_rmse(pred: np.ndarray, ref: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """RMSE of each band (1-D array)."""
    p, r = _as_bands(pred, ref)
    v = _mask(valid, p.shape)
    return np.sqrt(((p - r)[:, v] ** 2).mean(axis=1))


def rmse(pred: np.ndarray, ref: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Root-mean-square error pooled over bands and valid pixels."""
    p, r = _as_bands(pred, ref)
    v = _mask(valid, p.shape)
    return float(np.sqrt(((p - r)[:, v] ** 2).mean()))


def psnr(pred: np.ndarray, ref: np.ndarray, *, data_range: float, valid: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB (infinite for identical images)."""
    peak = _check_range(data_range)
    err = rmse(pred, ref, valid)
    return math.inf if err == 0 else 20.0 * math.log10(peak / err)


def _ssim_map(x: np.ndarray, y: np.ndarray, peak: float) -> np.ndarray:
    blur = lambda a: ndimage.gaussian_filter(a, _SSIM_SIGMA, mode="reflect", truncate=_SSIM_TRUNCATE)  # noqa: E731
    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cxy = blur(x * y) - mx * my
    c1, c2 = (_K1 * peak) ** 2, (_K2 * peak) ** 2
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))


def ssim(pred: np.ndarray, ref: np.ndarray, *, data_range: float, valid: np.ndarray | None = None) -> float:
    """Mean structural similarity (1 for identical images); see the module docstring for the settings."""
    peak = _check_range(data_range)
    p, r = _as_bands(pred, ref)
    v = _mask(valid, p.shape).copy()
    pad = int(_SSIM_TRUNCATE * _SSIM_SIGMA + 0.5)
    if min(v.shape) > 2 * pad:
        border = np.zeros_like(v)
        border[pad:-pad, pad:-pad] = True
        v &= border
        if not v.any():
            raise ValueError("no valid pixel lies 5 pixels away from the image border")
    return float(np.mean([_ssim_map(p[b], r[b], peak)[v].mean() for b in range(p.shape[0])]))


def band_ssim(
    pred: np.ndarray, ref: np.ndarray, *, data_range: float, valid: np.ndarray | None = None
) -> np.ndarray:
    """SSIM of each band (1-D array)."""
    p, r = _as_bands(pred, ref)
    return np.array([ssim(p[b], r[b], data_range=data_range, valid=valid) for b in range(p.shape[0])])


def sam(pred: np.ndarray, ref: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Mean spectral angle in degrees between per-pixel spectra (needs at least two bands)."""
    p, r = _as_bands(pred, ref)
    if p.shape[0] < 2:
        raise ValueError("SAM needs at least two bands")
    v = _mask(valid, p.shape)
    a, b = p[:, v], r[:, v]
    na, nb = np.linalg.norm(a, axis=0), np.linalg.norm(b, axis=0)
    ok = (na > 0) & (nb > 0)
    if not ok.any():
        raise ValueError("SAM is undefined: every valid pixel has an all-zero spectrum")
    cos = (a[:, ok] * b[:, ok]).sum(axis=0) / (na[ok] * nb[ok])
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))).mean())


def ergas(pred: np.ndarray, ref: np.ndarray, *, scale: float, valid: np.ndarray | None = None) -> float:
    """ERGAS (lower is better) for a coarse-to-fine pixel-size ratio ``scale`` (2 for 20 m -> 10 m)."""
    if not (isinstance(scale, (int, float)) and scale > 0):
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    p, r = _as_bands(pred, ref)
    v = _mask(valid, p.shape)
    means = r[:, v].mean(axis=1)
    if np.any(means == 0):
        raise ValueError("ERGAS is undefined for a reference band with zero mean")
    rel = band_rmse(p, r, v) / means
    return float(100.0 / scale * math.sqrt(float(np.mean(rel**2))))
