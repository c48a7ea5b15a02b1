"""opensr-test's consistency definitions, re-implemented: known shifts, angles and differences come out."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from geogen.eval.opensr import consistency_metrics, degrade_bilinear, phase_shift
from geogen.io.sentinel2 import open_s2


@pytest.fixture(scope="module")
def rgb(patch: Path) -> np.ndarray:
    with open_s2(patch) as stack:
        return np.stack([stack.read(b, stack.grid.full_window)[0] for b in ("B04", "B03", "B02")])


def fourier_shift(image: np.ndarray, dy: float, dx: float) -> np.ndarray:
    f = np.fft.fft2(image)
    ky, kx = np.fft.fftfreq(image.shape[0]), np.fft.fftfreq(image.shape[1])
    return np.real(np.fft.ifft2(f * np.exp(-2j * np.pi * (ky[:, None] * dy + kx[None, :] * dx))))


def test_phase_correlation_finds_a_subpixel_shift(rgb) -> None:
    ref = rgb.mean(axis=0)
    moved = fourier_shift(ref, 1.3, -2.26)
    dy, dx = phase_shift(ref, moved)
    assert abs(dy + 1.3) < 0.03 and abs(dx - 2.26) < 0.03  # the shift that registers `moved` back
    assert phase_shift(ref, ref) == (0.0, 0.0)


def test_degradation_is_torch_antialiased_bilinear(rgb) -> None:
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(rgb)[None], scale_factor=0.25, mode="bilinear", antialias=True
    )[0].numpy()
    assert np.allclose(degrade_bilinear(rgb, 4), expected)


def test_a_consistent_output_scores_zero_and_a_biased_one_its_bias(rgb) -> None:
    lr = degrade_bilinear(rgb, 4)
    perfect = consistency_metrics(lr, rgb, 4, border=0)
    assert perfect["reflectance"] < 1e-7 and perfect["spectral"] < 0.05 and perfect["spatial"] == 0.0
    brighter = consistency_metrics(
        lr, rgb * 1.2, 4, border=0
    )  # same spectral shape: angle 0, L1 = 0.2 x mean
    assert math.isclose(brighter["reflectance"], 0.2 * float(lr.mean()), rel_tol=1e-4)
    assert brighter["spectral"] < 0.05
    swapped = consistency_metrics(lr, rgb[::-1].copy(), 4)  # red and blue exchanged: a spectral error
    assert swapped["spectral"] > 5
    with_border = consistency_metrics(
        lr, rgb, 4
    )  # opensr-test crops sr before degrading: edge effects remain
    assert 0 < with_border["reflectance"] < 0.01 * float(lr.mean())


def test_a_shifted_output_reports_its_shift_in_input_pixels(rgb) -> None:
    """Shifted by (2, -1) input pixels; the crops are not periodic, so phase correlation finds (1.94, -0.92):
    scikit-image 0.26's ``phase_cross_correlation(upsample_factor=50)``, which opensr-test calls, gives
    exactly that here (and agrees with ``phase_shift`` to 1e-7 on 20 randomly shifted crops of this patch)."""
    lr = degrade_bilinear(rgb, 4)
    shifted = np.roll(rgb, (8, -4), axis=(1, 2))  # the wrapped part lies in the cropped border
    assert abs(consistency_metrics(lr, shifted, 4)["spatial"] - math.hypot(1.94, 0.92)) < 0.005
    far = np.roll(rgb, 28, axis=2)  # 7 input pixels: a failed alignment
    assert math.isnan(consistency_metrics(lr, far, 4, border=28)["spatial"])


def test_shapes_are_checked(rgb) -> None:
    with pytest.raises(ValueError, match="times 4"):
        consistency_metrics(rgb[:, :30, :30], rgb[:, :100, :120], 4)
    with pytest.raises(ValueError, match="degradation"):
        consistency_metrics(degrade_bilinear(rgb, 4), rgb, 4, degradation="box")
