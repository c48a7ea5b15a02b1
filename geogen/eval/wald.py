"""Wald's protocol: score a sharpening engine on a real stack without a higher-resolution truth.

Every band is degraded by ``factor`` with the sensor model (MTF Gaussian, gain 0.3 at Nyquist, then
``factor x factor`` averaging), the engine sharpens the degraded stack back to the degraded finest grid, and
the result is compared with the original bands of that resolution. Bicubic is always scored alongside, on the
same pixels, as the floor.

The scene is cropped from its top-left corner to a multiple of ``factor**2`` fine pixels so that every
degraded grid is whole. Pixels invalid in the input are filled before degrading and left out of the scores.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from affine import Affine

from geogen.engines.sharpen.contract import build_sharpener
from geogen.engines.sharpen.scene import fill_invalid, guide_bands
from geogen.errors import RasterError
from geogen.eval import metrics
from geogen.io.sentinel2 import S2Stack
from geogen.sensors.mtf import block_mean, degrade
from tiles import Grid, Window

BASELINE = "bicubic"
Degradation = Callable[[np.ndarray, int], np.ndarray]


@dataclass
class EngineScores:
    """Scores of one engine: overall (pooled over the scored bands) and per band."""

    engine: str
    psnr: float
    ssim: float
    sam: float | None
    ergas: float
    rmse: float
    seconds: float
    per_band: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class WaldReport:
    """The result of one Wald run: what was scored, at which size, and each engine's scores."""

    factor: int
    bands: list[str]
    guides: list[str]
    fine_shape: tuple[int, int]
    data_range: float
    scores: dict[str, EngineScores]

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["fine_shape"] = list(self.fine_shape)
        return d


def _degraded_stack(
    stack: S2Stack, bands: Sequence[str], guides: Sequence[str], factor: int, degradation: Degradation
) -> tuple[S2Stack, np.ndarray, np.ndarray]:
    """(stack degraded by ``factor``, reference bands, their valid mask) over the cropped scene."""
    rows, cols = stack.grid.shape
    unit = factor * factor
    h, w = rows // unit * unit, cols // unit * unit
    if h == 0 or w == 0:
        raise RasterError(
            f"scene of {cols} x {rows} pixels is too small for Wald's protocol at factor {factor}"
        )
    crop = Window(0, 0, w, h)
    arrays, valid = {}, {}
    for b in (*guides, *bands):
        data, v = stack.read(b, crop)
        filled = fill_invalid(data, v, float(data[v].mean()) if v.any() else 0.0)
        arrays[b] = degradation(filled, factor)
        valid[b] = block_mean(v.astype(np.float32), factor) > 1 - 1e-6
    coarse = stack.grid[crop]
    grid = Grid(w // factor, h // factor, coarse.transform @ Affine.scale(factor), coarse.crs)
    degraded = S2Stack.from_arrays(arrays, grid, valid=valid, source=f"{stack.source} degraded x{factor}")
    refs, ref_valid = [], np.ones((h // factor, w // factor), bool)
    for b in bands:
        data, v = stack.read(b, crop)
        refs.append(data)
        ref_valid &= v
    return degraded, np.stack(refs), ref_valid


def _score(
    engine: str,
    pred: np.ndarray,
    ref: np.ndarray,
    valid: np.ndarray,
    bands: Sequence[str],
    factor: int,
    data_range: float,
    seconds: float,
) -> EngineScores:
    per_band = {
        b: {
            "psnr": metrics.psnr(pred[i], ref[i], data_range=data_range, valid=valid),
            "ssim": metrics.ssim(pred[i], ref[i], data_range=data_range, valid=valid),
            "rmse": metrics.rmse(pred[i], ref[i], valid),
        }
        for i, b in enumerate(bands)
    }
    return EngineScores(
        engine=engine,
        psnr=metrics.psnr(pred, ref, data_range=data_range, valid=valid),
        ssim=metrics.ssim(pred, ref, data_range=data_range, valid=valid),
        sam=metrics.sam(pred, ref, valid) if len(bands) > 1 else None,
        ergas=metrics.ergas(pred, ref, scale=factor, valid=valid),
        rmse=metrics.rmse(pred, ref, valid),
        seconds=seconds,
        per_band=per_band,
    )


def wald(
    stack: S2Stack,
    engines: str | Sequence[str],
    *,
    factor: int = 2,
    bands: Sequence[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 0,
    data_range: float = 1.0,
    degradation: Degradation = degrade,
) -> WaldReport:
    """Score ``engines`` (and bicubic) by Wald's protocol on the bands ``factor`` times coarser than 10 m.

    Args:
        stack: the real stack (reflectance).
        engines: engine name(s), e.g. "sharpen" or ["sharpen", "sharpen-cnn"].
        factor: 2 scores the 20 m bands, 6 the 60 m bands.
        bands: the bands to score (default: every band at ``factor``).
        options: per-engine options, keyed by engine name.
        seed: passed to engines that use randomness.
        data_range: peak value for PSNR/SSIM, in reflectance (1.0 = reflectance 1).
        degradation: ``f(array, factor) -> array`` that simulates the coarser band (default: the sensor
            model the engines assume; another one measures how robust an engine is to a wrong blur model).

    Raises:
        RasterError: no band at ``factor``, a requested band at another factor, or a scene too small.
        EngineError: unknown engine, or one that is not a sharpening engine.
        OptionsError: an unknown option or a bad value.
    """
    names = [engines] if isinstance(engines, str) else list(engines)
    at_factor = [b for b in stack.bands if stack.factor(b) == factor]
    chosen = list(bands) if bands is not None else at_factor
    wrong = [b for b in chosen if b not in at_factor]
    if not chosen or wrong:
        raise RasterError(
            f"Wald's protocol at factor {factor} scores bands {factor}x coarser than the finest grid; "
            f"this stack has {', '.join(at_factor) or 'none'}"
            + (f", not {', '.join(wrong)}" if wrong else "")
        )
    guides = guide_bands(stack)
    degraded, ref, valid = _degraded_stack(stack, chosen, guides, factor, degradation)
    scores: dict[str, EngineScores] = {}
    for name in [BASELINE, *[n for n in names if n != BASELINE]]:
        engine = build_sharpener(name, (options or {}).get(name), seed=seed)
        t0 = time.perf_counter()
        engine.fit(degraded, chosen)
        pred, pred_valid = engine.sharpen(degraded, degraded.grid.full_window, chosen)
        seconds = time.perf_counter() - t0
        scores[name] = _score(
            name, pred, ref, valid & pred_valid.all(axis=0), chosen, factor, data_range, seconds
        )
    return WaldReport(factor, chosen, guides, degraded.grid.shape, data_range, scores)
