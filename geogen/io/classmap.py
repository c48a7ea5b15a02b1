"""Land-cover inputs (polygons with a class attribute, or a class raster) read as engine class codes on any grid.

A ``ClassSource`` is opened once (values checked against the mapping up front, so an unmapped class fails before
any work) and then read window by window: polygons are burnt without antialiasing, rasters resampled
nearest-neighbour only, so class codes stay exact. Code 0 means "outside the drawn area".
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import rasterio
from rasterio.warp import Resampling, reproject

from geogen.errors import ClassMappingError, GeometryError, VectorError
from geogen.io.aoi import Area
from geogen.io.raster import check_pixels, dataset_grid, open_raster, reading
from geogen.io.rasterize import rasterize_classes
from geogen.io.vector import read_vector
from tiles import Grid, Window

RASTER_SUFFIXES = {".tif", ".tiff", ".vrt", ".img", ".jp2", ".png"}
CodeOf = Callable[[Any], "int | None"]
_Value = TypeVar("_Value", bound=Hashable)


class ClassSource(Protocol):
    crs: str
    bounds: tuple[float, float, float, float]
    native_res: float | None

    def read(self, grid: Grid) -> np.ndarray: ...

    def values(self) -> Sequence[Hashable]: ...


def _check_mapping(values: Sequence[_Value], code_of: CodeOf, what: str) -> dict[_Value, int]:
    lut: dict[_Value, int] = {}
    missing: list[_Value] = []
    for v in values:
        c = code_of(v)
        if c is None:
            missing.append(v)
        else:
            lut[v] = int(c)
    if missing:
        shown = ", ".join(repr(m) for m in sorted(missing, key=str))
        raise ClassMappingError(
            f"{what}: {len(missing)} class value(s) have no mapping to the engine's classes: "
            f"{shown}; add them to the mapping file"
        )
    return lut


@dataclass
class VectorClassSource:
    """Polygons whose ``class_field`` values map to engine codes."""

    shapes: list[tuple[Any, int]]
    crs: str
    bounds: tuple[float, float, float, float]
    raw_values: Sequence[Hashable]
    native_res: float | None = None

    def read(self, grid: Grid) -> np.ndarray:
        return rasterize_classes(self.shapes, grid, shapes_crs=self.crs)

    def values(self) -> Sequence[Hashable]:
        return self.raw_values


@dataclass
class RasterClassSource:
    """A class raster whose cell values map to engine codes (0/nodata = outside)."""

    path: str
    raw_codes: np.ndarray  # the raster's class values, sorted (int64)
    codes: np.ndarray  # the engine code of each of ``raw_codes`` (uint8)
    crs: str
    bounds: tuple[float, float, float, float]
    raw_values: Sequence[Hashable]
    native_res: float | None
    nodata: float | None
    code_of: CodeOf | None = None  # maps values met outside the scanned area (None or unmappable: 0)

    def read(self, grid: Grid) -> np.ndarray:
        """Engine codes on ``grid`` (nearest-neighbour), 0 outside the raster and on nodata.

        Values the opening scan did not meet (it covers the area of interest only) are mapped through
        ``code_of`` here; one it cannot map lies outside the area of interest and reads as 0 (not drawn).

        Raises:
            RasterError: GDAL cannot read the raster's pixels (truncated or corrupt file), naming it.
        """
        src_nodata = self.nodata if self.nodata is not None else 0
        raw = np.full(grid.shape, src_nodata, dtype=np.int64)
        with open_raster(self.path) as ds, reading(self.path):
            reproject(
                rasterio.band(ds, 1),
                raw,
                dst_transform=grid.transform,
                dst_crs=grid.crs,
                resampling=Resampling.nearest,
                src_nodata=src_nodata,
                dst_nodata=src_nodata,
            )
        idx = np.clip(np.searchsorted(self.raw_codes, raw), 0, len(self.raw_codes) - 1)
        known = self.raw_codes[idx] == raw
        out = np.where(known & (raw != src_nodata), self.codes[idx], 0).astype(np.uint8)
        unknown = ~known & (raw > 0) & (raw != src_nodata)  # nodata, and beyond the raster, stay 0
        if self.code_of is not None and unknown.any():
            for v in np.unique(raw[unknown]).tolist():
                code = self.code_of(v)
                if code is not None:
                    out[unknown & (raw == v)] = code
        return out

    def values(self) -> Sequence[Hashable]:
        return self.raw_values


MAX_SCAN_PIXELS = 1 << 32
"""Default limit on the class raster pixels read to list its classes (about 4.3e9, a 65536 x 65536 raster)."""


def _scan_window(grid: Grid, area: Area | None, path: str | Path) -> Window:
    """The class raster's pixels under ``area`` (all of them without one), from the header alone.

    Raises:
        GeometryError: the area misses the raster.
    """
    if area is None:
        return grid.full_window
    try:
        return grid.window(area.to_crs(grid.crs).bounds)
    except ValueError:
        raise GeometryError(
            f"the land-cover input {Path(path).name} does not overlap the area of interest"
        ) from None


def _open_class_raster(
    path: str | Path, code_of: CodeOf, area: Area | None, max_pixels: int
) -> RasterClassSource:
    with open_raster(path) as ds:
        grid = dataset_grid(ds)
        if ds.count < 1 or np.dtype(ds.dtypes[0]).kind not in "iu":
            raise ClassMappingError(f"class raster {path} must hold integer class codes, got {ds.dtypes[0]}")
        window = _scan_window(grid, area, path)
        check_pixels(
            window.width,
            window.height,
            max_pixels,
            path,
            "class raster" if area is None else "the area of interest in class raster",
            "give a smaller area of interest (--aoi) or a smaller class raster",
        )
        nodata = ds.nodata
        present: set[int] = set()
        with reading(path):
            for _, block in ds.block_windows(1):
                inner = Window(block.col_off, block.row_off, block.width, block.height).intersection(window)
                if inner is not None:
                    present.update(np.unique(ds.read(1, window=inner.to_rasterio())).tolist())
    present.discard(0)
    if nodata is not None:
        present.discard(int(nodata))
    if not present:
        where = "" if area is None else " under the area of interest"
        raise ClassMappingError(f"class raster {path} holds no class values{where} (all nodata)")
    values = sorted(present)
    if values[0] < 0:
        raise ClassMappingError(
            f"class raster {path} holds negative class values (e.g. {values[0]}); class codes must be >= 0"
        )
    mapping = _check_mapping(values, code_of, f"class raster {Path(path).name}")
    return RasterClassSource(
        str(path),
        np.asarray(values, np.int64),
        np.asarray([mapping[v] for v in values], np.uint8),
        grid.crs,
        grid.bounds,
        values,
        float(grid.res[0]),
        nodata,
        code_of,
    )


def is_raster_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in RASTER_SUFFIXES


def open_class_source(
    path: str | Path,
    code_of: CodeOf,
    *,
    class_field: str | None = None,
    layer: str | None = None,
    area: Area | None = None,
    max_pixels: int = MAX_SCAN_PIXELS,
) -> ClassSource:
    """Open polygons (with ``class_field``) or a class raster, mapping every value through ``code_of``.

    A class raster's values are listed from its pixels under ``area`` (all of them without one); the size of
    that part is checked against ``max_pixels`` from the header, before any pixel is read.

    Raises:
        InputFileError, VectorError, RasterError: unreadable input (truncated, corrupt), missing class field.
        AreaTooLargeError: the class raster (under ``area``) has more than ``max_pixels`` pixels.
        GeometryError: ``area`` misses the class raster.
        ClassMappingError: values that ``code_of`` cannot map (all listed in one message).
    """
    if is_raster_path(path):
        return _open_class_raster(path, code_of, area, max_pixels)

    vl = read_vector(path, layer)
    fields = vl.field_names()
    if class_field is None:
        raise VectorError(
            f"a class field is needed for polygons; fields of {Path(path).name}: {', '.join(fields)}"
        )
    if class_field not in fields:
        raise VectorError(
            f"class field {class_field!r} not found in {Path(path).name}; fields: {', '.join(fields)}"
        )
    raw = [f.properties.get(class_field) for f in vl.features]
    raw_values = sorted({v for v in raw}, key=str)
    codes = _check_mapping(raw_values, code_of, f"field {class_field!r} of {Path(path).name}")
    shapes = [(f.geometry, codes[v]) for f, v in zip(vl.features, raw, strict=True)]
    return VectorClassSource(shapes, vl.crs, vl.bounds, raw_values)
