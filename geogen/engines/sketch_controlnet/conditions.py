"""Per-window land-cover conditions: each latent window's class map, read from its pixel footprint (the
ControlNet hook renders it in the vocabulary's legend colours).

Class maps are read through a callable (pixel window on the canvas -> (h, w) class codes), e.g. a class
source read on the canvas sub-grid: polygons burnt without antialiasing, rasters resampled nearest-neighbour,
so every condition pixel is an exact legend colour. Maps are kept between denoising steps up to a byte
budget (first come, first kept: with a cyclic access pattern, evicting would miss every time); the rest are
read again when needed, so memory stays bounded for any area.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from geogen.landcover.renderers import condition_table
from geogen.landcover.vocab import FLAIR19, Vocabulary
from tiles import Tile, Window

ReadClasses = Callable[[Window], np.ndarray]


class WindowConditions:
    """Class maps of latent windows (``tile.scaled(factor)`` is a window's pixel footprint).

    Args:
        read: pixel window on the canvas -> (h, w) integer class codes (0 = outside the drawn area).
        factor: pixels per latent pixel (the VAE's factor).
        vocab: the vocabulary whose legend colours render the conditions (``palette``).
        budget_bytes: memory for keeping class maps between steps (0: read every time).
        style: condition renderer (geogen.landcover.renderers): "legend" colours or "osm" fills.
    """

    def __init__(
        self,
        read: ReadClasses,
        factor: int,
        vocab: Vocabulary = FLAIR19,
        budget_bytes: int = 0,
        style: str = "legend",
    ) -> None:
        self._read = read
        self.factor = factor
        self.vocab = vocab
        self.budget_bytes = budget_bytes
        self.style = style
        self._kept: dict[tuple[int, int], np.ndarray] = {}
        self.kept_bytes = 0
        self.reads = 0
        self.peak_bytes = 0

    def pixel_window(self, tile: Tile) -> Window:
        return tile.scaled(self.factor).window

    def class_map(self, tile: Tile) -> np.ndarray:
        """The (h, w) uint8 class map under ``tile``'s pixel footprint."""
        kept = self._kept.get(tile.index)
        if kept is not None:
            return kept
        window = self.pixel_window(tile)
        codes = np.ascontiguousarray(self._read(window), dtype=np.uint8)
        if codes.shape != (window.height, window.width):
            raise ValueError(f"class reader gave {codes.shape} for window {window}")
        self.reads += 1
        if self.kept_bytes + codes.nbytes <= self.budget_bytes:
            self._kept[tile.index] = codes
            self.kept_bytes += codes.nbytes
        return codes

    def batch(self, tiles: Sequence[Tile]) -> np.ndarray:
        """(B, h, w) uint8 class maps of ``tiles`` (same-size windows); a repeated tile is read once."""
        maps: dict[tuple[int, int], np.ndarray] = {}
        for t in tiles:
            if t.index not in maps:
                maps[t.index] = self.class_map(t)
        out = np.stack([maps[t.index] for t in tiles])
        fresh = sum(m.nbytes for i, m in maps.items() if i not in self._kept)
        self.peak_bytes = max(self.peak_bytes, self.kept_bytes + fresh + out.nbytes)
        return out

    def palette(self) -> np.ndarray:
        """(256, 3) uint8: class code -> condition colour (nodata black); "legend" is ``render_condition``'s."""
        return condition_table(self.style, self.vocab)
