"""Streaming mosaic: blend overlapping tiles into an image, handing finished bands to a sink.

The image is cut into cells along every tile edge, so each cell is covered by a fixed set of tiles. A
cell's float accumulator is allocated when the first of its tiles arrives; each tile is added multiplied
by its blending weight (``tiles.blend``: weights sum to 1, so no normalisation buffer is needed). Once
all of a cell's tiles are in, the cell is converted to the output dtype, copied into its band and freed.
A band is a full-width run of rows (cut at tile edges, or ``block_rows``-high blocks of rows, optionally
cut into ``block_cols``-wide blocks); it goes to ``sink(window, array)`` once all its cells are
finished, and is freed.

Tiles may come in any order, but memory follows the order. In the plan's row-major order the float
accumulators hold about one overlap strip of rows across the width plus a tile, and the output-dtype
bands at most one tile height of rows (plus a block with ``block_rows``), whatever the area;
``stream_order`` keeps the strip shared with the shifted last tile row from spanning the width.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from types import TracebackType

import numpy as np
import numpy.typing as npt

from tiles.blend import AxisSpans, TileWeights, WeightKind
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


def _check_covers(axis: AxisSpans, size: int, name: str) -> None:
    """Raise unless the spans along ``axis`` cover ``[0, size)`` without gaps."""
    reach = 0
    for k in range(len(axis)):
        if axis.offsets[k] > reach:
            break
        reach = max(reach, axis.end(k))
    if reach != size or axis.offsets[0] != 0:
        spans = list(zip(axis.offsets, axis.sizes, strict=True))
        raise ValueError(f"the plan's tiles do not cover the image's {size} {name} (spans {spans})")


class _Cuts:
    """One axis cut at every tile edge (and block edge) into units, and the units grouped for the sink.

    A group is what the sink receives along this axis: a block (``block`` set), the whole axis
    (``whole``), or else each unit on its own.
    """

    def __init__(self, axis: AxisSpans, size: int, block: int | None, whole: bool) -> None:
        edges = {0, size, *axis.offsets, *(axis.end(k) for k in range(len(axis)))}
        if block is not None:
            edges.update(range(0, size, block))
        cuts = sorted(edges)
        self.starts = cuts[:-1]
        self.stops = cuts[1:]
        self.touches = np.zeros(len(self.starts), dtype=np.int64)  # tile spans covering each unit
        for k in range(len(axis)):
            units = self.units(axis.offsets[k], axis.end(k))
            self.touches[units.start : units.stop] += 1
        if block is not None:
            self.group_of = [start // block for start in self.starts]
            self.groups = [(g * block, min(g * block + block, size)) for g in range(-(-size // block))]
        elif whole:
            self.group_of = [0] * len(self.starts)
            self.groups = [(0, size)]
        else:
            self.group_of = list(range(len(self.starts)))
            self.groups = list(zip(self.starts, self.stops, strict=True))
        self.units_per_group = np.bincount(self.group_of, minlength=len(self.groups))

    def __len__(self) -> int:
        return len(self.starts)

    def units(self, start: int, stop: int) -> range:
        """Positions of the units inside ``[start, stop)`` (a span whose ends are edges)."""
        return range(bisect.bisect_left(self.starts, start), bisect.bisect_left(self.starts, stop))


def stream_order(tiles: Sequence[Tile]) -> list[Tile]:
    """The plan's tiles in the order that keeps a :class:`StreamingMosaic` smallest.

    Row-major, except that the last two tile rows are interleaved column by column: the last row is
    shifted back to end at the image's edge, so it may share almost all its rows with the row before,
    and in row-major order that whole strip would wait in float accumulators across the image's width.
    """
    last = max((t.index[0] for t in tiles), default=0)
    head = [t for t in tiles if t.index[0] < last - 1]
    tail = [t for t in tiles if t.index[0] >= last - 1]
    return sorted(head, key=lambda t: t.index) + sorted(tail, key=lambda t: (t.index[1], t.index[0]))


class StreamingMosaic:
    """Accumulates weighted tiles into lazily allocated cells and streams finished row bands to ``sink``.

    Args:
        shape: the output image's (rows, cols).
        count: number of bands (channels) of every tile and of the output.
        tiles: the plan (``tiles.plan.plan(shape, ...)``); must cover the image.
        sink: called as ``sink(window, array)`` with ``array`` of shape (count, window.height, window.width)
            in ``dtype``, once per finished band; windows are disjoint and together cover the image exactly
            once, in the order they finish. The sink owns the array afterwards.
        dtype: output dtype; integer outputs are rounded to nearest and clipped to the dtype's range.
        weight_kind: blending ramp, see ``tiles.blend.TileWeights``.
        block_rows: when set, the sink receives bands ``block_rows`` high starting at multiples of it (the
            last ends at the image's bottom), so a tiled GeoTIFF with that block height gets whole blocks.
            When None, bands follow the tiles' row edges and go out as early as possible.
        block_cols: when set, bands are further cut into windows ``block_cols`` wide starting at multiples
            of it, each handed over as soon as it is finished: with both set to a tiled GeoTIFF's block
            shape the sink gets single blocks, and about one row of blocks is held instead of two.
            When None, windows span the full width.

    Raises:
        ValueError: invalid shape, count, dtype, block size, weight kind, or a plan not covering the image.
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
        block_cols: int | None = None,
    ) -> None:
        rows, cols = (int(shape[0]), int(shape[1]))
        if rows <= 0 or cols <= 0:
            raise ValueError(f"shape must be two positive sizes (rows, cols), got {shape!r}")
        if int(count) <= 0:
            raise ValueError(f"count must be positive, got {count!r}")
        out_dtype = np.dtype(dtype)
        if out_dtype.kind not in "iuf":
            raise ValueError(f"dtype must be an integer or float type, got {out_dtype}")
        for name, block in (("block_rows", block_rows), ("block_cols", block_cols)):
            if block is not None and int(block) <= 0:
                raise ValueError(f"{name} must be positive or None, got {block!r}")
        self.shape = (rows, cols)
        self.count = int(count)
        self.dtype = out_dtype
        self._acc_dtype = _accumulator_dtype(out_dtype)
        self._sink = sink
        self._weights = TileWeights(tiles, weight_kind, self.shape)
        r_axis, c_axis = self._weights.rows, self._weights.cols
        _check_covers(r_axis, rows, "rows")
        _check_covers(c_axis, cols, "columns")

        self._rows = _Cuts(r_axis, rows, None if block_rows is None else int(block_rows), whole=False)
        self._cols = _Cuts(c_axis, cols, None if block_cols is None else int(block_cols), whole=True)

        self._added: set[tuple[int, int]] = set()
        self._cells: dict[tuple[int, int], list] = {}  # (row unit, col unit) -> [float buffer, tiles left]
        self._bands: dict[tuple[int, int], list] = {}  # (row group, col group) -> [output pixels, cells left]
        self._live_cells = np.zeros(len(self._rows), dtype=np.int64)  # live cells per row unit
        self._live_bands = np.zeros(len(self._rows.groups), dtype=np.int64)  # live bands per row group
        self._row_held = np.zeros(len(self._rows), dtype=bool)
        self._buffered_rows = 0
        self._peak_buffered_rows = 0
        self._bytes = 0
        self._peak_bytes = 0
        self._closed = False

    @property
    def tiles(self) -> list[Tile]:
        """The plan's tiles."""
        return self._weights.tiles

    @property
    def buffered_rows(self) -> int:
        """Image rows for which some pixels are currently held (accumulating, or finished and waiting)."""
        return self._buffered_rows

    @property
    def peak_buffered_rows(self) -> int:
        """Most image rows ever held at once (see ``buffered_rows``)."""
        return self._peak_buffered_rows

    @property
    def peak_buffer_bytes(self) -> int:
        """Most bytes ever held at once in float accumulators and output-dtype bands together."""
        return self._peak_bytes

    @property
    def missing(self) -> list[tuple[int, int]]:
        """Indices of the tiles not added yet, in plan order."""
        return [t.index for t in self._weights.tiles if t.index not in self._added]

    @property
    def done(self) -> bool:
        """Whether every tile has been added (and so every band handed to the sink)."""
        return len(self._added) == len(self._weights.tiles)

    def _band_window(self, band: tuple[int, int]) -> Window:
        (r0, r1), (c0, c1) = self._rows.groups[band[0]], self._cols.groups[band[1]]
        return Window(c0, r0, c1 - c0, r1 - r0)

    def _account(self, nbytes: int, units: range) -> None:
        """Add ``nbytes`` held and refresh which rows of ``units`` hold something."""
        self._bytes += nbytes
        self._peak_bytes = max(self._peak_bytes, self._bytes)
        for u in units:
            held = bool(self._live_cells[u]) or bool(self._live_bands[self._rows.group_of[u]])
            if held != self._row_held[u]:
                self._row_held[u] = held
                height = self._rows.stops[u] - self._rows.starts[u]
                self._buffered_rows += height if held else -height
        self._peak_buffered_rows = max(self._peak_buffered_rows, self._buffered_rows)

    def add(self, tile: Tile | int | tuple[int, int], array: np.ndarray) -> None:
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
            raise ValueError(
                f"tile {t.index} needs an array of shape {(self.count, w.height, w.width)}, got {arr.shape}"
            )
        weight = self._weights.weight(t).astype(self._acc_dtype)
        self._added.add(t.index)
        col_units = self._cols.units(w.col_off, w.col_end)
        for u in self._rows.units(w.row_off, w.row_end):
            rs = slice(self._rows.starts[u] - w.row_off, self._rows.stops[u] - w.row_off)
            for v in col_units:
                cs = slice(self._cols.starts[v] - w.col_off, self._cols.stops[v] - w.col_off)
                part = np.multiply(arr[:, rs, cs], weight[rs, cs], dtype=self._acc_dtype)
                cell = self._cells.get((u, v))
                if cell is None:
                    left = self._rows.touches[u] * self._cols.touches[v] - 1
                    if left == 0:  # covered by this tile alone: final already
                        self._finish_cell(u, v, part, held=0)
                        continue
                    self._cells[(u, v)] = [part, left]
                    self._live_cells[u] += 1
                    self._account(part.nbytes, range(u, u + 1))
                    continue
                cell[0] += part
                cell[1] -= 1
                if cell[1] == 0:
                    del self._cells[(u, v)]
                    self._live_cells[u] -= 1
                    self._finish_cell(u, v, cell[0], held=cell[0].nbytes)

    def _convert(self, buf: np.ndarray) -> np.ndarray:
        """The accumulated values in the output dtype (integers rounded to nearest and clipped)."""
        if self.dtype.kind == "f":
            return buf.astype(self.dtype, copy=False)
        info = np.iinfo(self.dtype)
        np.rint(buf, out=buf)
        np.clip(buf, info.min, info.max, out=buf)
        return buf.astype(self.dtype)

    def _finish_cell(self, u: int, v: int, values: np.ndarray, held: int) -> None:
        """Cell (u, v) is final: copy it into its band, free its ``held`` bytes, hand a full band over."""
        key = (self._rows.group_of[u], self._cols.group_of[v])
        window = self._band_window(key)
        rows_of_band = self._rows.units(window.row_off, window.row_end)
        band = self._bands.get(key)
        if band is None:
            left = self._rows.units_per_group[key[0]] * self._cols.units_per_group[key[1]]
            band = [np.empty((self.count, window.height, window.width), dtype=self.dtype), left]
            self._bands[key] = band
            self._live_bands[key[0]] += 1
            self._account(band[0].nbytes, rows_of_band)
        r0, c0 = self._rows.starts[u] - window.row_off, self._cols.starts[v] - window.col_off
        band[0][:, r0 : r0 + values.shape[1], c0 : c0 + values.shape[2]] = self._convert(values)
        self._account(-held, range(u, u + 1))
        band[1] -= 1
        if band[1] == 0:
            del self._bands[key]
            self._live_bands[key[0]] -= 1
            self._account(-band[0].nbytes, rows_of_band)
            self._sink(window, band[0])

    def _release(self) -> None:
        self._closed = True
        self._cells.clear()
        self._bands.clear()
        self._live_cells[:] = 0
        self._live_bands[:] = 0
        self._row_held[:] = False
        self._buffered_rows = 0
        self._bytes = 0

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

    def __enter__(self) -> StreamingMosaic:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._release()
