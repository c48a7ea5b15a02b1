"""Blending weights for overlapping tiles: per-tile (h, w) weights that sum to exactly 1 over every pixel.

Weights are separable: a tile's weight is the outer product of a row weight and a column weight, each
computed along one axis of the plan. Along an axis, tile ``k`` gets a raw profile that is 1 inside and
ramps down only on sides it shares with a neighbouring tile (never at the image border, so border pixels
always get weight from their tile); the ramp spans the actual overlap with that neighbour, sampled at pixel
centres so it is never 0. Dividing by the sum of the raw profiles of the tiles covering each pixel makes
the weights sum to 1 even where the shifted last tile overlaps more, or where three tiles overlap. In the
regular case (two tiles, same overlap) the cosine and linear ramps are already complementary, so this
division changes nothing.

Only the tiles overlapping a tile along each axis take part, so memory never grows with the area.
The same weights serve latents: build them from the latent plan (pixel plan divided by the VAE factor).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from tiles.plan import Tile

WeightKind = Literal["cosine", "linear", "constant"]
WEIGHT_KINDS: tuple[str, ...] = ("cosine", "linear", "constant")


def _ramp(length: int, kind: str) -> np.ndarray:
    """A rising ramp over ``length`` pixels, sampled at pixel centres: strictly between 0 and 1."""
    p = (np.arange(length, dtype=np.float64) + 0.5) / length
    if kind == "linear":
        return p
    return np.sin(0.5 * np.pi * p) ** 2


class AxisSpans:
    """Tile spans along one axis: offsets strictly increasing, indexed by the tile's position on that axis."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self.offsets = [off for off, _ in spans]
        self.sizes = [size for _, size in spans]

    def __len__(self) -> int:
        return len(self.offsets)

    def end(self, k: int) -> int:
        """Where tile ``k`` ends (exclusive)."""
        return self.offsets[k] + self.sizes[k]

    def neighbours(self, k: int) -> range:
        """Positions of the tiles overlapping tile ``k`` (itself included), ascending."""
        lo = k
        while lo > 0 and self.end(lo - 1) > self.offsets[k]:
            lo -= 1
        hi = k
        while hi + 1 < len(self) and self.offsets[hi + 1] < self.end(k):
            hi += 1
        return range(lo, hi + 1)


