"""The generated canvas around the output grid: latent-aligned, at least one window, output centred in it."""

from __future__ import annotations

import pytest
from affine import Affine

from geogen.diffusion.layout import latent_layout
from geogen.errors import JobSpecError
from tiles import Grid

GRID = Grid(79, 68, Affine(5.0, 0, 461310.0, 0, -5.0, 5098950.0), "EPSG:32633")


def test_canvas_is_latent_aligned_and_holds_the_grid_at_the_same_pixels() -> None:
    layout = latent_layout(GRID, factor=8, unet_factor=8, window_px=512)
    assert layout.canvas.shape == (512, 512) and layout.latent_shape == (64, 64)
    assert layout.window == 64 and layout.overlap == 16 and layout.n_windows == 1
    assert layout.canvas[layout.output_window] == GRID  # same transform, size and CRS
    w = layout.output_window
    assert abs(w.col_off - (512 - w.col_end)) <= 1 and abs(w.row_off - (512 - w.row_end)) <= 1


def test_large_grid_grows_to_a_multiple_of_the_unet_step() -> None:
    grid = Grid(1000, 700, GRID.transform, GRID.crs)
    layout = latent_layout(grid, factor=8, unet_factor=8, window_px=512, overlap_px=128)
    assert layout.canvas.shape == (704, 1024) and layout.latent_shape == (88, 128)
    assert layout.canvas[layout.output_window] == grid
    assert layout.n_windows == 2 * 3  # rows 0, 24; columns 0, 48, 64


@pytest.mark.parametrize(("window", "overlap"), [(500, None), (32, None), (512, 512)])
def test_bad_window_or_overlap(window: int, overlap: int | None) -> None:
    with pytest.raises(JobSpecError, match=r"options\.(window|overlap)"):
        latent_layout(GRID, factor=8, unet_factor=8, window_px=window, overlap_px=overlap)
