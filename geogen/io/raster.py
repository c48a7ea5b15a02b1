"""Opening rasters with precise errors, and reading their grid.

Every read of a user's raster goes through here or through ``reading``: a file GDAL cannot open or decode
(truncated, corrupt, not a raster) is a ``RasterError`` naming the file and GDAL's own one-line reason, never a
raw RasterioIOError, and a raster too large for a job is refused from its header (``check_pixels``) before any
pixel is read, so a small file declaring a huge size (a decompression bomb) costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.errors import RasterioError

from geogen.errors import InputFileError, RasterError, os_error, os_limit_reason
from tiles import Grid

GDAL_ERRORS = (RasterioError, CPLE_BaseError)
"""What rasterio raises when GDAL cannot open, decode or warp a file."""


def gdal_reason(exc: BaseException) -> str:
    """GDAL's own reason for ``exc``: the first line of the innermost error it chains (rasterio wraps the
    useful message, e.g. "TIFFReadEncodedStrip: Read error at scanline 3", in a generic "Read failed")."""
    reasons = []
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        text = str(e).strip().splitlines()
        if text and not text[0].startswith("Read failed. See previous exception"):
            reasons.append(text[0])
        e = e.__cause__ or e.__context__
    return reasons[-1] if reasons else type(exc).__name__


def raster_read_error(path: str | Path, exc: BaseException, what: str = "") -> RasterError:
    """A one-line RasterError for a GDAL failure while reading ``path`` (``what``: e.g. "band B02")."""
    subject = f"{what} of {path}" if what else str(path)
    return RasterError(f"cannot read {subject}: {gdal_reason(exc)} (the file may be truncated or corrupt)")


@contextmanager
def reading(path: str | Path, what: str = "") -> Iterator[None]:
    """Turn GDAL read failures inside the block into ``raster_read_error``s naming ``path``."""
    try:
        yield
    except GDAL_ERRORS as exc:
        raise raster_read_error(path, exc, what) from None


def path_exists(path: str | Path, *, what: str = "input") -> bool:
    """Whether ``path`` exists; a path the OS refuses to look up (name too long, permission denied) is an
    ``InputFileError`` naming it, not an OSError."""
    try:
        return Path(path).exists()
    except OSError as exc:
        if os_limit_reason(exc) is None:
            raise
        raise os_error(exc, path, output=False) from None


def check_pixels(
    width: int, height: int, max_pixels: int, path: str | Path, what: str = "raster", hint: str = ""
) -> None:
    """Refuse a raster whose header declares more than ``max_pixels`` pixels, before any pixel is read.

    Raises:
        AreaTooLargeError: ``width * height`` > ``max_pixels``.
    """
    from geogen.errors import AreaTooLargeError

    if width * height > max_pixels:
        raise AreaTooLargeError(
            f"{what} {path} declares {width} x {height} px ({width * height:.3g} px), more than the "
            f"{max_pixels:.3g} px it may have here{'; ' + hint if hint else ''}"
        )


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
        InputFileError: the file does not exist (or the OS refuses to look it up).
        RasterError: GDAL cannot read it as a raster.
    """
    p = str(path)
    if not (p.startswith("/vsi") or path_exists(p)):
        raise InputFileError(f"raster not found: {p}")
    if not p.startswith("/vsi") and Path(p).is_dir():
        raise InputFileError(f"{p} is a folder, not a raster file")
    try:
        return rasterio.open(p)
    except GDAL_ERRORS as exc:
        raise RasterError(f"cannot read {p} as a raster: {gdal_reason(exc)}") from None


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
