"""Blending weights: reference values of the ramps, no taper at borders, and sum-to-one on random plans."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiles import WEIGHT_KINDS, Tile, TileWeights, Window, plan, tile_weight


@st.composite
def plans(draw: st.DrawFn) -> tuple[tuple[int, int], tuple[int, int], int]:
    """Small (shape, tile, overlap) with 0 <= overlap < min(tile)."""
    shape = (draw(st.integers(1, 48)), draw(st.integers(1, 48)))
    tile = (draw(st.integers(1, 16)), draw(st.integers(1, 16)))
    return shape, tile, draw(st.integers(0, min(tile) - 1))


def weight_sum(tiles: list[Tile], shape: tuple[int, int], kind: str) -> np.ndarray:
    """Test-only full-image accumulator of all tiles' weights."""
    weights = TileWeights(tiles, kind, shape)
    total = np.zeros(shape)
    for t in tiles:
        total[t.window.slices] += weights.weight(t)
    return total


def test_linear_ramps_cross_over_the_overlap_at_pixel_centres():
    tiles = plan((1, 12), 8, 4)  # columns [0, 8) and [4, 12), overlapping on [4, 8)
    left = tile_weight(tiles, 0, (1, 12), "linear")
    right = tile_weight(tiles, 1, (1, 12), "linear")
    np.testing.assert_allclose(left[0], [1, 1, 1, 1, 0.875, 0.625, 0.375, 0.125], atol=1e-15)
    np.testing.assert_allclose(right[0], [0.125, 0.375, 0.625, 0.875, 1, 1, 1, 1], atol=1e-15)


def test_cosine_ramp_is_squared_sine_of_the_pixel_centre():
    tiles = plan((12, 1), 8, 4)
    down = tile_weight(tiles, (0, 0), (12, 1))[:, 0]
    p = (np.arange(4) + 0.5) / 4
    np.testing.assert_allclose(down[4:], np.cos(0.5 * np.pi * p) ** 2, atol=1e-15)
    np.testing.assert_array_equal(down[:4], 1.0)


def test_constant_weights_average_the_overlap():
    w = tile_weight(plan((1, 12), 8, 4), 1, (1, 12), "constant")
    np.testing.assert_array_equal(w[0], [0.5, 0.5, 0.5, 0.5, 1, 1, 1, 1])


def test_no_taper_at_the_image_border():
    tiles = plan((100, 230), 64, 16)
    weights = TileWeights(tiles, "cosine", (100, 230))
    corner = weights.weight((0, 0))
    # Rows overlap the shifted tile below from row 36, columns the next tile from column 48.
    assert corner[:36, :48].min() == 1.0 and corner[36:, 0].max() < 1.0 and corner[0, 48:].max() < 1.0
    last = weights.weight((1, 4))  # bottom-right tile, shifted inward
    assert last[-1, -1] == 1.0
    assert last[-1, :].min() > 0 and last[:, -1].min() > 0


def test_single_tile_weighs_one_everywhere():
    np.testing.assert_array_equal(tile_weight(plan((30, 50), 64, 16), 0, (30, 50)), np.ones((30, 50)))


def test_shifted_last_tile_overlapping_three_tiles_still_sums_to_one():
    # tile 10, overlap 8: offsets 0, 2, 3 -> pixel 3..9 is covered by all three tiles.
    tiles = plan((1, 13), 10, 8)
    assert [t.window.col_off for t in tiles] == [0, 2, 3]
    np.testing.assert_allclose(weight_sum(tiles, (1, 13), "cosine"), 1.0, atol=1e-12)


def test_weights_of_a_huge_plan_need_no_full_image_memory():
    shape = (100_000, 100_000)
    tiles = plan(shape, 512, 64)
    weights = TileWeights(tiles, "cosine", shape)
    tracemalloc.start()
    w = weights.weight((100, 100))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert w.shape == (512, 512)
    assert peak < 8 * 512 * 512 * 3  # a few tile-sized float64 arrays, nothing image-sized


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "gaussian"}, "gaussian"),
        ({"shape": (10, 10)}, r"outside the image of shape \(10, 10\)"),
    ],
)
def test_bad_weight_arguments_raise(kwargs, match):
    args = {"kind": "cosine", "shape": (100, 230)} | kwargs
    with pytest.raises(ValueError, match=match):
        tile_weight(plan((100, 230), 64, 16), 0, args["shape"], args["kind"])


def test_unknown_tile_and_non_product_plans_are_refused():
    tiles = plan((100, 230), 64, 16)
    with pytest.raises(ValueError, match=r"\(5, 0\)"):
        tile_weight(tiles, (5, 0), (100, 230))
    with pytest.raises(ValueError, match="99"):
        tile_weight(tiles, 99, (100, 230))
    with pytest.raises(ValueError, match="full row x column plan"):
        TileWeights(tiles[:-1])
    with pytest.raises(ValueError, match="is not a tile of this plan"):
        TileWeights(tiles).weight(Tile((0, 0), Window(1, 0, 64, 64)))


@settings(max_examples=50, deadline=None)
@given(plans(), st.sampled_from(WEIGHT_KINDS))
def test_weights_sum_to_one_over_every_pixel(args, kind):
    shape, tile, overlap = args
    tiles = plan(shape, tile, overlap)
    weights = TileWeights(tiles, kind, shape)
    total = np.zeros(shape)
    for t in tiles:
        w = weights.weight(t)
        assert w.shape == (t.window.height, t.window.width) and w.dtype == np.float64
        assert w.min() > 0
        total[t.window.slices] += w
    np.testing.assert_allclose(total, 1.0, rtol=0, atol=1e-9)


def test_symmetric_plan_gives_mirrored_weights():
    tiles = plan((208, 208), 64, 16)  # offsets 0, 48, 96, 144: symmetric about the centre
    weights = TileWeights(tiles, "cosine", (208, 208))
    np.testing.assert_allclose(weights.weight((0, 0))[::-1, ::-1], weights.weight((3, 3)), atol=1e-15)
    np.testing.assert_allclose(weights.weight((1, 2))[::-1, ::-1], weights.weight((2, 1)), atol=1e-15)
