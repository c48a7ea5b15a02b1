"""A rectangular block of pixels: column/row offset and width/height, in pixels of some grid."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Window:
    """Pixel window ``[row_off, row_off + height) x [col_off, col_off + width)``."""

    col_off: int
    row_off: int
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width < 0 or self.height < 0:
            raise ValueError(f"Window size must be non-negative, got {self.width} x {self.height}")

    @property
    def slices(self) -> tuple[slice, slice]:
        """(row slice, column slice), for indexing a (..., rows, cols) array."""
        return (
            slice(self.row_off, self.row_off + self.height),
            slice(self.col_off, self.col_off + self.width),
        )

    @property
    def row_end(self) -> int:
        return self.row_off + self.height

    @property
    def col_end(self) -> int:
        return self.col_off + self.width

    def intersection(self, other: Window) -> Window | None:
        """The overlap of two windows, or None when they do not overlap."""
        c0, r0 = max(self.col_off, other.col_off), max(self.row_off, other.row_off)
        c1, r1 = min(self.col_end, other.col_end), min(self.row_end, other.row_end)
        if c1 <= c0 or r1 <= r0:
            return None
        return Window(c0, r0, c1 - c0, r1 - r0)

    def relative_to(self, outer: Window) -> Window:
        """This window expressed in the pixel coordinates of ``outer``."""
        return Window(self.col_off - outer.col_off, self.row_off - outer.row_off, self.width, self.height)

    def scaled(self, factor: int) -> Window:
        """The same footprint on a grid ``factor`` times finer (e.g. latent -> pixel with factor 8)."""
        return Window(self.col_off * factor, self.row_off * factor, self.width * factor, self.height * factor)

    def to_rasterio(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """((row_start, row_stop), (col_start, col_stop)), accepted by rasterio as a window."""
        return ((self.row_off, self.row_end), (self.col_off, self.col_end))
