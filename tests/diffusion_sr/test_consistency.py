"""The consistency step on real Sentinel-2 pixels: each method tightens the match, tiles are seamless."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geogen.io.sentinel2 import open_s2
from geogen.sensors import consistency as C
from geogen.sensors import mtf

SCALE = 4


@pytest.fixture(scope="module")
def scene(patch: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(truth 120 x 120 RGB reflectance, its 30 x 30 sensor-degraded input, an 8-bit 'generated' rendering).

    The rendering stands in for a generative output: the right structure, the wrong radiometry (display gamma,
    8 bits) and noise.
    """
    with open_s2(patch) as stack:
        hr = np.stack([stack.read(b, stack.grid.full_window)[0] for b in ("B04", "B03", "B02")])
    lr = mtf.degrade(hr, SCALE)
    rng = np.random.default_rng(0)
    raw = np.clip(255 * (hr / 0.25) ** (1 / 2.2) + rng.normal(0, 8, hr.shape), 0, 255).astype(np.uint8)
    return hr, lr, raw


def linear_match(raw: np.ndarray, lr: np.ndarray) -> np.ndarray:
    """No consistency step, but in the right units: each band's mean and spread matched to the input."""
    x = raw.astype(np.float32)
    return np.stack([(x[b] - x[b].mean()) / x[b].std() * lr[b].std() + lr[b].mean() for b in range(len(x))])


def degraded_error(sr: np.ndarray, lr: np.ndarray) -> float:
    return float(np.mean(np.abs(mtf.degrade(sr, SCALE) - lr)))


def test_histogram_luts_give_the_input_distribution(scene) -> None:
    _, lr, raw = scene
    luts = C.histogram_luts(C.level_histogram(raw), C.reflectance_histogram(lr))
    mapped = C.apply_luts(raw, luts)
    for b in range(3):
        q = np.linspace(0.05, 0.95, 19)
        assert np.allclose(np.quantile(mapped[b], q), np.quantile(lr[b], q), atol=3e-3)
        assert np.all(np.diff(luts[b][np.unique(raw[b])]) >= 0)  # monotone: the order of values is kept
    assert np.allclose(C.match_histograms(raw, lr), mapped, atol=2e-3)


@pytest.mark.parametrize("method, bound", [("histogram", 0.95), ("lowpass", 0.75), ("project", 1e-3)])
def test_each_method_tightens_the_degraded_error(scene, method: str, bound: float) -> None:
    _, lr, raw = scene
    without = degraded_error(linear_match(raw, lr), lr)
    mapped = C.apply_luts(raw, C.histogram_luts(C.level_histogram(raw), C.reflectance_histogram(lr)))
    after = degraded_error(C.correct(method, mapped, lr, SCALE), lr)
    assert after < bound * without, (method, after, without)


def test_projection_matches_the_input_exactly_and_keeps_detail(scene) -> None:
    hr, lr, raw = scene
    mapped = C.apply_luts(raw, C.histogram_luts(C.level_histogram(raw), C.reflectance_histogram(lr)))
    out = C.project(mapped, lr, SCALE)
    assert degraded_error(out, lr) < 1e-5
    bicubic = mtf.upsample_cubic(lr, SCALE)
    assert np.abs(out - hr).mean() < 0.7 * np.abs(bicubic - hr).mean()  # the detail is the generated one


def test_lowpass_kernel_passes_low_and_stops_high_frequencies() -> None:
    k = C.lowpass_kernel(SCALE)
    assert k.shape[0] % 2 == 1 and abs(float(k.sum()) - 1.0) < 1e-6
    n = 256
    padded = np.zeros((n, n))
    r = len(k) // 2
    padded[: len(k), : len(k)] = k
    response = np.abs(np.fft.fft2(np.roll(padded, (-r, -r), axis=(0, 1))))
    f = np.fft.fftfreq(n)
    rho = np.hypot(f[:, None], f[None, :])
    cut = 1 / (2 * SCALE)
    assert np.all(np.abs(response[rho < 0.7 * cut] - 1) < 0.02)
    assert np.all(response[rho > 1.05 * cut] < 0.02)


@pytest.mark.parametrize("method", C.METHODS)
def test_tiled_equals_whole_image(scene, method: str) -> None:
    """Blocks with mirrored halos reproduce the whole-image result (odd, non-square size, small blocks)."""
    _, lr, raw = scene
    lr = lr[:, 1:26, 2:29]  # 25 x 27 input pixels -> 100 x 108 output
    sr = C.apply_luts(
        raw[:, 4:104, 8:116], C.histogram_luts(C.level_histogram(raw), C.reflectance_histogram(lr))
    )
    whole = C.correct(method, sr, lr, SCALE)
    tiled = np.zeros_like(whole)
    seen = np.zeros(whole.shape[1:], int)
    for w, block in C.tiled(
        method, lambda r, c: sr[:, r][:, :, c], lambda r, c: lr[:, r][:, :, c], sr.shape[1:], SCALE, block=36
    ):
        tiled[:, w.slices[0], w.slices[1]] = block
        seen[w.slices] += 1
    assert np.all(seen == 1)
    assert np.max(np.abs(tiled - whole)) < 1e-5


def test_mirror_indices_fold_like_numpy_symmetric_padding() -> None:
    x = np.arange(5)
    assert np.array_equal(x[C.mirror_indices(-12, 17, 5)], np.pad(x, 12, mode="symmetric")[:29])


@pytest.mark.parametrize("method", ("lowpass", "project"))
def test_nodata_in_the_input_pulls_nothing(scene, method: str) -> None:
    """A block of input nodata (read as 0) must not drag the output towards 0 around it."""
    _, lr, raw = scene
    mapped = C.apply_luts(raw, C.histogram_luts(C.level_histogram(raw), C.reflectance_histogram(lr)))
    valid = np.ones(lr.shape[1:], bool)
    valid[10:20, 10:20] = False
    holed = np.where(valid, lr, 0)
    out = C.correct(method, mapped, holed, SCALE, valid)
    reference = C.correct(method, mapped, lr, SCALE)
    ring = np.zeros(lr.shape[1:], bool)  # the valid input pixels bordering the hole, at output resolution
    ring[8:22, 8:22] = True
    ring &= valid
    fine = np.repeat(np.repeat(ring, SCALE, axis=0), SCALE, axis=1)
    assert (
        np.abs(out - reference)[:, fine].mean()
        < 0.25 * np.abs(C.correct(method, mapped, holed, SCALE) - reference)[:, fine].mean()
    )
