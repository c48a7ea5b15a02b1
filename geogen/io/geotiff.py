"""Writing Cloud-Optimized GeoTIFFs window by window, atomically.

Blocks are written to a tiled GeoTIFF under a temporary name in the output folder; on a clean close it is copied
to a COG (overviews built by GDAL's COG driver, which streams) under a second temporary name, and that file is
renamed onto the final name with ``os.replace`` (atomic on every platform). An exception, a cancel or a kill never
leaves a partial file under the final name.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.enums import ColorInterp
from rasterio.vrt import WarpedVRT
from rasterio.warp import Resampling

from geogen.errors import OutputError
from tiles import Grid, Window

PARTIAL_SUFFIX = ".partial"


def prepare_output(path: str | Path, *, overwrite: bool) -> Path:
    """Create the output folder if needed and check the final path may be written.

    Raises:
        OutputError: the folder cannot be created or written, or the file exists and ``overwrite`` is False.
    """
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {p.parent}: {exc.strerror}") from None
    if not os.access(p.parent, os.W_OK):
        raise OutputError(f"output folder is not writable: {p.parent}")
    if p.exists() and not overwrite:
        raise OutputError(f"output exists: {p} (pass --overwrite to replace it)")
    return p


def temp_sibling(path: Path, tag: str) -> Path:
    """A unique hidden temporary name next to ``path`` (same filesystem, so the final rename is atomic)."""
    return path.with_name(f".{path.stem}.{tag}.{uuid.uuid4().hex[:8]}{PARTIAL_SUFFIX}{path.suffix}")


def _remove(path: Path) -> None:
    for p in (path, Path(str(path) + ".aux.xml"), Path(str(path) + ".ovr")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            pass  # Windows may hold a handle briefly; a hidden .partial file is harmless


def commit_file(tmp: Path, final: Path) -> None:
    """Move a finished temporary file onto its final name in one step.

    Raises:
        OutputError: the final file cannot be replaced (on Windows: it is open elsewhere, e.g. as a QGIS layer).
    """
    try:
        os.replace(tmp, final)
    except PermissionError:
        raise OutputError(
            f"cannot replace {final}: the file is in use or read-only (close it, e.g. remove the layer in QGIS, "
            "or choose another output name)"
        ) from None


def _cog_options(dtype: str) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "compress": "DEFLATE",
        "blocksize": 512,
        "bigtiff": "IF_SAFER",
        "overview_resampling": "AVERAGE",
    }
    if np.dtype(dtype).kind == "f":
        opts["predictor"] = 3
    else:
        opts["predictor"] = 2
    return opts


class GeoTIFFWriter:
    """Write a raster on ``grid`` window by window; commit it as a COG when the ``with`` block ends cleanly.

    Args:
        path: final file name.
        grid: output grid (size, transform, CRS).
        count: number of data bands (an alpha band is added after them when ``alpha`` is True).
        dtype: numpy dtype of the data bands.
        nodata: value marking pixels outside the valid area (mutually exclusive with ``alpha``).
        alpha: add an 8-bit alpha band (255 valid, 0 outside) instead of a nodata value.
        band_descriptions: one name per data band (e.g. "B04", "red").
        tags: dataset metadata (see geogen.io.tags.provenance_tags).
        overwrite: replace an existing file at ``path``.
        colorinterp: colour interpretation of the data bands (e.g. RGB), optional.
    """

    def __init__(
        self,
        path: str | Path,
        grid: Grid,
        count: int,
        dtype: str | np.dtype,
        *,
        nodata: float | None = None,
        alpha: bool = False,
        band_descriptions: list[str] | None = None,
        tags: dict[str, str] | None = None,
        overwrite: bool = False,
        colorinterp: list[ColorInterp] | None = None,
        cog: bool = True,
    ) -> None:
        if alpha and nodata is not None:
            raise ValueError("use either nodata or alpha, not both")
        if band_descriptions is not None and len(band_descriptions) != count:
            raise ValueError(f"{len(band_descriptions)} band descriptions for {count} bands")
        self.path = prepare_output(path, overwrite=overwrite)
        self.grid = grid
        self.count = count
        self.dtype = np.dtype(dtype)
        self.nodata = nodata
        self.alpha = alpha
        self.band_descriptions = band_descriptions
        self.tags = dict(tags or {})
        self.colorinterp = colorinterp
        self.cog = cog
        self._tmp = temp_sibling(self.path, "blocks")
        self._ds: rasterio.io.DatasetWriter | None = None

    def __enter__(self) -> GeoTIFFWriter:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def open(self) -> None:
        profile: dict[str, Any] = {
            "driver": "GTiff",
            "width": self.grid.width,
            "height": self.grid.height,
            "count": self.count + (1 if self.alpha else 0),
            "dtype": self.dtype.name,
            "crs": self.grid.crs or None,
            "transform": self.grid.transform,
            "tiled": True,
            "blockxsize": 256,
            "blockysize": 256,
            "compress": "DEFLATE",
            "bigtiff": "IF_SAFER",
        }
        if self.nodata is not None:
            profile["nodata"] = self.nodata
        if self.alpha and self.dtype != np.uint8:
            raise ValueError("alpha bands are written for uint8 images only; use nodata for other types")
        try:
            self._ds = rasterio.open(self._tmp, "w", **profile)
        except rasterio.errors.RasterioIOError as exc:
            raise OutputError(f"cannot write {self.path}: {str(exc).splitlines()[0]}") from None
        ds = self._ds
        if self.band_descriptions:
            for i, d in enumerate(self.band_descriptions, start=1):
                ds.set_band_description(i, d)
        if self.alpha:
            ds.set_band_description(self.count + 1, "alpha")
            interp = [*(self.colorinterp or [ColorInterp.gray] * self.count), ColorInterp.alpha]
            ds.colorinterp = interp
        elif self.colorinterp:
            ds.colorinterp = self.colorinterp
        if self.tags:
            ds.update_tags(**self.tags)

    def write(self, window: Window, array: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Write ``array`` (count, h, w) at ``window``; ``valid`` (h, w) bool marks pixels inside the area."""
        if self._ds is None:
            raise RuntimeError("writer is not open")
        arr = np.asarray(array)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.shape != (self.count, window.height, window.width):
            raise ValueError(f"array shape {arr.shape} does not fit window {window} with {self.count} bands")
        if np.issubdtype(self.dtype, np.integer) and arr.dtype.kind == "f":
            info = np.iinfo(self.dtype)
            arr = np.clip(np.rint(arr), info.min, info.max)
        arr = arr.astype(self.dtype, copy=False)
        if valid is not None and self.nodata is not None:
            arr = np.where(valid[None], arr, np.asarray(self.nodata, dtype=self.dtype))
        self._ds.write(arr, indexes=list(range(1, self.count + 1)), window=window.to_rasterio())
        if self.alpha:
            a = (
                np.full((window.height, window.width), 255, np.uint8)
                if valid is None
                else valid.astype(np.uint8) * 255
            )
            self._ds.write(a, self.count + 1, window=window.to_rasterio())

    def commit(self) -> Path:
        """Close, convert to COG and move onto the final name."""
        if self._ds is None:
            raise RuntimeError("writer is not open")
        self._ds.close()
        self._ds = None
        try:
            if self.cog:
                tmp_cog = temp_sibling(self.path, "cog")
                try:
                    rasterio.shutil.copy(self._tmp, tmp_cog, driver="COG", **_cog_options(self.dtype.name))
                    commit_file(tmp_cog, self.path)
                except BaseException:
                    _remove(tmp_cog)
                    raise
            else:
                commit_file(self._tmp, self.path)
        finally:
            _remove(self._tmp)
        return self.path

    def abort(self) -> None:
        """Drop everything written; the final name is untouched."""
        if self._ds is not None:
            try:
                self._ds.close()
            finally:
                self._ds = None
        _remove(self._tmp)


