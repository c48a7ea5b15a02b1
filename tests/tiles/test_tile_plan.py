"""Tile plans: the documented edge policy as named cases, argument checks, and properties on random plans."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st

from tiles import Grid, Tile, Window, count_tiles, plan, plan_grid


@st.composite
def plans(draw: st.DrawFn) -> tuple[tuple[int, int], tuple[int, int], int]:
    """Small (shape, tile, overlap) with 0 <= overlap < min(tile)."""
    shape = (draw(st.integers(1, 48)), draw(st.integers(1, 48)))
    tile = (draw(st.integers(1, 16)), draw(st.integers(1, 16)))
    return shape, tile, draw(st.integers(0, min(tile) - 1))


def offsets(tiles: list[Tile]) -> tuple[list[int], list[int]]:
    """Distinct (row offsets, col offsets) of a plan."""
    return sorted({t.window.row_off for t in tiles}), sorted({t.window.col_off for t in tiles})


def test_exact_multiple_without_overlap_tiles_abut():
    tiles = plan((1024, 1536), 512, 0)
    assert offsets(tiles) == ([0, 512], [0, 512, 1024])
    assert all((t.window.width, t.window.height) == (512, 512) for t in tiles)
    assert [t.index for t in tiles] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]


def test_exact_multiple_of_the_stride_with_overlap():
    # 64 + 3 * 48 = 208: the regular steps end exactly at the edge, nothing is shifted.
    tiles = plan((208, 208), 64, 16)
    assert offsets(tiles) == ([0, 48, 96, 144], [0, 48, 96, 144])


def test_remainder_shifts_the_last_tile_back_inward():
    tiles = plan((100, 230), 64, 16)
    rows, cols = offsets(tiles)
    assert rows == [0, 36]  # 100 - 64: last tile ends at row 100
    assert cols == [0, 48, 96, 144, 166]  # 230 - 64 = 166, overlapping its predecessor by 42 >= 16
    assert all((t.window.width, t.window.height) == (64, 64) for t in tiles)
    assert max(t.window.col_end for t in tiles) == 230


def test_image_smaller_than_a_tile_gives_one_tile_of_the_image_size():
    assert plan((30, 50), 64, 16) == [Tile((0, 0), Window(0, 0, 50, 30))]


def test_axis_shorter_than_the_tile_has_one_tile_of_its_size():
    tiles = plan((30, 200), 64, 16)
    assert {t.window.height for t in tiles} == {30}
    assert {t.window.width for t in tiles} == {64}
    assert [t.index for t in tiles] == [(0, j) for j in range(4)]


def test_overlap_zero_with_remainder():
    rows, cols = offsets(plan((10, 25), 10, 0))
    assert rows == [0] and cols == [0, 10, 15]


def test_rectangular_tiles_are_rows_then_cols():
    tiles = plan((40, 40), (20, 10), 0)
    assert {(t.window.height, t.window.width) for t in tiles} == {(20, 10)}
    assert len(tiles) == 2 * 4


@pytest.mark.parametrize(
    ("shape", "tile", "overlap", "named"),
    [
        ((100, 100), 0, 0, "tile=0"),
        ((100, 100), (64, -1), 0, "tile=(64, -1)"),
        ((100, 100), 64, 64, "overlap=64"),
        ((100, 100), 64, -1, "overlap=-1"),
        ((100, 100), (64, 8), 8, "overlap=8"),
        ((0, 100), 64, 0, "(0, 100)"),
        ((100, 100), 6.5, 0, "6.5"),
    ],
)
def test_invalid_arguments_raise_naming_the_value(shape, tile, overlap, named):
    with pytest.raises(ValueError, match=named.replace("(", r"\(").replace(")", r"\)")):
        plan(shape, tile, overlap)
    with pytest.raises(ValueError):
        count_tiles(shape, tile, overlap)


def test_count_tiles_is_cheap_for_huge_areas():
    # A 10-million-pixel-wide square would be ~5e8 tiles: counted without building anything.
    assert count_tiles((10_000_000, 10_000_000), 512, 64) == 22322**2  # ceil((1e7 - 512) / 448) + 1 per axis
    assert count_tiles((100, 230), 64, 16) == len(plan((100, 230), 64, 16))


def test_plan_grid_pairs_each_tile_with_its_sub_grid():
    grid = Grid(230, 100, Affine(10.0, 0.0, 500_000.0, 0.0, -10.0, 4_000_000.0), "EPSG:32631")
    pairs = plan_grid(grid, 64, 16)
    assert [t for t, _ in pairs] == plan(grid.shape, 64, 16)
    tile, sub = pairs[-1]
    assert tile.window == Window(166, 36, 64, 64)
    assert sub.shape == (64, 64) and sub.crs == "EPSG:32631"
    # The sub-grid's upper-left pixel is the parent's pixel (36, 166).
    assert sub.xy(0, 0) == grid.xy(36, 166)
    assert sub.bounds == (500_000.0 + 1660, 4_000_000.0 - 1000, 500_000.0 + 2300, 4_000_000.0 - 360)


def test_latent_plan_scaled_by_the_vae_factor_is_the_pixel_plan():
    pixel = plan((2048, 3072), 512, 64)
    latent = plan((2048 // 8, 3072 // 8), 512 // 8, 64 // 8)
    assert [t.scaled(8) for t in latent] == pixel


@settings(max_examples=50, deadline=None)
@given(plans())
def test_latent_scaling_holds_for_any_divisible_plan(args):
    (rows, cols), tile, overlap = args
    pixel = plan((rows * 8, cols * 8), (tile[0] * 8, tile[1] * 8), overlap * 8)
    assert [t.scaled(8) for t in plan((rows, cols), tile, overlap)] == pixel


@settings(max_examples=50, deadline=None)
@given(plans())
def test_windows_lie_inside_cover_every_pixel_and_are_full_size(args):
    shape, tile, overlap = args
    tiles = plan(shape, tile, overlap)
    assert len(tiles) == count_tiles(shape, tile, overlap)
    cover = np.zeros(shape, dtype=int)
    for t in tiles:
        w = t.window
        assert w.row_off >= 0 and w.row_end <= shape[0] and w.col_off >= 0 and w.col_end <= shape[1]
        assert w.height == min(tile[0], shape[0]) and w.width == min(tile[1], shape[1])
        cover[w.slices] += 1
    assert cover.min() >= 1
    rows, cols = offsets(tiles)
    # Neighbours overlap by at least the requested overlap (where there is room for two tiles).
    for offs, t, n in ((rows, tile[0], shape[0]), (cols, tile[1], shape[1])):
        assert all(b - a <= t - overlap for a, b in itertools.pairwise(offs))
        assert offs[-1] == max(0, n - t)
