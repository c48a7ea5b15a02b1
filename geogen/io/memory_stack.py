"""A Sentinel-2 stack over arrays instead of files: numpy arrays, dask arrays, or anything sliceable.

``open_s2`` reads files; ``array_stack`` gives the same ``S2Stack`` over arrays that are already in memory or
lazily loaded (a dask array is sliced per window and only that slice is computed). The radiometric rules are
the file rules of ``geogen.io.sentinel2`` (its module docstring), applied to an array's dtype and attributes:

- integer data is DN = reflectance x ``REFLECTANCE_SCALE`` unless a scale/offset is given; 8-bit is refused;
- float data is reflectance, unless its values are too large for that (then DN x ``REFLECTANCE_SCALE``, with
  a warning, decided on a decimated sample);
- 0, NaN and a declared nodata value are nodata.

The conversion itself is ``geogen.io.sentinel2``'s, so an array gives bit for bit the reflectance that the
same pixels give when read from a GeoTIFF.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from geogen.errors import RasterError
from geogen.io.sentinel2 import (
    Radiometry,
    S2Stack,
    float_radiometry,
    integer_radiometry,
    read_reflectance,
)
from geogen.sensors.sentinel2 import REFLECTANCE_SCALE
from tiles import Grid, Window

_SAMPLE_SIDE = 256  # pixels per side of the decimated sample that decides whether float data is DN


class SliceableArray(Protocol):
    """What ``array_stack`` needs of a band's array: a 2-D shape, a dtype and basic slicing."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> Any: ...

    def __getitem__(self, key: Any) -> Any: ...


@dataclass(frozen=True)
class ArrayBand:
    """One band held by an array: its raw values (rows, cols) on ``grid``, and how they become reflectance."""

    name: str
    data: SliceableArray
    grid: Grid
    radiometry: Radiometry


class _ArrayReader:
    """Reads windows of one ``ArrayBand`` (an ``S2Stack`` band reader); a dask slice is computed per read."""

    def __init__(self, band: ArrayBand) -> None:
        self.band = band
        self.grid = band.grid

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        return read_reflectance(
            self.grid, window, self.band.radiometry, lambda inner: np.asarray(self.band.data[inner.slices])
        )

    def close(self) -> None:
        pass


def _sample(data: SliceableArray) -> np.ndarray:
    """Values spread over the array: a decimated copy, or for a chunked (dask) array 3 x 3 of its chunks,
    so that deciding the radiometry never loads a whole lazy band."""
    chunks = getattr(data, "chunks", None)
    if chunks is not None and hasattr(data, "blocks") and max(len(chunks[0]), len(chunks[1])) > 3:
        import dask

        rows, cols = (sorted({round(v) for v in np.linspace(0, len(c) - 1, 3)}) for c in chunks[:2])
        blocks = dask.compute(*(data.blocks[i, j] for i in rows for j in cols))
        return np.concatenate([np.asarray(b, dtype=np.float64).ravel() for b in blocks])
    step = max(1, max(data.shape[-2:]) // _SAMPLE_SIDE)
    return np.asarray(data[::step, ::step], dtype=np.float64)


def array_radiometry(
    data: SliceableArray,
    what: str,
    *,
    nodata: float | None = None,
    scale: float | None = None,
    offset: float | None = None,
    warnings: list[str] | None = None,
) -> Radiometry:
    """How the values of ``data`` turn into reflectance (the rules of the module docstring).

    Args:
        data: the band's raw array; float data is sampled (a decimated copy; 9 chunks of a dask array).
        what: the band's name, for messages.
        nodata: a declared no-data value (besides 0 and NaN).
        scale, offset: an explicit reflectance = value x scale + offset (e.g. CF ``scale_factor`` /
            ``add_offset``); they win over the dtype rules, unless they are 1 and 0.
        warnings: receives a message when float values are read as DN.

    Raises:
        RasterError: 8-bit or boolean data (a display rendering or a mask, not reflectance).
    """
    gain, bias = float(1.0 if scale is None else scale), float(0.0 if offset is None else offset)
    # as GDAL's: an identity scale/offset says nothing (rioxarray always sets one)
    if (gain, bias) != (1.0, 0.0):
        return Radiometry(gain, bias, nodata, f"scale {gain:g} / offset {bias:g}")
    dtype = np.dtype(data.dtype)
    if dtype.kind == "b" or dtype.itemsize == 1:
        raise RasterError(
            f"band {what} is {dtype}: that looks like a mask or a 0-255 display rendering, not reflectance; "
            f"give reflectance floats or DN integers (reflectance x {REFLECTANCE_SCALE})"
        )
    if dtype.kind in "iu":
        return integer_radiometry(nodata)
    if dtype.kind != "f":
        raise RasterError(f"band {what} has values of type {dtype}; expected floats or integers")
    sample = _sample(data)
    if nodata is not None and math.isfinite(nodata):
        sample = sample[sample != nodata]
    return float_radiometry(sample, nodata, f"band {what}", warnings)


def array_stack(
    bands: Sequence[ArrayBand], *, source: str = "arrays", warnings: Sequence[str] = ()
) -> S2Stack:
    """An ``S2Stack`` over ``bands`` (each on its own grid, corner-aligned to the finest one).

    Raises:
        InputFileError: no band.
        RasterError: a band's CRS, extent or resolution does not fit the finest band's grid, or its array's
            shape is not its grid's (naming the band).
    """
    readers: dict[str, _ArrayReader] = {}
    for b in bands:
        if tuple(b.data.shape) != b.grid.shape:
            raise RasterError(f"band {b.name} array is {tuple(b.data.shape)}, not its grid's {b.grid.shape}")
        readers[b.name] = _ArrayReader(b)
    notes = {b.name: b.radiometry.note for b in bands}
    return S2Stack(readers, source=source, warnings=list(warnings), notes=notes)
