"""A Sentinel-2 band stack: every band on its native grid, read window by window as reflectance + valid mask.

Inputs (``open_s2``):
- a folder of per-band GeoTIFF/JP2 files with the band in the name (``..._B02.tif``, ``..._B8A.jp2``; "B2" and
  "B02" both read as B02), optionally with ``R10m``/``R20m``/``R60m`` sub-folders, or of multi-band GeoTIFFs;
- a multi-band GeoTIFF whose band descriptions name the bands (layers that name no band, such as a cloud
  probability, are skipped);
- an L1C/L2A ``.SAFE`` folder or its ``.zip`` (read in place through ``/vsizip/``).

Conventions made explicit here, because they are where users' SR runs usually go wrong:
- reflectance = (DN + offset) / quantification for integer data; the offset and quantification come from the
  product metadata (SAFE) or the GDAL band scale/offset; without either, uint16/int16 data is DN = reflectance
  x 10000 and float data is taken as reflectance unless its values are too large for that (then DN x 10000,
  with a warning). 8-bit data is refused (a 0-255 rendering is not reflectance).
- DN 0 (and NaN, and a declared nodata value) is nodata: ``read`` returns it as invalid, never as a value.
- all bands must share the CRS and the bounds, with resolutions an integer multiple of the finest band's
  (corner-aligned: coarse pixel (i, j) covers fine pixels (f*i .. f*i+f-1, f*j .. f*j+f-1)).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol
from warnings import catch_warnings, simplefilter

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning

from geogen.errors import InputFileError, RasterError
from geogen.io.raster import GDAL_ERRORS, check_pixels, dataset_grid, gdal_reason, path_exists, reading
from geogen.io.safe import is_safe, read_safe
from geogen.sensors.sentinel2 import NATIVE_RES, REFLECTANCE_SCALE, find_band, sort_bands
from tiles import Grid, Window

_RASTER_SUFFIXES = (".tif", ".tiff", ".jp2")
_RES_FOLDERS = ("R10m", "R20m", "R60m")
_MAX_PLAUSIBLE_REFLECTANCE = 2.0


@dataclass(frozen=True)
class Radiometry:
    """reflectance = DN * gain + bias; ``nodata`` is a declared no-data DN (besides 0 and NaN)."""

    gain: float
    bias: float
    nodata: float | None = None
    note: str = ""


@dataclass(frozen=True)
class BandSource:
    """Where one band's pixels are: a file (or GDAL virtual path) and 1-based band index in it."""

    name: str
    path: str
    index: int
    grid: Grid
    radiometry: Radiometry


class _BandReader(Protocol):
    grid: Grid

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]: ...

    def close(self) -> None: ...


def to_reflectance(dn: np.ndarray, radiometry: Radiometry) -> tuple[np.ndarray, np.ndarray]:
    """Raw values as float32 reflectance (0 where invalid) and the valid mask: 0, NaN and nodata are invalid."""
    data = dn.astype(np.float32)
    valid = np.isfinite(data) & (data != 0)
    if radiometry.nodata is not None and math.isfinite(radiometry.nodata):
        valid &= data != radiometry.nodata
    refl = data * np.float32(radiometry.gain) + np.float32(radiometry.bias)
    return np.where(valid, refl, 0).astype(np.float32), valid


