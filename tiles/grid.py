"""A georeferenced pixel grid: shape, affine transform and CRS carried together as one value.

Only north-up grids (no rotation) are supported; that is what every engine here produces and consumes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from affine import Affine

from tiles.window import Window


@dataclass(frozen=True)
class Grid:
    """``height`` x ``width`` pixels placed by ``transform`` in ``crs`` (WKT or "EPSG:n", kept opaque)."""

    width: int
    height: int
    transform: Affine
    crs: str

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"Grid must have a positive size, got {self.width} x {self.height}")
        t = self.transform
        if t.b != 0 or t.d != 0:
            raise ValueError(f"Only north-up grids are supported, got a rotated transform {tuple(t)[:6]}")
        if t.a <= 0 or t.e >= 0:
            raise ValueError(f"Expected positive x and negative y pixel sizes, got {t.a}, {t.e}")

    @classmethod
    def from_bounds(
        cls, bounds: tuple[float, float, float, float], res: float | tuple[float, float], crs: str
    ) -> Grid:
        """The grid at ``res`` whose upper-left corner is the bounds' and that covers them (sizes rounded up)."""
        left, bottom, right, top = bounds
        rx, ry = (res, res) if isinstance(res, (int, float)) else res
        if rx <= 0 or ry <= 0:
            raise ValueError(f"Resolution must be positive, got {res}")
        if right <= left or top <= bottom:
            raise ValueError(f"Bounds are empty or inverted: {bounds}")
        width = max(1, math.ceil((right - left) / rx - 1e-9))
        height = max(1, math.ceil((top - bottom) / ry - 1e-9))
        return cls(width, height, Affine(rx, 0.0, left, 0.0, -ry, top), crs)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return (self.height, self.width)

    @property
    def res(self) -> tuple[float, float]:
        """(x, y) pixel size in CRS units, both positive."""
        return (self.transform.a, -self.transform.e)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in CRS units."""
        t = self.transform
        return (t.c, t.f + t.e * self.height, t.c + t.a * self.width, t.f)

    @property
    def full_window(self) -> Window:
        return Window(0, 0, self.width, self.height)

    def window(self, bounds: tuple[float, float, float, float]) -> Window:
        """The pixel window covering ``bounds``, snapped outwards to whole pixels and clipped to the grid."""
        left, bottom, right, top = bounds
        inv = ~self.transform
        c0, r0 = inv @ (left, top)
        c1, r1 = inv @ (right, bottom)
        c0, r0 = math.floor(c0 + 1e-9), math.floor(r0 + 1e-9)
        c1, r1 = math.ceil(c1 - 1e-9), math.ceil(r1 - 1e-9)
        c0, r0 = max(c0, 0), max(r0, 0)
        c1, r1 = min(c1, self.width), min(r1, self.height)
        if c1 <= c0 or r1 <= r0:
            raise ValueError(f"Bounds {bounds} do not overlap the grid {self.bounds}")
        return Window(c0, r0, c1 - c0, r1 - r0)

    def __getitem__(self, window: Window) -> Grid:
        """The sub-grid of ``window`` (which may extend past the edges)."""
        return Grid(
            window.width,
            window.height,
            self.transform @ Affine.translation(window.col_off, window.row_off),
            self.crs,
        )

    def zoom(self, factor: float) -> Grid:
        """The same footprint with pixels ``factor`` times smaller (factor 2: 20 m -> 10 m); sizes must stay whole."""
        w, h = self.width * factor, self.height * factor
        if abs(w - round(w)) > 1e-6 or abs(h - round(h)) > 1e-6:
            raise ValueError(f"Zoom {factor} of a {self.width} x {self.height} grid gives fractional pixels")
        return Grid(round(w), round(h), self.transform @ Affine.scale(1 / factor), self.crs)

    def xy(self, row: float, col: float) -> tuple[float, float]:
        """CRS coordinates of pixel (row, col)'s centre."""
        return self.transform @ (col + 0.5, row + 0.5)

    def centre(self) -> tuple[float, float]:
        """CRS coordinates of the grid's centre."""
        left, bottom, right, top = self.bounds
        return ((left + right) / 2, (bottom + top) / 2)
