"""Where a diffusion engine generates: the output grid inside a latent-aligned canvas, and its latent windows.

The UNet takes latents whose sides are multiples of its downsampling factor, and the VAE maps one latent pixel
to ``factor`` pixels, so the generated canvas is the output grid grown to a multiple of ``factor *
unet_factor`` pixels and to at least one window, with the output grid centred in it (same CRS, same pixel
size, whole-pixel offset). Windows are planned on the latent canvas with ``tiles.plan``; the output is cut
back to the grid.
"""

from __future__ import annotations

from dataclasses import dataclass

from affine import Affine

from geogen.errors import JobSpecError
from tiles import Grid, Window, count_tiles


@dataclass(frozen=True)
class LatentLayout:
    """The output ``grid``, the pixel ``canvas`` generated around it, and the latent window plan's sizes.

    Attributes:
        grid: the output grid (what the job asked for).
        canvas: the generated pixel grid (covers ``grid``; its sides are multiples of ``factor *
            unet_factor``).
        output_window: ``grid``'s pixels inside ``canvas``.
        factor: pixels per latent pixel (the VAE's factor).
        window: latent window side.
        overlap: latent overlap between neighbouring windows.
    """

    grid: Grid
    canvas: Grid
    output_window: Window
    factor: int
    window: int
    overlap: int

    @property
    def latent_shape(self) -> tuple[int, int]:
        """(rows, cols) of the latent canvas."""
        return (self.canvas.height // self.factor, self.canvas.width // self.factor)

    @property
    def n_windows(self) -> int:
        """Latent windows one denoising step evaluates."""
        return count_tiles(self.latent_shape, self.window, self.overlap)

    def output_part(self, window: Window) -> tuple[Window, Window] | None:
        """Where a decoded ``window`` of the canvas meets the output grid, or None where it does not.

        Returns:
            (the shared pixels relative to ``window``, the same pixels in ``grid``).
        """
        part = window.intersection(self.output_window)
        if part is None:
            return None
        return part.relative_to(window), part.relative_to(self.output_window)


def _grow(n: int, multiple: int, minimum: int) -> int:
    return max(minimum, -(-n // multiple) * multiple)


def latent_layout(
    grid: Grid, *, factor: int, unet_factor: int, window_px: int, overlap_px: int | None = None
) -> LatentLayout:
    """The layout for generating ``grid`` with ``window_px`` windows (overlap default: a quarter window).

    Raises:
        JobSpecError: the window is not a multiple of ``factor * unet_factor`` pixels, or the overlap is not
            smaller than the window.
    """
    step = factor * unet_factor
    if window_px < step or window_px % step:
        raise JobSpecError(
            f"options.window must be a positive multiple of {step} pixels for this model "
            f"(VAE factor {factor} x UNet factor {unet_factor}), got {window_px}"
        )
    window = window_px // factor
    overlap = window // 4 if overlap_px is None else overlap_px // factor
    if not 0 <= overlap < window:
        raise JobSpecError(
            f"options.overlap must be smaller than the window ({window_px} px), got {overlap_px}"
        )
    rows = _grow(grid.height, step, window_px)
    cols = _grow(grid.width, step, window_px)
    off_r, off_c = (rows - grid.height) // 2, (cols - grid.width) // 2
    canvas = Grid(cols, rows, grid.transform @ Affine.translation(-off_c, -off_r), grid.crs)
    return LatentLayout(grid, canvas, Window(off_c, off_r, grid.width, grid.height), factor, window, overlap)
