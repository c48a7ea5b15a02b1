"""Tile plans: the overlapping, full-size windows a model runs on, in row-major order.

Edge policy (one rule per axis, rows and columns independently, ``n`` pixels, tile ``t``, overlap ``o``):

- tiles step by ``t - o`` from offset 0, and every tile is full size (``t`` pixels);
- the last tile of a row/column is shifted back inward so that it ends exactly at the image edge
  (offset ``n - t``); it then overlaps its predecessor by at least ``o`` pixels, often more;
- along an axis no longer than the tile (``n <= t``) there is a single tile of the image's size ``n``.

So a model always sees full-size windows (never padding) whenever the image is at least a tile, and no
window ever leaves the image. With ``o == 0`` and ``n`` a multiple of ``t`` tiles abut exactly.

Latents use the same plans: the latent plan of a VAE with factor ``f`` is the pixel plan with every
size divided by ``f``, and ``Tile.scaled(f)`` maps it back onto pixels (exact when everything divides).
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tiles.window import Window

if TYPE_CHECKING:
    from tiles.grid import Grid


@dataclass(frozen=True, slots=True)
class Tile:
    """One window of a plan; ``index`` is its (row, col) position among the plan's tiles."""

    index: tuple[int, int]
    window: Window

    def scaled(self, factor: int) -> Tile:
        """The same tile on a grid ``factor`` times finer (latent plan -> pixel plan with the VAE factor)."""
        return Tile(self.index, self.window.scaled(factor))


def _as_pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    """``value`` as a (rows, cols) pair of ints; a single int serves both axes."""
    try:
        if isinstance(value, (tuple, list)):
            if len(value) != 2:
                raise TypeError
            return (operator.index(value[0]), operator.index(value[1]))
        size = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an int or a (rows, cols) pair of ints, got {value!r}") from None
    return (size, size)


def _check(
    shape: tuple[int, int], tile: int | tuple[int, int], overlap: int
) -> tuple[tuple[int, int], tuple[int, int], int]:
    """Validated (shape, tile, overlap) as ints."""
    rows, cols = _as_pair(shape, "shape")
    if rows <= 0 or cols <= 0:
        raise ValueError(f"shape must be two positive sizes (rows, cols), got {shape!r}")
    th, tw = _as_pair(tile, "tile")
    if th <= 0 or tw <= 0:
        raise ValueError(f"tile must be positive, got tile={tile!r}")
    try:
        ov = operator.index(overlap)
    except TypeError:
        raise ValueError(f"overlap must be an int, got overlap={overlap!r}") from None
    if not 0 <= ov < min(th, tw):
        raise ValueError(
            f"overlap must satisfy 0 <= overlap < tile, got overlap={overlap!r} with tile={tile!r}"
        )
    return (rows, cols), (th, tw), ov


def _axis_count(n: int, t: int, o: int) -> int:
    """Number of tiles along one axis under the edge policy."""
    if n <= t:
        return 1
    return math.ceil((n - t) / (t - o)) + 1


def _axis_spans(n: int, t: int, o: int) -> list[tuple[int, int]]:
    """(offset, size) of each tile along one axis, offsets strictly increasing."""
    if n <= t:
        return [(0, n)]
    count = _axis_count(n, t, o)
    return [(k * (t - o), t) for k in range(count - 1)] + [(n - t, t)]


def count_tiles(shape: tuple[int, int], tile: int | tuple[int, int], overlap: int) -> int:
    """Number of tiles ``plan(shape, tile, overlap)`` would return, in O(1) (to refuse huge areas early).

    Raises:
        ValueError: a size is not positive, or overlap is outside ``[0, tile)``.
    """
    (rows, cols), (th, tw), ov = _check(shape, tile, overlap)
    return _axis_count(rows, th, ov) * _axis_count(cols, tw, ov)


def plan(shape: tuple[int, int], tile: int | tuple[int, int], overlap: int) -> list[Tile]:
    """Row-major tiles covering a ``shape`` = (rows, cols) image; ``tile`` is an int or (rows, cols).

    See the module docstring for the edge policy.

    Raises:
        ValueError: a size is not positive, or overlap is outside ``[0, tile)``.
    """
    (rows, cols), (th, tw), ov = _check(shape, tile, overlap)
    row_spans = _axis_spans(rows, th, ov)
    col_spans = _axis_spans(cols, tw, ov)
    return [
        Tile((i, j), Window(c_off, r_off, c_size, r_size))
        for i, (r_off, r_size) in enumerate(row_spans)
        for j, (c_off, c_size) in enumerate(col_spans)
    ]


def plan_grid(grid: Grid, tile: int | tuple[int, int], overlap: int) -> list[tuple[Tile, Grid]]:
    """The plan over ``grid``, each tile paired with its georeferenced sub-grid.

    Raises:
        ValueError: a size is not positive, or overlap is outside ``[0, tile)``.
    """
    return [(t, grid[t.window]) for t in plan(grid.shape, tile, overlap)]
