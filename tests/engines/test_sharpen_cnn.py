"""The scene-trained CNN engine, kept tiny (few iterations, small crop); its real scores come from the
bench."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geogen.engines.base import SharpenEngine
from geogen.engines.sharpen.contract import build_sharpener
from geogen.errors import OptionsError
from geogen.eval.wald import wald
from geogen.io.sentinel2 import S2Stack
from tests.eval.s2_data import dsen2_stack
from tiles.plan import plan

TINY = {"iterations": 40, "blocks": 2, "channels": 8, "patch": 24, "batch": 4}
BANDS = ["B05", "B06", "B07", "B8A", "B11", "B12"]


@pytest.fixture(scope="module")
def crop(test_data: Path) -> S2Stack:
    return dsen2_stack(test_data, crop=192)


def test_cnn_beats_bicubic_under_wald(crop: S2Stack) -> None:
    report = wald(crop, "sharpen-cnn", options={"sharpen-cnn": TINY})
    assert report.scores["sharpen-cnn"].psnr > report.scores["bicubic"].psnr + 5
    assert report.scores["sharpen-cnn"].sam < report.scores["bicubic"].sam


def _run(stack: S2Stack, seed: int) -> tuple[SharpenEngine, np.ndarray]:
    engine = build_sharpener("sharpen-cnn", TINY, seed=seed)
    engine.fit(stack, BANDS)
    out, valid = engine.sharpen(stack, stack.grid.full_window, BANDS)
    assert valid.all()
    return engine, out


def test_deterministic_under_a_seed(crop: S2Stack) -> None:
    engine, first = _run(crop, seed=3)
    _, again = _run(crop, seed=3)
    _, other = _run(crop, seed=4)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 1e-5
    assert engine.sharpener.net is not None and engine.sharpener.final_loss is not None
    assert type(engine).uses_seed


def test_tiled_equals_untiled(crop: S2Stack) -> None:
    engine, whole = _run(crop, seed=0)
    tiled = np.zeros_like(whole)
    for t in plan(crop.grid.shape, (70, 110), 0):
        tiled[(slice(None), *t.window.slices)] = engine.sharpen(crop, t.window, BANDS)[0]
    assert np.abs(tiled - whole).max() < 1e-4


def test_60m_bands_stay_classical(crop: S2Stack) -> None:
    cnn = build_sharpener("sharpen-cnn", TINY)
    cnn.fit(crop, ["B01", "B05"])
    classical = build_sharpener("sharpen")
    classical.fit(crop, ["B01", "B05"])
    a, _ = cnn.sharpen(crop, crop.grid.full_window, ["B01", "B05"])
    b, _ = classical.sharpen(crop, crop.grid.full_window, ["B01", "B05"])
    np.testing.assert_allclose(a[0], b[0], atol=1e-6)
    assert np.abs(a[1] - b[1]).max() > 1e-4  # the 20 m band got the CNN's correction


@pytest.mark.parametrize(
    "options, message",
    [
        ({"iterations": 0}, "options.iterations: input should be greater than or equal to 1"),
        ({"lr": 2}, "options.lr: input should be less than 1"),
        ({"depth": 3}, "options.depth: unknown option.*batch, blocks, channels"),
    ],
)
def test_bad_options(options: dict, message: str) -> None:
    with pytest.raises(OptionsError, match=message):
        build_sharpener("sharpen-cnn", options)
