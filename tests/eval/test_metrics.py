"""Image-quality metrics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geogen.eval import metrics


def test_psnr_from_a_known_mse() -> None:
    ref = np.zeros((2, 4, 4))
    pred = ref + 0.01  # MSE = 1e-4
    assert metrics.psnr(pred, ref, data_range=1.0) == pytest.approx(40.0)
    assert metrics.psnr(pred * 10000, ref, data_range=10000.0) == pytest.approx(40.0)
    assert metrics.psnr(pred, ref, data_range=0.5) == pytest.approx(40.0 - 20 * math.log10(2))
    assert metrics.psnr(ref, ref, data_range=1.0) == math.inf


def test_psnr_needs_an_explicit_positive_range() -> None:
    with pytest.raises(TypeError):
        metrics.psnr(np.zeros((3, 3)), np.zeros((3, 3)))  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="data_range"):
        metrics.psnr(np.zeros((3, 3)), np.zeros((3, 3)), data_range=0)


def test_rmse_pools_bands_and_respects_the_mask() -> None:
    ref = np.zeros((2, 2, 2))
    pred = np.stack([np.full((2, 2), 3.0), np.full((2, 2), 4.0)])
    assert metrics.rmse(pred, ref) == pytest.approx(math.sqrt((9 + 16) / 2))
    np.testing.assert_allclose(metrics.band_rmse(pred, ref), [3.0, 4.0])
    pred[:, 0, 0] = 100.0
    valid = np.ones((2, 2), bool)
    valid[0, 0] = False
    assert metrics.rmse(pred, ref, valid) == pytest.approx(math.sqrt(12.5))


def test_sam_in_degrees() -> None:
    a = np.zeros((2, 1, 2))
    b = np.zeros((2, 1, 2))
    a[0], b[1] = 1.0, 1.0  # orthogonal spectra everywhere
    assert metrics.sam(a, b) == pytest.approx(90.0)
    assert metrics.sam(a, 3 * a) == pytest.approx(0.0, abs=1e-6)  # scale does not change the angle
    c = np.zeros((2, 1, 1))
    c[:, 0, 0] = [1.0, 1.0]
    assert metrics.sam(c, a[:, :, :1]) == pytest.approx(45.0)
    with pytest.raises(ValueError, match="two bands"):
        metrics.sam(np.ones((1, 2, 2)), np.ones((1, 2, 2)))


def test_ssim_identical_and_degraded() -> None:
    rng = np.random.default_rng(0)
    img = rng.random((2, 32, 32))
    assert metrics.ssim(img, img, data_range=1.0) == pytest.approx(1.0)
    noisy = img + rng.normal(0, 0.2, img.shape)
    value = metrics.ssim(noisy, img, data_range=1.0)
    assert 0 < value < 0.9
    # a constant offset leaves contrast and structure terms at 1: SSIM = (2 m1 m2 + c1) / (m1^2 + m2^2 + c1)
    flat = np.full((24, 24), 0.5)
    expected = (2 * 0.5 * 0.6 + 1e-4) / (0.25 + 0.36 + 1e-4)
    assert metrics.ssim(flat + 0.1, flat, data_range=1.0) == pytest.approx(expected)


def test_ergas_by_hand() -> None:
    ref = np.stack([np.full((3, 3), 2.0), np.full((3, 3), 4.0)])
    pred = ref + np.stack([np.full((3, 3), 0.2), np.full((3, 3), 0.2)])  # relative errors 0.1 and 0.05
    expected = 100 / 2 * math.sqrt((0.1**2 + 0.05**2) / 2)
    assert metrics.ergas(pred, ref, scale=2) == pytest.approx(expected)
    assert metrics.ergas(pred, ref, scale=1) == pytest.approx(2 * expected)


def test_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.rmse(np.zeros((2, 3)), np.zeros((3, 2)))