class TileWeights:
    """Blending weights of one plan, tile by tile; build once and call :meth:`weight` per tile.

    Args:
        tiles: a plan (``tiles.plan.plan``), or any row-major product of row and column spans.
        kind: "cosine" (smooth, default), "linear" or "constant" (plain average in overlaps).
        shape: the image's (rows, cols); when given, every window must lie inside it.

    Raises:
        ValueError: unknown ``kind``, empty plan, tiles that do not form a row x column product,
            or a window outside ``shape``.
    """

    def __init__(
        self, tiles: Sequence[Tile], kind: WeightKind = "cosine", shape: tuple[int, int] | None = None
    ) -> None:
        if kind not in WEIGHT_KINDS:
            raise ValueError(f"weight kind must be one of {WEIGHT_KINDS}, got {kind!r}")
        if len(tiles) == 0:
            raise ValueError("the plan has no tiles")
        self.kind = kind
        self._tiles = list(tiles)
        self._by_index = {t.index: t for t in self._tiles}
        rows: dict[int, tuple[int, int]] = {}
        cols: dict[int, tuple[int, int]] = {}
        for t in self._tiles:
            i, j = t.index
            w = t.window
            if rows.setdefault(i, (w.row_off, w.height)) != (w.row_off, w.height):
                raise ValueError(
                    f"tile {t.index} has rows {(w.row_off, w.height)}, other tiles of row {i} differ"
                )
            if cols.setdefault(j, (w.col_off, w.width)) != (w.col_off, w.width):
                raise ValueError(
                    f"tile {t.index} has cols {(w.col_off, w.width)}, other tiles of column {j} differ"
                )
            if shape is not None and (
                w.row_end > shape[0] or w.col_end > shape[1] or w.row_off < 0 or w.col_off < 0
            ):
                raise ValueError(f"tile {t.index} window {w} lies outside the image of shape {tuple(shape)}")
        if (
            sorted(rows) != list(range(len(rows)))
            or sorted(cols) != list(range(len(cols)))
            or len(self._by_index) != len(rows) * len(cols)
            or len(self._tiles) != len(self._by_index)
        ):
            raise ValueError(
                f"tiles must form a full row x column plan with unique indices, got {len(self._tiles)} tiles "
                f"over {len(rows)} rows and {len(cols)} columns"
            )
        self.rows = AxisSpans([rows[i] for i in range(len(rows))])
        self.cols = AxisSpans([cols[j] for j in range(len(cols))])
        for name, axis in (("row", self.rows), ("column", self.cols)):
            if any(b <= a for a, b in zip(axis.offsets, axis.offsets[1:], strict=False)):
                raise ValueError(f"tile {name} offsets must increase with the index, got {axis.offsets}")

    @property
    def tiles(self) -> list[Tile]:
        """The plan's tiles, in the order given."""
        return self._tiles

    def resolve(self, ref: Tile | int | tuple[int, int]) -> Tile:
        """The plan's tile for a Tile, a position in the plan's list, or a (row, col) index.

        Raises:
            ValueError: the reference is not a tile of this plan.
        """
        if isinstance(ref, Tile):
            if self._by_index.get(ref.index) != ref:
                raise ValueError(f"{ref} is not a tile of this plan")
            return ref
        if isinstance(ref, tuple):
            tile = self._by_index.get(ref)
            if tile is None:
                raise ValueError(
                    f"no tile with index {ref} in this plan of {len(self.rows)} x {len(self.cols)} tiles"
                )
            return tile
        if isinstance(ref, (int, np.integer)) and not isinstance(ref, bool) and 0 <= ref < len(self._tiles):
            return self._tiles[int(ref)]
        raise ValueError(
            f"tile reference must be a Tile, a (row, col) index or 0 <= i < {len(self._tiles)}, got {ref!r}"
        )

    def _raw(self, axis: AxisSpans, k: int) -> np.ndarray:
        """Tile ``k``'s unnormalised profile: 1, ramped over its overlap with each neighbour."""
        size = axis.sizes[k]
        f = np.ones(size, dtype=np.float64)
        if self.kind == "constant":
            return f
        if k > 0:
            left = axis.end(k - 1) - axis.offsets[k]
            if left > 0:
                f[:left] *= _ramp(left, self.kind)
        if k + 1 < len(axis):
            right = axis.end(k) - axis.offsets[k + 1]
            if right > 0:
                f[size - right :] *= _ramp(right, self.kind)[::-1]
        return f

    def _axis_weights(self, axis: AxisSpans, k: int) -> np.ndarray:
        off, end = axis.offsets[k], axis.end(k)
        total = np.zeros(axis.sizes[k], dtype=np.float64)
        # Summed in ascending tile order over exactly the tiles covering each pixel, so every tile
        # covering a pixel divides by the bit-identical total.
        for j in axis.neighbours(k):
            a, b = max(off, axis.offsets[j]), min(end, axis.end(j))
            total[a - off : b - off] += self._raw(axis, j)[a - axis.offsets[j] : b - axis.offsets[j]]
        return self._raw(axis, k) / total

    def row_weights(self, i: int) -> np.ndarray:
        """Weights (height,) of tile row ``i``; they sum to 1 with the other rows' over every image row."""
        return self._axis_weights(self.rows, i)

    def col_weights(self, j: int) -> np.ndarray:
        """Weights (width,) of tile column ``j``; they sum to 1 with the other columns' over every column."""
        return self._axis_weights(self.cols, j)

    def weight(self, ref: Tile | int | tuple[int, int]) -> np.ndarray:
        """(h, w) float64 weights of one tile.

        Raises:
            ValueError: the reference is not a tile of this plan.
        """
        i, j = self.resolve(ref).index
        return np.outer(self.row_weights(i), self.col_weights(j))


def tile_weight(
    plan_or_tiles: Sequence[Tile],
    i: Tile | int | tuple[int, int],
    shape: tuple[int, int],
    kind: WeightKind = "cosine",
) -> np.ndarray:
    """(h, w) float64 blending weights of tile ``i`` (Tile, list position or (row, col) index) of a plan.

    Over every pixel of the ``shape`` image the weights of all tiles covering it sum to 1. For many
    tiles of one plan, build a :class:`TileWeights` once instead (this scans the plan on every call).

    Raises:
        ValueError: unknown ``kind``, a malformed plan, a window outside ``shape``, or an unknown tile.
    """
    return TileWeights(plan_or_tiles, kind, shape).weight(i)
