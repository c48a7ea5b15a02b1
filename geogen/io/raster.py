"""Opening rasters with precise errors, and reading their grid."""

from __future__ import annotations

from pathlib import Path

import rasterio
from rasterio.crs import CRS
from rasterio.errors import RasterioIOError

from geogen.errors import InputFileError, RasterError
from tiles import Grid


def crs_to_str(crs: CRS | str | None) -> str:
    """'EPSG:n' when the CRS has an EPSG code, WKT otherwise.

    Raises:
        RasterError: ``crs`` is None or empty.
    """
    if crs is None or (isinstance(crs, str) and not crs.strip()):
        raise RasterError("no CRS")
    c = CRS.from_user_input(crs)
    epsg = c.to_epsg()
    return f"EPSG:{epsg}" if epsg else c.to_wkt()


def open_raster(path: str | Path) -> rasterio.io.DatasetReader:
    """Open a raster for reading.

    Raises:
        InputFileError: the file does not exist.
        RasterError: GDAL cannot read it as a raster.
    """
    p = str(path)
    if not (p.startswith("/vsi") or Path(p).exists()):
        raise InputFileError(f"raster not found: {p}")
    try:
        return rasterio.open(p)
    except RasterioIOError as exc:
        raise RasterError(f"cannot read {p} as a raster: {str(exc).splitlines()[0]}") from None


def dataset_grid(ds: rasterio.io.DatasetReader, *, require_crs: bool = True) -> Grid:
    """The Grid of an open dataset.

    Raises:
        RasterError: no CRS (when required) or no/rotated geotransform.
    """
    if require_crs and ds.crs is None:
        raise RasterError(f"raster has no CRS (not georeferenced): {ds.name}")
    t = ds.transform
    if t.is_identity:
        raise RasterError(f"raster has no geotransform (not georeferenced): {ds.name}")
    if t.b != 0 or t.d != 0:
        raise RasterError(f"rotated rasters are not supported: {ds.name}")
    try:
        return Grid(ds.width, ds.height, t, crs_to_str(ds.crs) if ds.crs else "")
    except ValueError as exc:
        raise RasterError(f"unusable geotransform in {ds.name}: {exc}") from None


def read_grid(path: str | Path, *, require_crs: bool = True) -> Grid:
    """The Grid (size, transform, CRS) of a raster file."""
    with open_raster(path) as ds:
        return dataset_grid(ds, require_crs=require_crs)
