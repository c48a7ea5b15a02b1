"""Streaming mosaic: blend overlapping tiles into an image, handing finished row bands to a sink.

The image's rows are cut into bands. A band's buffer is allocated when the first tile touching it
arrives; each tile is added multiplied by its blending weight (``tiles.blend``, weights sum to 1, so no
normalisation buffer is needed); as soon as no pending tile touches a band, the band is converted to
the output dtype, handed to ``sink(window, array)`` and freed. Tiles may come in any order, but memory
follows the order: in the plan's row-major order at most one tile height of rows (plus up to two blocks
when ``block_rows`` is set) is buffered, about ``tile_height x width x count`` values, whatever the area.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from types import TracebackType

import numpy as np
import numpy.typing as npt

from tiles.blend import TileWeights, WeightKind, _Axis
from tiles.plan import Tile
from tiles.window import Window

Sink = Callable[[Window, np.ndarray], object]


class IncompleteMosaicError(RuntimeError):
    """The mosaic was closed before every tile of its plan was added."""


def _accumulator_dtype(dtype: np.dtype) -> np.dtype:
    """float32 where it holds the output exactly enough (<= 16-bit ints, <= 32-bit floats), else float64."""
    if dtype.kind == "f":
        return np.dtype(np.float64 if dtype.itemsize > 4 else np.float32)
    return np.dtype(np.float64 if dtype.itemsize > 2 else np.float32)


def _check_covers(axis: _Axis, size: int, name: str) -> None:
    """Raise unless the spans along ``axis`` cover ``[0, size)`` without gaps."""
    reach = 0
    for k in range(len(axis)):
        if axis.offsets[k] > reach:
            break
        reach = max(reach, axis.end(k))
    if reach != size or axis.offsets[0] != 0:
        raise ValueError(f"the plan's tiles do not cover the image's {size} {name} (spans {list(zip(axis.offsets, axis.sizes))})")


class StreamingMosaic:
    """Accumulates weighted tiles into lazily allocated row bands and streams finished bands to ``sink``.

    Args:
        shape: the output image's (rows, cols).
        count: number of bands (channels) of every tile and of the output.
        tiles: the plan (``tiles.plan.plan(shape, ...)``); must cover the image.
        sink: called as ``sink(window, array)`` with ``array`` of shape (count, window.height, window.width)
            in ``dtype``, once per finished band; windows span the full width, are disjoint and together
            cover the image exactly once, in the order bands finish. The sink owns the array afterwards.
        dtype: output dtype; integer outputs are rounded to nearest and clipped to the dtype's range.
        weight_kind: blending ramp, see ``tiles.blend.TileWeights``.
        block_rows: when set, bands are ``block_rows`` high and start at multiples of it (the last one
            ends at the image's bottom), so a tiled GeoTIFF with that block height receives whole
            blocks. When None, band edges follow the tiles' row edges and bands are emitted earliest.

    Raises:
        ValueError: invalid shape, count, dtype, block_rows, weight kind, or a plan not covering the image.
    """

    def __init__(
        self,
        shape: tuple[int, int],
        count: int,
        tiles: Sequence[Tile],
        sink: Sink,
        *,
        dtype: npt.DTypeLike = np.float32,
        weight_kind: WeightKind = "cosine",
        block_rows: int | None = None,
    ) -> None:
        rows, cols = (int(shape[0]), int(shape[1]))
        if rows <= 0 or cols <= 0:
            raise ValueError(f"shape must be two positive sizes (rows, cols), got {shape!r}")
        if int(count) <= 0:
            raise ValueError(f"count must be positive, got {count!r}")
        out_dtype = np.dtype(dtype)
        if out_dtype.kind not in "iuf":
            raise ValueError(f"dtype must be an integer or float type, got {out_dtype}")
        if block_rows is not None and int(block_rows) <= 0:
            raise ValueError(f"block_rows must be positive or None, got {block_rows!r}")
        self.shape = (rows, cols)
        self.count = int(count)
        self.dtype = out_dtype
        self._acc_dtype = _accumulator_dtype(out_dtype)
        self._sink = sink
        self._weights = TileWeights(tiles, weight_kind, self.shape)
        _check_covers(self._weights.rows, rows, "rows")
        _check_covers(self._weights.cols, cols, "columns")

        if block_rows is None:
            axis = self._weights.rows
            edges = sorted({0, rows, *axis.offsets, *(axis.end(k) for k in range(len(axis)))})
        else:
            edges = [*range(0, rows, int(block_rows)), rows]
        self._starts = edges[:-1]
        self._stops = edges[1:]
        self._pending = np.zeros(len(self._starts), dtype=np.int64)
        n_cols = len(self._weights.cols)
        for i in range(len(self._weights.rows)):
            units = self._units(self._weights.rows.offsets[i], self._weights.rows.end(i))
            self._pending[units.start : units.stop] += n_cols

        self._added: set[tuple[int, int]] = set()
        self._buffers: dict[int, np.ndarray] = {}
        self._buffered_rows = 0
        self._peak_buffered_rows = 0
        self._closed = False

    @property
    def tiles(self) -> list[Tile]:
        return self._weights.tiles

    @property
    def buffered_rows(self) -> int:
        """Image rows currently held in band buffers."""
        return self._buffered_rows

    @property
    def peak_buffered_rows(self) -> int:
        """Most image rows ever held in band buffers at once (memory is this x width x count values)."""
        return self._peak_buffered_rows

    @property
    def missing(self) -> list[tuple[int, int]]:
        """Indices of the tiles not added yet, in plan order."""
        return [t.index for t in self._weights.tiles if t.index not in self._added]

    @property
    def done(self) -> bool:
        """Whether every tile has been added (and so every band handed to the sink)."""
        return len(self._added) == len(self._weights.tiles)

    def _units(self, start: int, stop: int) -> range:
        """Positions of the bands intersecting rows ``[start, stop)``."""
        return range(bisect.bisect_right(self._starts, start) - 1, bisect.bisect_left(self._starts, stop))

    def add(self, tile: "Tile | int | tuple[int, int]", array: np.ndarray) -> None:
        """Blend one tile's (count, h, w) pixels in; bands no pending tile touches go to the sink now.

        ``tile`` is a Tile of the plan, its (row, col) index or its position in the plan's list.

        Raises:
            ValueError: unknown or already added tile, wrong array shape, or the mosaic is closed.
        """
        if self._closed:
            raise ValueError("cannot add a tile to a closed mosaic")
        t = self._weights.resolve(tile)
        if t.index in self._added:
            raise ValueError(f"tile {t.index} was already added")
        w = t.window
        arr = np.asarray(array)
        if arr.shape != (self.count, w.height, w.width):
            raise ValueError(f"tile {t.index} needs an array of shape {(self.count, w.height, w.width)}, got {arr.shape}")
        weight = self._weights.weight(t).astype(self._acc_dtype)
        self._added.add(t.index)
        for u in self._units(w.row_off, w.row_end):
            start, stop = self._starts[u], self._stops[u]
            buf = self._buffers.get(u)
            if buf is None:
                buf = np.zeros((self.count, stop - start, self.shape[1]), dtype=self._acc_dtype)
                self._buffers[u] = buf
                self._buffered_rows += stop - start
                self._peak_buffered_rows = max(self._peak_buffered_rows, self._buffered_rows)
            r0, r1 = max(start, w.row_off), min(stop, w.row_end)
            part = np.multiply(
                arr[:, r0 - w.row_off : r1 - w.row_off], weight[r0 - w.row_off : r1 - w.row_off], dtype=self._acc_dtype
            )
            buf[:, r0 - start : r1 - start, w.col_off : w.col_end] += part
            self._pending[u] -= 1
            if self._pending[u] == 0:
                self._emit(u)

    def _emit(self, u: int) -> None:
        buf = self._buffers.pop(u)
        start, stop = self._starts[u], self._stops[u]
        self._buffered_rows -= stop - start
        if self.dtype.kind == "f":
            out = buf.astype(self.dtype, copy=False)
        else:
            info = np.iinfo(self.dtype)
            np.rint(buf, out=buf)
            np.clip(buf, info.min, info.max, out=buf)
            out = buf.astype(self.dtype)
        del buf
        self._sink(Window(0, start, self.shape[1], stop - start), out)

    def _release(self) -> None:
        self._closed = True
        self._buffers.clear()
        self._buffered_rows = 0

    def close(self) -> None:
        """Finish the mosaic; every band was already handed to the sink once all tiles were added.

        Raises:
            IncompleteMosaicError: some tiles were never added (their rows were never handed to the sink).
        """
        if self._closed:
            return
        missing = self.missing
        self._release()
        if missing:
            raise IncompleteMosaicError(
                f"{len(missing)} of {len(self._weights.tiles)} tiles were never added, e.g. {missing[:5]}; "
                "the rows they touch were not written"
            )

    def __enter__(self) -> "StreamingMosaic":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._release()
