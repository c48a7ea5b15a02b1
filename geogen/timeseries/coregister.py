"""Every frame of a sequence on one target grid, pixel for pixel.

A frame already on the target's pixel grid (same CRS and pixel size, whole-pixel offset) is copied exactly;
any other is resampled bilinearly (imagery; its cloud band too, as a cloudiness in [0, 1]) from the part of
the file covering the target plus a 2-pixel margin for the kernel. Pixels the frame does not cover, or covers
with nodata, come back invalid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rasterio.warp import Resampling, reproject

from geogen.errors import GeometryError
from geogen.io.aoi import parse_crs, reproject_bounds
from geogen.io.raster import dataset_grid, open_raster
from geogen.timeseries.clouds import cloudiness, find_cloud_band
from geogen.timeseries.render import open_rgb
from tiles import Grid, Window

MARGIN = 2
"""Source pixels read beyond the target's footprint on each side (bilinear support)."""


@dataclass
class FramePixels:
    """One frame on the target grid.

    Attributes:
        rgb: (3, H, W) uint8 colours (0 where invalid).
        valid: (H, W) True where the frame has data.
        cloud: (H, W) float32 cloudiness in [0, 1] (NaN where unknown), or None without a cloud band.
        synthetic: the file says it was generated (``GEOGEN_SYNTHETIC=YES``).
        rendering: how its colours were made (``geogen.timeseries.render``).
        exact: copied without resampling (it was on the target's pixel grid).
    """

    rgb: np.ndarray
    valid: np.ndarray
    cloud: np.ndarray | None
    synthetic: bool
    rendering: str
    exact: bool


def same_pixel_grid(src: Grid, dst: Grid, tol: float = 1e-6) -> bool:
    """True when ``src`` pixels are ``dst`` pixels (same CRS and size, offset a whole number of pixels)."""
    if src.crs != dst.crs and parse_crs(src.crs) != parse_crs(dst.crs):
        return False
    if any(abs(a - b) > tol * b for a, b in zip(src.res, dst.res, strict=True)):
        return False
    col, row = ~dst.transform @ (src.transform.c, src.transform.f)
    return abs(col - round(col)) < tol * 1e3 and abs(row - round(row)) < tol * 1e3


def source_window(src: Grid, dst: Grid, name: str | Path) -> Window:
    """The window of ``src`` covering ``dst``'s footprint, grown by ``MARGIN`` pixels and clipped.

    Raises:
        GeometryError: ``src`` does not overlap ``dst`` (the message names the file).
    """
    bounds = reproject_bounds(dst.bounds, dst.crs, src.crs)
    try:
        win = src.window(bounds)
    except ValueError:
        raise GeometryError(
            f"{name} does not overlap the area: the frame covers {tuple(round(v, 2) for v in src.bounds)} "
            f"({src.crs}), the area {tuple(round(v, 2) for v in dst.bounds)} ({dst.crs})"
        ) from None
    c0, r0 = max(win.col_off - MARGIN, 0), max(win.row_off - MARGIN, 0)
    c1, r1 = min(win.col_end + MARGIN, src.width), min(win.row_end + MARGIN, src.height)
    return Window(c0, r0, c1 - c0, r1 - r0)


def resample(data: np.ndarray, src: Grid, dst: Grid) -> tuple[np.ndarray, bool]:
    """(C, h, w) float32 on ``src`` (NaN invalid) -> (C, H, W) on ``dst`` (NaN outside), and whether it was
    copied exactly."""
    out = np.full((data.shape[0], dst.height, dst.width), np.nan, np.float32)
    if same_pixel_grid(src, dst):
        col, row = ~dst.transform @ (src.transform.c, src.transform.f)
        placed = Window(round(col), round(row), src.width, src.height)
        part = placed.intersection(Window(0, 0, dst.width, dst.height))
        if part is not None:
            s = part.relative_to(placed)
            out[:, part.slices[0], part.slices[1]] = data[:, s.slices[0], s.slices[1]]
        return out, True
    reproject(
        source=np.ascontiguousarray(data, np.float32),
        destination=out,
        src_transform=src.transform,
        src_crs=parse_crs(src.crs).to_wkt(),
        src_nodata=math.nan,
        dst_transform=dst.transform,
        dst_crs=parse_crs(dst.crs).to_wkt(),
        dst_nodata=math.nan,
        resampling=Resampling.bilinear,
    )
    return out, False


def _cloud(path: Path, grid: Grid) -> np.ndarray | None:
    """The file's cloudiness on ``grid`` (None: no cloud band, or not a single file)."""
    if not path.is_file() or path.suffix.lower() == ".zip":
        return None
    with open_raster(path) as ds:
        band = find_cloud_band(ds)
        if band is None:
            return None
        src = dataset_grid(ds)
        win = source_window(src, grid, path)
        raw = ds.read(band.index, window=win.to_rasterio(), masked=True)
        values = np.where(np.ma.getmaskarray(raw), np.nan, np.ma.getdata(raw).astype(np.float64))
    cloudy, _ = resample(cloudiness(values, band.kind)[None], src[win], grid)
    return cloudy[0]


def coregister(path: str | Path, grid: Grid) -> FramePixels:
    """The frame at ``path`` on ``grid``: RGB, valid mask and cloudiness (see the module docstring).

    Raises:
        InputFileError, RasterError: the file is missing, unreadable or has no usable bands.
        GeometryError: the frame does not overlap ``grid`` or has no data inside it (naming the file).
    """
    p = Path(path)
    with open_rgb(p) as src:
        win = source_window(src.grid, grid, p)
        rgb, exact = resample(src.read(win), src.grid[win], grid)
        rendering, synthetic = src.rendering, src.synthetic
    valid = np.all(np.isfinite(rgb), axis=0)
    if not valid.any():
        raise GeometryError(f"{p} has no valid pixel inside the area (nodata or masked everywhere there)")
    pixels = np.rint(np.nan_to_num(rgb, nan=0.0) * 255.0).astype(np.uint8)
    return FramePixels(pixels, valid, _cloud(p, grid), synthetic, rendering, exact)
