"""Sentinel-2 bands from xarray: a Dataset (one variable per band), a mapping of DataArrays, or one DataArray
with a ``band`` dimension, each band on its own georeferenced grid.

What is read, and the rules that make it unambiguous:
- band names: a variable's name (or a ``band`` label, or the ``long_name`` band descriptions rioxarray keeps)
  spelt as geogen spells bands ("B2", "B02", "b8a") or as a STAC ``eo:common_name`` ("red", "nir08",
  "swir16"; the asset keys of Element 84's Earth Search); any other name is an error, not skipped silently.
- grid: the last two dimensions of a band are (rows, cols), whatever their names (``y``/``x``, ``y20``/``x20``
  ...), with 1-D coordinates at pixel centres, regularly spaced (within 1e-3 of a pixel). x must increase; y
  may decrease (north-up, as rasters are) or increase (then the rows are flipped). Extra dimensions of size 1
  (``rioxarray.open_rasterio``'s ``band``) are dropped.
- CRS: rioxarray's (``da.rio.crs``: the ``spatial_ref`` coordinate, a ``grid_mapping``, or a ``crs``
  attribute), else the Dataset's.
- values: ``geogen.io.memory_stack.array_radiometry`` (integer DN / ``REFLECTANCE_SCALE``, float
  reflectance, 0/NaN/``nodata``/``_FillValue`` = nodata, ``scale_factor``/``add_offset`` attributes honoured).
Nothing is loaded here: a dask-backed band stays lazy (a float band is sampled: 9 of its chunks).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the ``.rio`` accessor)
import xarray as xr
from affine import Affine
from rasterio.crs import CRS

from geogen.errors import RasterError
from geogen.io.memory_stack import ArrayBand, array_radiometry
from geogen.sensors.sentinel2 import S2_BANDS, normalise_band
from tiles import Grid

XarrayBands = xr.Dataset | xr.DataArray | Mapping[Hashable, xr.DataArray]
"""What ``read_xarray_bands`` accepts."""

# STAC eo:common_name of each MSI band (also Earth Search's asset keys); B10 is "cirrus"
_COMMON_NAMES = {
    "coastal": "B01", "blue": "B02", "green": "B03", "red": "B04", "rededge1": "B05", "rededge2": "B06",
    "rededge3": "B07", "nir": "B08", "nir08": "B8A", "nir09": "B09", "cirrus": "B10", "swir16": "B11",
    "swir22": "B12",
}  # fmt: skip
_REGULAR_TOL = 1e-3  # allowed deviation of a coordinate step, as a fraction of the pixel size


@dataclass
class XarrayBandSet:
    """The bands read from an xarray object, ready for ``geogen.io.memory_stack.array_stack``.

    Attributes:
        bands: one ``ArrayBand`` per band (raw values, lazy if dask-backed), in the input's order.
        crs: the bands' CRS (rioxarray's object, to write on the output).
        coords: per band, its (y, x) pixel-centre coordinates, y decreasing (as ``bands`` hold the rows).
        dims: per band, the names of its (row, col) dimensions in the input.
        warnings: what the reader had to guess (e.g. float values read as DN).
    """

    bands: list[ArrayBand]
    crs: CRS
    coords: dict[str, tuple[np.ndarray, np.ndarray]]
    dims: dict[str, tuple[Hashable, Hashable]]
    warnings: list[str] = field(default_factory=list)

    @property
    def is_lazy(self) -> bool:
        """True when at least one band is dask-backed."""
        return any(_is_dask(b.data) for b in self.bands)


def _is_dask(data: Any) -> bool:
    return type(data).__module__.split(".")[0] == "dask"


def band_name(label: Hashable) -> str | None:
    """The canonical band a variable name or band label means ("B2", "b02", "red" -> "B02"), else None."""
    text = str(label).strip()
    return normalise_band(text) or _COMMON_NAMES.get(text.lower())


def _split_band_dim(da: xr.DataArray) -> dict[Hashable, xr.DataArray]:
    """A DataArray with a ``band`` dimension as one 2-D array per band label (or ``long_name`` entry)."""
    labels = [v.item() if hasattr(v, "item") else v for v in da["band"].values] if "band" in da.coords else []
    if not labels or not any(band_name(v) for v in labels):
        names = da.attrs.get("long_name")
        if isinstance(names, (list, tuple)) and len(names) == da.sizes["band"]:
            labels = list(names)
    if len(labels) != da.sizes["band"]:
        raise RasterError(
            "the DataArray's band dimension has no labels: give band names as its `band` coordinate "
            "(e.g. da.assign_coords(band=['B02', 'B03', 'B04', 'B08']))"
        )
    return {label: da.isel(band=i, drop=True) for i, label in enumerate(labels)}


def _named_arrays(data: XarrayBands) -> tuple[dict[Hashable, xr.DataArray], CRS | None]:
    """The input as {label: DataArray}, and a CRS set on the container (Dataset) if any."""
    if isinstance(data, xr.DataArray):
        if "band" in data.dims and (data.sizes["band"] > 1 or data.name is None):
            return _split_band_dim(data), None
        if data.name is None:
            raise RasterError(
                "a single 2-D DataArray needs a band name: set da.name (e.g. 'B05'), or give a Dataset "
                "with one variable per band"
            )
        return {data.name: data}, None
    if isinstance(data, xr.Dataset):
        try:
            container_crs = data.rio.crs
        except Exception:  # rioxarray refuses Datasets whose variables disagree; the bands then say theirs
            container_crs = None
        return dict(data.data_vars.items()), container_crs
    if isinstance(data, Mapping):
        bad = [k for k, v in data.items() if not isinstance(v, xr.DataArray)]
        if bad:
            raise RasterError(
                f"expected xarray.DataArray values; {bad[0]!r} is a {type(data[bad[0]]).__name__}"
            )
        return dict(data), None
    raise RasterError(
        "expected an xarray.Dataset, an xarray.DataArray or a mapping of DataArrays, got "
        f"{type(data).__name__}"
    )


def _axis(da: xr.DataArray, dim: Hashable, band: str) -> tuple[np.ndarray, float]:
    """The pixel-centre coordinates along ``dim`` and their (signed) step.

    Raises:
        RasterError: no 1-D coordinate, fewer than 2 pixels, or irregular spacing.
    """
    if dim not in da.coords or da.coords[dim].ndim != 1:
        raise RasterError(
            f"band {band} has no coordinates along its dimension {dim!r}: give pixel-centre x/y coordinates "
            "(rioxarray.open_rasterio and odc-stac/stackstac do)"
        )
    values = np.asarray(da.coords[dim].values, dtype=np.float64)
    if values.size < 2:
        raise RasterError(f"band {band} has a single pixel along {dim!r}: its pixel size cannot be known")
    step = (values[-1] - values[0]) / (values.size - 1)
    deviation = float(np.abs(np.diff(values) - step).max())
    if step == 0 or deviation > _REGULAR_TOL * abs(step):
        raise RasterError(
            f"band {band}'s coordinates along {dim!r} are irregular (steps from {np.diff(values).min():g} to "
            f"{np.diff(values).max():g}); sharpening needs a regular grid"
        )
    return values, float(step)


def _band_crs(da: xr.DataArray, band: str, fallback: CRS | None) -> CRS:
    try:
        crs = da.rio.crs
    except Exception as exc:  # rioxarray raises on malformed grid-mapping attributes
        raise RasterError(f"band {band} has an unreadable CRS: {exc}") from None
    crs = crs or fallback
    if crs is None:
        raise RasterError(
            f"band {band} has no CRS: write one with rioxarray (ds = ds.rio.write_crs('EPSG:32633')), or "
            "give a `spatial_ref` coordinate or a `crs` attribute"
        )
    return crs


def _attr_float(da: xr.DataArray, name: str) -> float | None:
    """A numeric attribute (e.g. CF ``scale_factor`` of undecoded data), None when absent."""
    value = da.attrs.get(name)
    return None if value is None else float(np.asarray(value).ravel()[0])


def _array_band(
    label: Hashable, da: xr.DataArray, band: str, crs_fallback: CRS | None, warnings: list[str]
) -> tuple[ArrayBand, CRS, tuple[np.ndarray, np.ndarray], tuple[Hashable, Hashable]]:
    """One band as an ``ArrayBand`` on its grid, with its CRS, coordinates and dimension names."""
    extra = [d for d in da.dims[:-2] if da.sizes[d] == 1]
    da = da.isel({d: 0 for d in extra}, drop=True) if extra else da
    if da.ndim != 2:
        raise RasterError(
            f"band {band} ({label!r}) has dimensions {da.dims}; give one 2-D (rows, cols) array per band "
            "(select one date first, e.g. ds.isel(time=0))"
        )
    ydim, xdim = da.dims
    ys, dy = _axis(da, ydim, band)
    xs, dx = _axis(da, xdim, band)
    if dx < 0:
        raise RasterError(
            f"band {band}'s x coordinates ({xdim!r}) decrease; flip them "
            f"(da.isel({xdim}=slice(None, None, -1)))"
        )
    data = da.data
    if dy > 0:  # south-up rows (as some NetCDF files store them): read them north-up
        data, ys, dy = data[::-1], ys[::-1], -dy
    crs = _band_crs(da, band, crs_fallback)
    transform = Affine(dx, 0.0, xs[0] - dx / 2, 0.0, dy, ys[0] - dy / 2)
    try:
        grid = Grid(len(xs), len(ys), transform, crs.to_string())
    except ValueError as exc:
        raise RasterError(f"band {band}: {exc}") from None
    nodata = da.rio.nodata  # the ``_FillValue`` / ``nodata`` attribute or encoding
    radiometry = array_radiometry(
        data,
        band,
        nodata=None if nodata is None else float(nodata),
        scale=_attr_float(da, "scale_factor"),
        offset=_attr_float(da, "add_offset"),
        warnings=warnings,
    )
    return ArrayBand(band, data, grid, radiometry), crs, (ys, xs), (ydim, xdim)


def read_xarray_bands(data: XarrayBands) -> XarrayBandSet:
    """The Sentinel-2 bands of ``data`` (see the module docstring for what is accepted).

    Raises:
        RasterError: not xarray, a name that is no Sentinel-2 band, a band given twice, a band that is not
            2-D, without coordinates or CRS, on an irregular grid, or 8-bit; all naming the band.
    """
    named, container_crs = _named_arrays(data)
    if not named:
        raise RasterError("no Sentinel-2 band in the input: it has no variables")
    unknown = [label for label in named if band_name(label) is None]
    if unknown:
        raise RasterError(
            f"{', '.join(repr(u) for u in unknown)} is not a Sentinel-2 band name ({', '.join(S2_BANDS)}, "
            "or a STAC common name such as 'red' or 'swir16'); select the band variables first "
            "(e.g. ds[['B02', 'B05']])"
        )
    seen: dict[str, Hashable] = {}
    bands: list[ArrayBand] = []
    crss: list[CRS] = []
    coords: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    dims: dict[str, tuple[Hashable, Hashable]] = {}
    warnings: list[str] = []
    for label, da in named.items():
        band = band_name(label)
        assert band is not None  # unknown names were refused above
        if band in seen:
            raise RasterError(f"band {band} is given twice ({seen[band]!r} and {label!r})")
        seen[band] = label
        array_band, crs, coords[band], dims[band] = _array_band(label, da, band, container_crs, warnings)
        bands.append(array_band)
        crss.append(crs)
    return XarrayBandSet(bands, crss[0], coords, dims, warnings)
