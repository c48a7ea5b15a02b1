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

from geogen.errors import ClassMappingError, VectorError
from geogen.io.raster import dataset_grid, open_raster
from geogen.io.rasterize import rasterize_classes
from geogen.io.vector import read_vector
from tiles import Grid

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
    lut: np.ndarray  # raw value -> engine code, indexed by raw integer value
    crs: str
    bounds: tuple[float, float, float, float]
    raw_values: Sequence[Hashable]
    native_res: float | None
    nodata: float | None

    def read(self, grid: Grid) -> np.ndarray:
        raw = np.zeros(grid.shape, dtype=np.int32)
        with rasterio.open(self.path) as ds:
            src_nodata = self.nodata if self.nodata is not None else 0
            reproject(
                rasterio.band(ds, 1),
                raw,
                dst_transform=grid.transform,
                dst_crs=grid.crs,
                resampling=Resampling.nearest,
                src_nodata=src_nodata,
                dst_nodata=src_nodata,
            )
        outside = (raw == src_nodata) | (raw < 0) | (raw >= len(self.lut))  # nodata, and beyond the raster
        raw[outside] = 0
        return self.lut[raw].astype(np.uint8)

    def values(self) -> Sequence[Hashable]:
        return self.raw_values


def is_raster_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in RASTER_SUFFIXES


def open_class_source(
    path: str | Path, code_of: CodeOf, *, class_field: str | None = None, layer: str | None = None
) -> ClassSource:
    """Open polygons (with ``class_field``) or a class raster, mapping every value through ``code_of``.

    Raises:
        InputFileError, VectorError, RasterError: unreadable input, missing class field.
        ClassMappingError: values that ``code_of`` cannot map (all listed in one message).
    """
    if is_raster_path(path):
        with open_raster(path) as ds:
            grid = dataset_grid(ds)
            if ds.count < 1 or np.dtype(ds.dtypes[0]).kind not in "iu":
                raise ClassMappingError(
                    f"class raster {path} must hold integer class codes, got {ds.dtypes[0]}"
                )
            nodata = ds.nodata
            present: set[int] = set()
            for _, win in ds.block_windows(1):
                present.update(np.unique(ds.read(1, window=win)).tolist())
        present.discard(0)
        if nodata is not None:
            present.discard(int(nodata))
        if not present:
            raise ClassMappingError(f"class raster {path} holds no class values (all nodata)")
        values = sorted(present)
        if values[0] < 0:
            raise ClassMappingError(
                f"class raster {path} holds negative class values (e.g. {values[0]}); "
                "class codes must be >= 0"
            )
        mapping = _check_mapping(values, code_of, f"class raster {Path(path).name}")
        lut = np.zeros(max(values) + 1, dtype=np.uint8)
        for v, c in mapping.items():
            lut[int(v)] = c
        return RasterClassSource(str(path), lut, grid.crs, grid.bounds, values, float(grid.res[0]), nodata)

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