def read_reflectance(
    grid: Grid, window: Window, radiometry: Radiometry, read_raw: Callable[[Window], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Reflectance and valid mask over ``window`` of a band on ``grid`` (the parts outside it invalid).

    ``read_raw`` reads the band's raw values over a window inside ``grid``; it is not called when ``window``
    misses the grid. Every band reader (file or array) reads through this, so they agree bit for bit.
    """
    out = np.zeros((window.height, window.width), np.float32)
    valid = np.zeros((window.height, window.width), bool)
    inner = window.intersection(grid.full_window)
    if inner is None:
        return out, valid
    raw = read_raw(inner)
    rel = inner.relative_to(window)
    out[rel.slices], valid[rel.slices] = to_reflectance(raw, radiometry)
    return out, valid


def integer_radiometry(nodata: float | None) -> Radiometry:
    """The radiometry of integer data without a scale/offset: DN = reflectance x ``REFLECTANCE_SCALE``."""
    return Radiometry(
        1 / REFLECTANCE_SCALE, 0.0, nodata, f"DN = reflectance x {REFLECTANCE_SCALE} (no offset)"
    )


def float_radiometry(
    sample: np.ndarray, nodata: float | None, what: str, warnings: list[str] | None
) -> Radiometry:
    """The radiometry of float data without a scale/offset, decided on a ``sample`` of its values.

    Reflectance, unless the sample's 99th percentile (0 and NaN left out) is too large for reflectance: then
    the values are DN x ``REFLECTANCE_SCALE`` and ``warnings`` (when given) receives a message that starts
    with ``what``.
    """
    sample = sample[np.isfinite(sample) & (sample != 0)]
    if sample.size and np.percentile(sample, 99) > _MAX_PLAUSIBLE_REFLECTANCE:
        if warnings is not None:
            warnings.append(
                f"{what}: float values up to {sample.max():g} are too large for reflectance; "
                f"reading them as reflectance x {REFLECTANCE_SCALE}"
            )
        return Radiometry(1 / REFLECTANCE_SCALE, 0.0, nodata, f"float DN = reflectance x {REFLECTANCE_SCALE}")
    return Radiometry(1.0, 0.0, nodata, "float reflectance")


class _FileBand:
    """One band of a file, opened on first read and kept open until ``close``."""

    def __init__(self, source: BandSource) -> None:
        self.source = source
        self.grid = source.grid
        self._ds: rasterio.io.DatasetReader | None = None

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        return read_reflectance(self.grid, window, self.source.radiometry, self._read_dn)

    def _read_dn(self, inner: Window) -> np.ndarray:
        if self._ds is None:
            self._ds = _open(self.source.path, self.source.name)
        with reading(self.source.path, f"band {self.source.name}"):
            return self._ds.read(self.source.index, window=inner.to_rasterio())

    def close(self) -> None:
        if self._ds is not None:
            self._ds.close()
            self._ds = None


class _ArrayBand:
    """A band held in memory as reflectance (for Wald's protocol, tests and benchmarks)."""

    def __init__(self, data: np.ndarray, valid: np.ndarray, grid: Grid) -> None:
        self.data, self.valid, self.grid = data, valid, grid

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        out = np.zeros((window.height, window.width), np.float32)
        valid = np.zeros((window.height, window.width), bool)
        inner = window.intersection(self.grid.full_window)
        if inner is not None:
            rel = inner.relative_to(window)
            out[rel.slices] = self.data[inner.slices]
            valid[rel.slices] = self.valid[inner.slices]
        return out, valid

    def close(self) -> None:
        pass


def _same_crs(a: str, b: str) -> bool:
    return a == b or CRS.from_user_input(a) == CRS.from_user_input(b)


def _factors(grids: Mapping[str, Grid]) -> tuple[Grid, dict[str, int]]:
    """The finest grid and each band's integer resolution factor to it.

    Raises:
        RasterError: a band's CRS, bounds or resolution does not fit the finest band's grid (naming the band).
    """
    fine_name = min(grids, key=lambda b: (grids[b].res[0], b))
    fine = grids[fine_name]
    tol = 1e-3 * fine.res[0]
    factors: dict[str, int] = {}
    for band, g in grids.items():
        if not _same_crs(g.crs, fine.crs):
            raise RasterError(
                f"band {band} is in {g.crs} but band {fine_name} in {fine.crs}; all bands need one CRS"
            )
        if any(abs(a - b) > tol for a, b in zip(g.bounds, fine.bounds, strict=True)):
            raise RasterError(
                f"band {band} covers {tuple(round(v, 3) for v in g.bounds)} but band {fine_name} "
                f"covers {tuple(round(v, 3) for v in fine.bounds)}; all bands must share one extent"
            )
        fx, fy = g.res[0] / fine.res[0], g.res[1] / fine.res[1]
        f = round(fx)
        if (
            f < 1
            or abs(fx - f) > 1e-4 * f
            or abs(fy - f) > 1e-4 * f
            or g.width * f != fine.width
            or g.height * f != fine.height
        ):
            raise RasterError(
                f"band {band} has {g.res[0]:g} x {g.res[1]:g} pixels ({g.width} x {g.height}), not a "
                f"whole multiple of band {fine_name}'s {fine.res[0]:g} m grid ({fine.width} x "
                f"{fine.height})"
            )
        factors[band] = f
    return fine, factors


class S2Stack:
    """The bands of one Sentinel-2 scene, each on its native grid, corner-aligned to the finest one.

    Use as a context manager (files stay open between windowed reads). ``read(band, window)`` takes a window
    of the finest grid (``grid``) aligned to the band's factor and returns that footprint at the band's native
    resolution as float32 reflectance plus a bool valid mask.
    """

    def __init__(
        self,
        readers: Mapping[str, _BandReader],
        *,
        source: str,
        level: str | None = None,
        baseline: str | None = None,
        warnings: list[str] | None = None,
        notes: Mapping[str, str] | None = None,
    ) -> None:
        if not readers:
            raise InputFileError(f"no Sentinel-2 bands in {source}")
        self._readers = {b: readers[b] for b in sort_bands(list(readers))}
        self.grid, self._factors = _factors({b: r.grid for b, r in self._readers.items()})
        self.source = source
        self.level = level
        self.baseline = baseline
        self.warnings = list(warnings or [])
        self.notes = dict(notes or {})

    @classmethod
    def from_arrays(
        cls,
        arrays: Mapping[str, np.ndarray],
        grid: Grid,
        *,
        valid: Mapping[str, np.ndarray] | None = None,
        source: str = "arrays",
    ) -> S2Stack:
        """A stack from reflectance arrays keyed by band; each array's size fixes its factor to ``grid``."""
        readers: dict[str, _BandReader] = {}
        for band, data in arrays.items():
            h, w = data.shape
            f = grid.height // h
            if f < 1 or h * f != grid.height or w * f != grid.width:
                raise RasterError(
                    f"band {band} array is {w} x {h}, not a whole fraction of the {grid.width} x "
                    f"{grid.height} grid"
                )
            band_grid = Grid(w, h, grid.transform @ Affine.scale(f), grid.crs)
            v = (
                np.ones(data.shape, bool)
                if valid is None or band not in valid
                else np.asarray(valid[band], bool)
            )
            readers[band] = _ArrayBand(np.asarray(data, np.float32), v, band_grid)
        return cls(readers, source=source)

    @property
    def bands(self) -> tuple[str, ...]:
        """Band names in Sentinel-2 order."""
        return tuple(self._readers)

    def factor(self, band: str) -> int:
        """How many fine pixels one pixel of ``band`` spans along each axis (1, 2 or 6 for 10/20/60 m)."""
        return self._factors[band]

    def band_grid(self, band: str) -> Grid:
        return self._readers[band].grid

    def read(self, band: str, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Reflectance (float32, 0 where invalid) and valid mask of ``band`` over ``window`` of the fine grid.

        The window must be aligned to the band's factor; parts outside the scene come back invalid.
        """
        f = self._factors[band]
        if any(v % f for v in (window.col_off, window.row_off, window.width, window.height)):
            raise ValueError(f"window {window} is not aligned to band {band}'s {f} x {f} pixels")
        native = Window(window.col_off // f, window.row_off // f, window.width // f, window.height // f)
        return self._readers[band].read(native)

    def close(self) -> None:
        for r in self._readers.values():
            r.close()

    def __enter__(self) -> S2Stack:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _open(path: str, what: str) -> rasterio.io.DatasetReader:
    if not path.startswith("/vsi") and not path_exists(path):
        raise InputFileError(f"Sentinel-2 file for {what} not found: {path}")
    try:
        with catch_warnings():
            simplefilter("ignore", NotGeoreferencedWarning)  # reported as a RasterError by _grid_of
            return rasterio.open(path)
    except GDAL_ERRORS as exc:
        raise RasterError(f"cannot read {path} as a raster: {gdal_reason(exc)}") from None


MAX_BAND_PIXELS = 1 << 31
"""Largest band a stack may have (about 46000 x 46000 px; a whole Sentinel-2 tile at 10 m is 10980 x 10980)."""


def _check_size(ds: rasterio.io.DatasetReader, path: str) -> None:
    """Refuse a file declaring more than ``MAX_BAND_PIXELS`` from its header, before any pixel is read."""
    check_pixels(
        ds.width,
        ds.height,
        MAX_BAND_PIXELS,
        path,
        "Sentinel-2 file",
        "a Sentinel-2 tile at 10 m is 10980 x 10980 px; cut the input to the area needed",
    )


def _grid_of(ds: rasterio.io.DatasetReader, path: str, band: str) -> Grid:
    if ds.crs is None:
        raise RasterError(f"band {band} in {path} has no CRS (not georeferenced)")
    try:
        return dataset_grid(ds)
    except RasterError as exc:
        raise RasterError(f"band {band} in {path}: {exc}") from None


def _file_radiometry(ds: rasterio.io.DatasetReader, index: int, path: str, warnings: list[str]) -> Radiometry:
    """How DN turn into reflectance in a plain GeoTIFF/JP2 (see the module docstring)."""
    nodata = ds.nodata
    scale, offset = ds.scales[index - 1], ds.offsets[index - 1]
    if (scale, offset) != (1.0, 0.0):
        return Radiometry(scale, offset, nodata, f"GDAL scale {scale:g} / offset {offset:g}")
    dtype = np.dtype(ds.dtypes[index - 1])
    if dtype == np.uint8 or dtype == np.int8:
        raise RasterError(
            f"{path} is 8-bit: that looks like a 0-255 display rendering, not reflectance; "
            "use the product's uint16 bands (reflectance x 10000) or float reflectance"
        )
    if dtype.kind in "iu":
        return integer_radiometry(nodata)
    step = max(1, max(ds.width, ds.height) // 256)
    with reading(path):
        sample = ds.read(index, out_shape=(max(1, ds.height // step), max(1, ds.width // step)))
    sample = sample.astype(np.float64)
    return float_radiometry(sample, nodata, Path(path).name, warnings)


def _file_bands(path: Path, warnings: list[str]) -> list[BandSource]:
    """The Sentinel-2 bands in a raster file (named by its file name if single-band, else by descriptions)."""
    p = str(path)
    with _open(p, path.name) as ds:
        _check_size(ds, p)
        if ds.count == 1:
            band = find_band(path.stem) or find_band(ds.descriptions[0] or "")
            pairs = [(1, band)] if band else []
        else:
            named = [(i, find_band(d or "")) for i, d in enumerate(ds.descriptions, start=1)]
            pairs = [(i, b) for i, b in named if b]
            if not pairs:
                raise RasterError(
                    f"{p} has {ds.count} bands but no band description names a Sentinel-2 band "
                    "(B01..B12, B8A); set the band descriptions or give one file per band"
                )
        if not pairs:
            return []
        grid = _grid_of(ds, p, pairs[0][1])
        return [BandSource(b, p, i, grid, _file_radiometry(ds, i, p, warnings)) for i, b in pairs]


def _pick(sources: list[BandSource]) -> dict[str, BandSource]:
    """One source per band; duplicates resolve to the copy at the band's native resolution, else fail."""
    by_band: dict[str, list[BandSource]] = {}
    for s in sources:
        by_band.setdefault(s.name, []).append(s)
    picked: dict[str, BandSource] = {}
    for band, cands in by_band.items():
        if len(cands) > 1:
            native = [c for c in cands if abs(c.grid.res[0] - NATIVE_RES[band]) < 0.5]
            if len(native) != 1:
                raise RasterError(f"band {band} is in several files: {', '.join(c.path for c in cands)}")
            cands = native
        picked[band] = cands[0]
    return picked


def _folder_sources(folder: Path, warnings: list[str]) -> dict[str, BandSource]:
    files = [f for f in sorted(folder.iterdir()) if f.is_file() and f.suffix.lower() in _RASTER_SUFFIXES]
    for sub in _RES_FOLDERS:
        if (folder / sub).is_dir():
            files += [f for f in sorted((folder / sub).iterdir()) if f.suffix.lower() in _RASTER_SUFFIXES]
    sources = [s for f in files for s in _file_bands(f, warnings)]
    if not sources:
        raise InputFileError(
            f"no Sentinel-2 band files in folder {folder}: expected GeoTIFF/JP2 files with the band "
            "in the name (e.g. T33UUP_..._B02.jp2) or multi-band GeoTIFFs with band descriptions"
        )
    return _pick(sources)


def _safe_sources(path: Path) -> tuple[dict[str, BandSource], str, str | None, list[str]]:
    product = read_safe(path)
    warnings = list(product.warnings)
    sources: dict[str, BandSource] = {}
    for band, gdal_path in product.band_paths.items():
        offset = product.offsets.get(band, 0.0)
        radiometry = Radiometry(
            1.0 / product.quantification,
            offset / product.quantification,
            None,
            f"{product.level} baseline {product.baseline}: (DN + {offset:g}) / {product.quantification:g}",
        )
        with _open(gdal_path, band) as ds:
            _check_size(ds, gdal_path)
            sources[band] = BandSource(band, gdal_path, 1, _grid_of(ds, gdal_path, band), radiometry)
    return sources, product.level, product.baseline, warnings


def open_s2(path: str | Path) -> S2Stack:
    """Open a Sentinel-2 stack from a band folder, a multi-band GeoTIFF, or a .SAFE folder/.zip.

    Raises:
        InputFileError: the path is missing or holds no Sentinel-2 bands.
        RasterError: a file is unreadable, not georeferenced, 8-bit, or off the common grid (naming the band).
    """
    p = Path(path)
    if not path_exists(p):
        raise InputFileError(f"Sentinel-2 input not found: {p}")
    warnings: list[str] = []
    level = baseline = None
    if is_safe(p):
        sources, level, baseline, warnings = _safe_sources(p)
    elif p.is_dir():
        sources = _folder_sources(p, warnings)
    else:
        sources = _pick(_file_bands(p, warnings))
        if not sources:
            raise InputFileError(
                f"{p} names no Sentinel-2 band (B01..B12, B8A) in its file name or band descriptions"
            )
    readers = {b: _FileBand(s) for b, s in sources.items()}
    notes = {b: s.radiometry.note for b, s in sources.items()}
    return S2Stack(readers, source=str(p), level=level, baseline=baseline, warnings=warnings, notes=notes)