def reproject_file(
    src: str | Path,
    dst: str | Path,
    crs: str,
    *,
    resampling: Resampling = Resampling.bilinear,
    overwrite: bool = False,
) -> Path:
    """Warp a GeoTIFF to another CRS as a COG, streaming through a WarpedVRT, atomically.

    Class rasters should pass ``Resampling.nearest``.
    """
    out = prepare_output(dst, overwrite=overwrite)
    tmp_blocks = temp_sibling(out, "warp")
    tmp_cog = temp_sibling(out, "cog")
    try:
        with rasterio.open(src) as s, WarpedVRT(s, crs=crs, resampling=resampling) as vrt:
            rasterio.shutil.copy(
                vrt, tmp_blocks, driver="GTiff", tiled=True, compress="DEFLATE", bigtiff="IF_SAFER"
            )
            with rasterio.open(tmp_blocks, "r+") as d:
                d.update_tags(**s.tags())
                for i, desc in enumerate(s.descriptions, start=1):
                    if desc:
                        d.set_band_description(i, desc)
                d.colorinterp = s.colorinterp
            dtype = s.dtypes[0]
        rasterio.shutil.copy(tmp_blocks, tmp_cog, driver="COG", **_cog_options(dtype))
        commit_file(tmp_cog, out)
    finally:
        _remove(tmp_blocks)
        _remove(tmp_cog)
    return out
