"""Consistency of a super-resolved image with its low-resolution input, defined as opensr-test defines it.

opensr-test (``opensr_test.Metrics().consistency(lr, sr)``, v1.3.3, default ``Config``) scores how far an SR
output, brought back to the input's grid, drifts from the input. Its package pulls torchvision, kornia, LPIPS,
CLIP and OpenCV (and its datasets download pickles), so the three definitions are re-implemented here on plain
arrays, with its defaults:

- both images lose a border first: ``border`` (16) fine pixels of ``sr``, ``border // scale`` of ``lr``;
- ``sr`` goes to the input grid by bilinear interpolation with antialiasing (torch ``interpolate``,
  ``scale_factor = 1 / scale``), or by geogen's sensor model (MTF Gaussian + block mean) with
  ``degradation="sensor"``;
- reflectance: mean absolute difference (L1) between that and ``lr``, over bands and pixels, in the data's
  units (reflectance 0..1);
- spectral: per-pixel spectral angle between the two spectra, in **degrees**, averaged over pixels (pixels
  where either spectrum is all zero are skipped);
- spatial: the translation between the two images' RGB means found by phase correlation refined to 1/50 pixel
  (Guizar-Sicairos' upsampled DFT, as scikit-image's ``phase_cross_correlation`` used by opensr-test), its
  length in input pixels; NaN when longer than ``max_shift`` (5) pixels, where opensr-test reports the
  alignment as failed.

Arrays are (bands, rows, cols) reflectance in the same band order; ``sr`` is exactly ``scale`` times larger.
"""

from __future__ import annotations

import math

import numpy as np

from geogen.sensors import mtf

DEGRADATIONS = ("opensr", "sensor")


def degrade_bilinear(sr: np.ndarray, scale: int) -> np.ndarray:
    """``sr`` (bands, H, W) downsampled ``scale`` times by torch's antialiased bilinear interpolation."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(sr, dtype=np.float32))[None]
    out = torch.nn.functional.interpolate(x, scale_factor=1.0 / scale, mode="bilinear", antialias=True)
    return out[0].numpy()


def _upsampled_correlation(spectrum: np.ndarray, centre: np.ndarray, upsample: int, size: int) -> np.ndarray:
    """|cross-correlation| on a ``size`` x ``size`` grid of step 1/upsample pixels centred on ``centre``."""
    rows, cols = spectrum.shape
    offsets = (np.arange(size) - size // 2) / upsample
    ey = np.exp(2j * np.pi * np.outer(centre[0] + offsets, np.fft.fftfreq(rows)))
    ex = np.exp(2j * np.pi * np.outer(np.fft.fftfreq(cols), centre[1] + offsets))
    return np.abs(ey @ spectrum @ ex)


def phase_shift(reference: np.ndarray, moving: np.ndarray, *, upsample: int = 50) -> tuple[float, float]:
    """(rows, cols) translation between two 2-D images by phase correlation, to 1/``upsample`` pixel.

    The sign follows scikit-image: the shift that registers ``moving`` onto ``reference``.
    """
    a = np.fft.fft2(np.asarray(reference, np.float64))
    b = np.fft.fft2(np.asarray(moving, np.float64))
    cross = a * np.conj(b)
    cross /= np.maximum(np.abs(cross), 100 * np.finfo(np.float64).eps)
    corr = np.abs(np.fft.ifft2(cross))
    peak = np.array(np.unravel_index(np.argmax(corr), corr.shape), dtype=np.float64)
    shape = np.array(corr.shape, dtype=np.float64)
    peak = np.where(peak > shape // 2, peak - shape, peak)
    if upsample <= 1:
        return float(peak[0]), float(peak[1])
    peak = np.round(peak * upsample) / upsample
    size = math.ceil(upsample * 1.5)
    fine = _upsampled_correlation(cross, peak, upsample, size)
    j = np.array(np.unravel_index(np.argmax(fine), fine.shape), dtype=np.float64)
    shift = peak + (j - size // 2) / upsample
    return float(shift[0]), float(shift[1])


def _crop(x: np.ndarray, border: int) -> np.ndarray:
    return x if border <= 0 else x[:, border:-border, border:-border]


def consistency_metrics(
    lr: np.ndarray,
    sr: np.ndarray,
    scale: int,
    *,
    rgb_bands: tuple[int, int, int] = (0, 1, 2),
    border: int = 16,
    degradation: str = "opensr",
    max_shift: float = 5.0,
    valid: np.ndarray | None = None,
) -> dict[str, float]:
    """opensr-test's consistency scores of ``sr`` against its input ``lr`` (see the module docstring).

    Args:
        lr: input (bands, h, w) reflectance.
        sr: super-resolved (bands, h * scale, w * scale) reflectance.
        scale: integer size ratio.
        rgb_bands: indices of red, green, blue in the band axis (for the spatial score).
        border: fine pixels dropped at each edge before scoring (opensr-test: 16).
        degradation: "opensr" (antialiased bilinear) or "sensor" (geogen's MTF model).
        max_shift: shifts longer than this (input pixels) count as failed alignments (NaN).
        valid: (h, w) bool on ``lr``'s grid: pixels left out of the reflectance and spectral scores (e.g.
            NaN/inf ones, which the caller fills with finite values first).

    Returns:
        ``{"reflectance": L1, "spectral": degrees, "spatial": input pixels}``.

    Raises:
        ValueError: shapes that do not match ``scale``, too small for the border, or an unknown degradation.
    """
    lr = np.asarray(lr, np.float32)
    sr = np.asarray(sr, np.float32)
    if lr.ndim == 2:
        lr, sr = lr[None], sr[None]
    if sr.shape != (lr.shape[0], lr.shape[1] * scale, lr.shape[2] * scale):
        raise ValueError(f"sr {sr.shape} is not lr {lr.shape} times {scale}")
    if degradation not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {degradation!r}; use one of {', '.join(DEGRADATIONS)}")
    lr_c = _crop(lr, border // scale)
    sr_c = _crop(sr, border)
    if lr_c.shape[1] < 2 or lr_c.shape[2] < 2 or sr_c.shape[1] % scale or sr_c.shape[2] % scale:
        raise ValueError(f"lr {lr.shape} is too small for a {border} px border at scale {scale}")
    down = degrade_bilinear(sr_c, scale) if degradation == "opensr" else mtf.degrade(sr_c, scale)
    v = np.ones(lr_c.shape[1:], bool)
    if valid is not None:
        b = border // scale
        v = np.asarray(valid, bool)[b : b + lr_c.shape[1], b : b + lr_c.shape[2]]
        if not v.any():
            raise ValueError("no valid pixel is left to score away from the border")
    reflectance = float(np.mean(np.abs(lr_c - down)[:, v]))
    dot = (lr_c * down).sum(axis=0, dtype=np.float64)
    norms = np.linalg.norm(lr_c.astype(np.float64), axis=0) * np.linalg.norm(down.astype(np.float64), axis=0)
    ok = (norms > 0) & v
    angles = np.degrees(np.arccos(np.clip(dot[ok] / norms[ok], -1.0, 1.0)))
    spectral = float(np.mean(angles)) if angles.size else math.nan
    if lr_c.shape[0] >= 3:
        idx = list(rgb_bands)
        ref, mov = lr_c[idx].mean(axis=0), down[idx].mean(axis=0)
    else:
        ref, mov = lr_c[0], down[0]
    dy, dx = phase_shift(ref, mov)
    shift = math.hypot(dy, dx)
    return {
        "reflectance": reflectance,
        "spectral": spectral,
        "spatial": shift if shift <= max_shift else math.nan,
    }
