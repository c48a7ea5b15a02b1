"""A frame's colours as red, green, blue in [0, 1]: what the 3-D ControlNet reads and what the stack shows.

DiffusionSat's temporal ControlNet was trained on RGB frames scaled to [0, 1] (8-bit RGB / 255), so every
input is brought to that form the same way, whatever its sensor:
- Sentinel-2 (a stack ``geogen.io.sentinel2.open_s2`` reads: band folder, .SAFE, multi-band GeoTIFF naming its
  bands): true colour B04, B03, B02 as reflectance x ``S2_GAIN`` clipped to [0, 1] (Sentinel Hub's default
  true-colour rendering), identical for every date, so dates stay comparable;
- any other raster: the bands whose colour interpretation is red, green, blue (else bands 1-3; one band is
  grey), 8-bit values / 255, float values already in [0, 1] as they are; other data is stretched between its
  2nd and 98th percentiles over the pixels read (noted in ``rendering``, since that differs per date).
Invalid pixels (nodata, alpha 0, masked, NaN, Sentinel-2 DN 0) come back as NaN.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import TracebackType
from typing import Protocol, TypeVar

import numpy as np
import rasterio
from rasterio.enums import ColorInterp
from rasterio.errors import NodataShadowWarning

from geogen.errors import InputFileError, RasterError
from geogen.io.raster import dataset_grid, open_raster
from geogen.sensors.sentinel2 import RGB_BANDS, find_band
from tiles import Grid, Window

S2_GAIN = 2.5
STRETCH_PERCENTILES = (2.0, 98.0)


class RgbSource(Protocol):
    """An open frame that reads windows of its own grid as (3, h, w) float32 RGB in [0, 1] (NaN invalid)."""

    grid: Grid
    rendering: str
    synthetic: bool

    def read(self, window: Window) -> np.ndarray: ...

    def close(self) -> None: ...

    def __enter__(self) -> RgbSource: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


_SourceT = TypeVar("_SourceT", bound="_Source")


class _Source:
    """Context-manager plumbing shared by the two readers (``close`` on leaving the ``with`` block)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _SourceT) -> _SourceT:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _S2Rgb(_Source):
    """Sentinel-2 true colour from a stack's B04, B03, B02."""

    def __init__(self, path: Path, synthetic: bool) -> None:
        from geogen.io.sentinel2 import open_s2

        self.stack = open_s2(path)
        missing = [b for b in RGB_BANDS if b not in self.stack.bands]
        if missing:
            self.stack.close()
            raise RasterError(f"{path} has no Sentinel-2 band {', '.join(missing)} for a true-colour frame")
        self.grid = self.stack.grid  # the 10 m grid: B02, B03, B04 are Sentinel-2's finest bands
        self.rendering = (
            f"Sentinel-2 true colour (B04, B03, B02 reflectance x {S2_GAIN:g}, clipped to [0, 1])"
        )
        self.synthetic = synthetic

    def read(self, window: Window) -> np.ndarray:
        out = np.empty((3, window.height, window.width), np.float32)
        for k, band in enumerate(RGB_BANDS):
            refl, valid = self.stack.read(band, window)
            out[k] = np.where(valid, np.clip(refl * S2_GAIN, 0.0, 1.0), np.nan)
        return out

    def close(self) -> None:
        self.stack.close()


class _FileRgb(_Source):
    """Red, green, blue bands of an ordinary raster (see the module docstring)."""

    def __init__(self, path: Path, ds: rasterio.io.DatasetReader, synthetic: bool) -> None:
        self.ds = ds
        self.grid = dataset_grid(ds)
        self.indexes = _rgb_indexes(ds)
        self.dtype = np.dtype(ds.dtypes[self.indexes[0] - 1])
        self.synthetic = synthetic
        bands = ", ".join(map(str, self.indexes))
        if self.dtype == np.uint8:
            self.rendering = f"bands {bands} / 255"
        elif self.dtype.kind == "f":
            self.rendering = f"bands {bands} as [0, 1] values (stretched per frame when outside)"
        else:
            p0, p1 = STRETCH_PERCENTILES
            self.rendering = f"bands {bands} stretched per frame between percentiles {p0:g} and {p1:g}"

    def read(self, window: Window) -> np.ndarray:
        win = window.to_rasterio()
        data = self.ds.read(self.indexes, window=win).astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NodataShadowWarning)  # nodata wins over alpha: what is wanted
            valid = self.ds.dataset_mask(window=win) > 0
        valid &= np.all(np.isfinite(data), axis=0)
        if self.dtype == np.uint8:
            data /= 255.0
        elif self.dtype.kind != "f" or (valid.any() and float(np.nanmax(data[:, valid])) > 1.0):
            data = _stretch(data, valid)
        data = np.clip(data, 0.0, 1.0)
        data[:, ~valid] = np.nan
        return data

    def close(self) -> None:
        self.ds.close()


def _rgb_indexes(ds: rasterio.io.DatasetReader) -> list[int]:
    """1-based band indexes of red, green, blue (colour interpretation, else 1-3, grey for one band)."""
    interp = list(ds.colorinterp)
    wanted = (ColorInterp.red, ColorInterp.green, ColorInterp.blue)
    if all(c in interp for c in wanted):
        return [interp.index(c) + 1 for c in wanted]
    data = [i + 1 for i, c in enumerate(interp) if c != ColorInterp.alpha]
    if len(data) >= 3:
        return data[:3]
    if len(data) >= 1:
        return [data[0]] * 3
    raise RasterError(f"{ds.name} has no image band (only alpha)")


def _stretch(data: np.ndarray, valid: np.ndarray) -> np.ndarray:
    if not valid.any():
        return np.zeros_like(data)
    low, high = np.percentile(data[:, valid], STRETCH_PERCENTILES)
    return (data - low) / max(float(high - low), 1e-12)


def _is_s2_file(ds: rasterio.io.DatasetReader) -> bool:
    named = {find_band(d) for d in ds.descriptions if d}
    return all(b in named for b in RGB_BANDS)


def open_rgb(path: str | Path) -> RgbSource:
    """Open the frame at ``path`` for RGB reads (a context manager).

    Raises:
        InputFileError: the path does not exist.
        RasterError: unreadable, not georeferenced, or without the bands a colour frame needs.
    """
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"input frame not found: {p}")
    if p.is_dir() or p.suffix.lower() == ".zip":
        return _S2Rgb(p, synthetic=False)
    ds = open_raster(p)
    try:
        synthetic = ds.tags().get("GEOGEN_SYNTHETIC", "").upper() == "YES"
        if _is_s2_file(ds):
            ds.close()
            return _S2Rgb(p, synthetic)
        return _FileRgb(p, ds, synthetic)
    except BaseException:
        ds.close()
        raise


def frame_grid(path: str | Path) -> Grid:
    """The grid a frame is read on (a Sentinel-2 stack's 10 m grid, or the raster's own), as ``open_rgb`` reads it.

    Raises:
        InputFileError, RasterError: as ``open_rgb``.
    """
    with open_rgb(path) as source:
        return source.grid
