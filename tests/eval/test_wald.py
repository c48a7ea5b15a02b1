"""Wald's protocol runner: what it degrades, what it scores, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from geogen.errors import EngineError, RasterError
from geogen.eval import metrics
from geogen.eval.wald import wald
from geogen.io.sentinel2 import S2Stack
from geogen.sensors.mtf import degrade
from tests.eval.s2_data import dsen2_arrays, dsen2_grid, dsen2_stack


def test_report_scores_bicubic_alongside(test_data: Path) -> None:
    report = wald(dsen2_stack(test_data), "sharpen")
    assert list(report.scores) == ["bicubic", "sharpen"]
    assert report.bands == ["B05", "B06", "B07", "B8A", "B11", "B12"]
    assert report.guides == ["B02", "B03", "B04", "B08"]
    assert report.fine_shape == (300, 300) and report.data_range == 1.0
    s = report.scores["sharpen"]
    assert set(s.per_band) == set(report.bands)
    assert s.rmse < report.scores["bicubic"].rmse
    json.dumps(report.to_json())  # serialisable for bench results


def test_bicubic_score_matches_a_direct_computation(test_data: Path) -> None:
    """Degrade, interpolate and score by hand: the runner must agree."""
    from geogen.sensors.mtf import upsample_cubic

    arrays = dsen2_arrays(test_data)
    ref = np.stack([arrays[b] for b in ("B05", "B11")])
    pred = np.stack([upsample_cubic(degrade(arrays[b], 2), 2) for b in ("B05", "B11")])
    report = wald(dsen2_stack(test_data), "bicubic", bands=["B05", "B11"])
    assert report.scores["bicubic"].psnr == pytest.approx(metrics.psnr(pred, ref, data_range=1.0), abs=1e-4)
    assert report.scores["bicubic"].sam == pytest.approx(metrics.sam(pred, ref), abs=1e-4)


def test_invalid_input_pixels_are_left_out(test_data: Path) -> None:
    arrays = dsen2_arrays(test_data)
    valid = {b: np.ones(a.shape, bool) for b, a in arrays.items()}
    valid["B05"][:30, :30] = False
    stack = S2Stack.from_arrays(
        {b: np.where(valid[b], a, 0) for b, a in arrays.items()}, dsen2_grid(), valid=valid
    )
    report = wald(stack, "sharpen")
    clean = wald(dsen2_stack(test_data), "sharpen")
    # the hole neither crashes the scores nor drags them (0 reflectance would cost many dB)
    assert report.scores["sharpen"].psnr == pytest.approx(clean.scores["sharpen"].psnr, abs=1.0)


def test_errors(test_data: Path) -> None:
    stack = dsen2_stack(test_data)
    with pytest.raises(RasterError, match="has B01, B09, not B05"):
        wald(stack, "sharpen", factor=6, bands=["B05"])
    with pytest.raises(RasterError, match="this stack has none"):
        wald(stack, "sharpen", factor=3)
    with pytest.raises(EngineError, match=r"unknown engine .nearest. for task .superres."):
        wald(stack, "nearest")
