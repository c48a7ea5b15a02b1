"""Writing Cloud-Optimized GeoTIFFs window by window, atomically.

Blocks are written to a tiled GeoTIFF under a temporary name in the output folder; on a clean close it is copied
to a COG (overviews built by GDAL's COG driver, which streams) under a second temporary name, and that file is
renamed onto the final name with ``os.replace`` (atomic on every platform). An exception, a cancel or a kill never
leaves a partial file under the final name.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
import rasterio.windows
from rasterio.enums import ColorInterp
from rasterio.vrt import WarpedVRT
from rasterio.warp import Resampling

from geogen.errors import OutputError
from geogen.io import claims
from geogen.io.gdal_env import cache_bytes
from tiles import Grid, Window

PARTIAL_SUFFIX = ".partial"


def prepare_output(path: str | Path, *, overwrite: bool, claim_label: str | None = None) -> Path:
    """Create the output folder if needed and check the final path may be written.

    Inside a job (``geogen.io.claims.job_scope``) the name is also claimed for the job (``claim_label`` names it
    in the error when another live job holds it).

    Raises:
        OutputError: the folder cannot be created or written, another live job writes this name, or the file
            exists and ``overwrite`` is False.
    """
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {p.parent}: {exc.strerror}") from None
    if not os.access(p.parent, os.W_OK):
        raise OutputError(f"output folder is not writable: {p.parent}")
    if p.is_dir():
        raise OutputError(f"output {p} is a folder; give a file path, e.g. {p / 'output.tif'}")
    scope = claims.current()
    if scope is not None and not claims.is_partial(p):
        scope.claim(p, overwrite=overwrite, label=claim_label)  # another live job on this name: refused
    if p.exists() and not overwrite:
        raise OutputError(
            f"output exists: {p} (to replace it: --overwrite on the command line, "
            '"overwrite": true in a job file\'s output)'
        )
    return p


def temp_sibling(path: Path, tag: str) -> Path:
    """A unique hidden temporary name next to ``path`` (same filesystem, so the final rename is atomic).

    The name carries its owner (job id, PID, host: see ``geogen.io.claims``), so that a job removes only its own
    partial files and a later run (or ``geogen clean``) those of dead jobs.
    """
    return claims.partial_name(Path(path), tag)


def _remove(path: Path) -> None:
    for p in (path, Path(str(path) + ".aux.xml"), Path(str(path) + ".ovr")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            pass  # Windows may hold a handle briefly; a hidden .partial file is harmless


def commit_file(tmp: Path, final: Path, *, overwrite: bool = True) -> None:
    """Move a finished temporary file onto its final name in one step.

    Inside a job (``geogen.io.claims.job_scope``) the job's cancel token is checked first and the name must
    still be the job's claim; ``overwrite`` is then limited by the claim's (the job's ``output.overwrite``).
    Without overwrite an existing file is never replaced, even one created since the job started: the move is a
    hard link (POSIX) or a rename (Windows), both of which fail when the name exists. With overwrite, inside a
    job, the file replaced is kept (``JobScope.keep_previous``) and put back if the job fails or is cancelled.

    Raises:
        CancelledError: the job was cancelled (nothing is moved).
        OutputError: the final file exists and may not be replaced, was claimed by another job, or cannot be
            replaced (on Windows: it is open elsewhere, e.g. as a QGIS layer).
    """
    tmp, final = Path(tmp), Path(final)
    scope = claims.current()
    previous = None
    if scope is not None:
        overwrite = scope.before_commit(final, overwrite)
        if overwrite:
            previous = scope.keep_previous(final)  # put back if the job fails or is cancelled later
    try:
        try:
            if overwrite:
                os.replace(tmp, final)
            else:
                _move_no_replace(tmp, final)
        except BaseException:
            if previous is not None:
                if os.path.lexists(final):
                    _remove(previous)  # a hard link: the final name still holds it
                else:
                    claims.JobScope.restore_previous(final, previous)
            raise
    except PermissionError:
        raise OutputError(
            f"cannot replace {final}: the file is in use or read-only (close it, e.g. remove the layer in QGIS, "
            "or choose another output name)"
        ) from None
    if scope is not None:
        scope.committed_file(final, previous)


def _move_no_replace(tmp: Path, final: Path) -> None:
    exists = OutputError(f"output exists: {final} (it was created while this job ran; it was not replaced)")
    if os.name == "nt":
        try:
            os.rename(tmp, final)  # fails on Windows when ``final`` exists
        except FileExistsError:
            raise exists from None
        return
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise exists from None
    except (OSError, NotImplementedError):
        # a filesystem without hard links (FAT, some shares): check, then move, under the job's claim
        if os.path.lexists(final):
            raise exists from None
        os.replace(tmp, final)
        return
    with contextlib.suppress(OSError):
        tmp.unlink()


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
        self.overwrite = overwrite
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
            scope = claims.current()
            if scope is not None:
                scope.check()  # cancelled while the last block was written: no COG conversion
            if self.cog:
                tmp_cog = temp_sibling(self.path, "cog")
                try:
                    rasterio.shutil.copy(self._tmp, tmp_cog, driver="COG", **_cog_options(self.dtype.name))
                    commit_file(tmp_cog, self.path, overwrite=self.overwrite)
                except BaseException:
                    _remove(tmp_cog)
                    raise
            else:
                commit_file(self._tmp, self.path, overwrite=self.overwrite)
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


_TILE = 256  # block size of the tiled GeoTIFFs written here


def _copy_swath(width: int, height: int, pixel_bytes: int, src_block: tuple[int, int]) -> tuple[int, int]:
    """(columns, lines) of the windows GDAL's CreateCopy reads from a source into a compressed, tiled,
    pixel-interleaved GeoTIFF (GDALCopyWholeRasterGetSwathSize, GDAL 3.x): the warp reads the same windows, so
    that the warper (and its approximate transformer) sees the same chunks and writes the same pixels as a
    one-call copy of the warped VRT."""
    src_by, src_bx = src_block
    max_bx, max_by = max(_TILE, src_bx), max(_TILE, src_by)
    cols, lines = width, max_by
    target = min(2**31 - 1, cache_bytes() // 4)
    ideal = cols * lines * pixel_bytes
    if ideal < target and ideal < 10_000_000:
        ideal = 10_000_000
    target = min(target, ideal)
    target = max(target, 1_000_000)
    if (
        width not in (_TILE, src_bx)
        and max_bx % _TILE == 0
        and max_bx % src_bx == 0
        and max_by % _TILE == 0
        and max_by % src_by == 0
        and max_bx * max_by * pixel_bytes <= target
    ):
        cols = max(max_bx, (target // (max_by * pixel_bytes)) // max_bx * max_bx)
        cols = min(cols, width)
        lines = max_by
        if cols * lines * pixel_bytes > target:
            cols, lines = width, _TILE
    per_line = cols * pixel_bytes
    if per_line * lines > target:
        lines = max(1, target // per_line)
    elif lines == 1 or per_line * lines < target // 10:
        lines = min(height, max(1, target // per_line))
        if lines % max_by and lines > max_by and max_by % _TILE == 0 and max_by % src_by == 0:
            lines = lines // max_by * max_by
    if lines < _TILE:
        lines = _TILE
        cols = min(width, max(_TILE, (target // (lines * pixel_bytes)) // _TILE * _TILE))
    elif lines % _TILE:
        lines = lines // _TILE * _TILE
    return cols, lines


def reproject_file(
    src: str | Path,
    dst: str | Path,
    crs: str,
    *,
    resampling: Resampling = Resampling.bilinear,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Warp a GeoTIFF to another CRS as a COG, streaming through a WarpedVRT window by window, atomically.

    The VRT is read in the windows GDAL's own copy would use (``_copy_swath``), so the pixels are those of a
    one-call ``rasterio.shutil.copy`` of it; ``progress(done, total)`` is called after each window: a
    cancellation point (a job's reporter raises CancelledError there). Class rasters should pass
    ``Resampling.nearest``.

    Raises:
        OutputError: ``dst`` exists without ``overwrite``, or cannot be written.
        CancelledError: raised by ``progress`` or at the commit; nothing is left under ``dst``.
    """
    out = prepare_output(dst, overwrite=overwrite)
    tmp_blocks = temp_sibling(out, "warp")
    tmp_cog = temp_sibling(out, "cog")
    try:
        with rasterio.open(src) as s, WarpedVRT(s, crs=crs, resampling=resampling) as vrt:
            dtype = s.dtypes[0]
            profile: dict[str, Any] = {
                "driver": "GTiff",
                "width": vrt.width,
                "height": vrt.height,
                "count": vrt.count,
                "dtype": vrt.dtypes[0],
                "crs": vrt.crs,
                "transform": vrt.transform,
                "tiled": True,
                "blockxsize": 256,
                "blockysize": 256,
                "compress": "DEFLATE",
                "bigtiff": "IF_SAFER",
            }
            if vrt.nodata is not None:
                profile["nodata"] = vrt.nodata
            pixel_bytes = np.dtype(vrt.dtypes[0]).itemsize * vrt.count
            cols, lines = _copy_swath(vrt.width, vrt.height, pixel_bytes, vrt.block_shapes[0])
            windows = [
                rasterio.windows.Window(x, y, min(cols, vrt.width - x), min(lines, vrt.height - y))
                for y in range(0, vrt.height, lines)
                for x in range(0, vrt.width, cols)
            ]
            with rasterio.open(tmp_blocks, "w", **profile) as d:
                for i, win in enumerate(windows):
                    d.write(vrt.read(window=win), window=win)
                    if progress is not None:
                        progress(i + 1, len(windows))
                d.update_tags(**s.tags())
                for i, desc in enumerate(s.descriptions, start=1):
                    if desc:
                        d.set_band_description(i, desc)
                d.colorinterp = s.colorinterp
        scope = claims.current()
        if scope is not None:
            scope.check()  # a cancel during the last strip: no COG conversion
        rasterio.shutil.copy(tmp_blocks, tmp_cog, driver="COG", **_cog_options(dtype))
        commit_file(tmp_cog, out, overwrite=overwrite)
    finally:
        _remove(tmp_blocks)
        _remove(tmp_cog)
    return out
