"""Weight-free Sentinel-2 sharpening of xarray data, in memory or chunk by chunk with dask.

``sharpen_xarray(ds)`` is ``geogen superres`` for data already in xarray (from ``rioxarray.open_rasterio``,
odc-stac, stackstac, a NetCDF/Zarr cube): the 20 m and 60 m bands are sharpened onto the 10 m grid by a
registered sharpening engine ("sharpen", "bicubic", "sharpen-cnn" or a third-party ``SharpenEngine``), and
the result is a DataArray with rioxarray georeferencing, ready for ``.rio.to_raster`` or further analysis.

It runs what the file pipeline runs: the bands become an ``S2Stack`` (``geogen.io.memory_stack``, with the
file rules for DN and nodata), the engine is fitted once on the whole scene, then it sharpens the windows
``tiles.plan(shape, options["tile"])`` of the 10 m grid, the pipeline's windows. So the values are the
pipeline's: ``to_dn`` of the result is the GeoTIFF that ``geogen superres`` writes from the same bands. With
dask data each window is one task that reads its part of every band plus the engine's halo
(``engine.halo(factor)`` 10 m pixels, i.e. halo / factor pixels of a band ``factor`` times coarser) and
returns the part of the window the in-memory loop would write last: the same values, bit for bit, whatever
the input's chunks, and no task holds more than a window and its context.
"""

from __future__ import annotations

import math
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from affine import Affine

from geogen.engines.base import SharpenEngine
from geogen.engines.registry import get_engine, list_engines
from geogen.engines.sharpen.scene import expand_window
from geogen.errors import EngineError, JobSpecError
from geogen.io.memory_stack import ArrayBand, array_stack
from geogen.io.sentinel2 import Radiometry, S2Stack
from geogen.io.tags import provenance_tags
from geogen.io.xarray_bands import XarrayBands, XarrayBandSet, band_name, read_xarray_bands
from geogen.sensors.sentinel2 import NATIVE_RES, REFLECTANCE_SCALE, sort_bands
from tiles import Grid, Window
from tiles.plan import plan

__all__ = ["sharpen_xarray"]

ProgressCallback = Callable[[int, int, str], None]
"""``progress(done, total, stage)``: the signature of ``geogen.progress.Reporter.progress``."""

_DEFAULT_TILE = 1024


def _engine(name: str | None, options: Mapping[str, Any] | None, seed: int) -> SharpenEngine:
    """The registered sharpening engine ``name`` with its options checked by its options model."""
    cls = get_engine("superres", name)
    if not issubclass(cls, SharpenEngine):
        usable = ", ".join(e.name for e in list_engines("superres") if issubclass(e, SharpenEngine))
        raise EngineError(
            f"superres engine {cls.name!r} is not a sharpening engine (a SharpenEngine); sharpen_xarray runs "
            f"those: {usable}"
        )
    return cls(cls.parse_options(options), seed=seed)


def _chosen_bands(requested: Sequence[str] | None, stack: S2Stack) -> list[str]:
    """The output bands in Sentinel-2 order: every band of the input, or the requested ones."""
    if requested is None:
        return list(stack.bands)
    if isinstance(requested, str):
        requested = [requested]
    chosen = []
    for name in requested:
        band = band_name(name)
        if band is None:
            raise JobSpecError(f"bands: {name!r} is not a Sentinel-2 band name (B01..B12, B8A)")
        if band not in stack.bands:
            raise JobSpecError(f"bands: {band} is not in the input; it has {', '.join(stack.bands)}")
        chosen.append(band)
    if not chosen:
        raise JobSpecError("bands: the list is empty")
    return sort_bands(set(chosen))


def _warn_resampled(stack: S2Stack) -> None:
    """Warn about bands given on a grid finer than their native one: they pass through, unsharpened."""
    fine_res = stack.grid.res[0]
    resampled = [b for b in stack.bands if stack.factor(b) == 1 and NATIVE_RES[b] > fine_res * 1.5]
    if resampled:
        warnings.warn(
            f"{', '.join(resampled)} are on the {fine_res:g} m grid but natively coarser: they were "
            "resampled before and pass through unchanged; give each band at its native resolution to "
            "sharpen it",
            stacklevel=3,
        )


def _masked(reflectance: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Reflectance with NaN where invalid (``valid`` is per band or one mask for all bands)."""
    return np.where(np.broadcast_to(valid, reflectance.shape), reflectance, np.float32(np.nan)).astype(
        np.float32, copy=False
    )


def _sharpen_numpy(
    engine: SharpenEngine, stack: S2Stack, bands: list[str], tile: int, progress: ProgressCallback | None
) -> np.ndarray:
    """The whole output in memory, window by window as the file pipeline plans them."""
    rows, cols = stack.grid.shape
    out = np.empty((len(bands), rows, cols), np.float32)
    tiles = plan((rows, cols), tile, 0)
    for i, t in enumerate(tiles):
        reflectance, valid = engine.sharpen(stack, t.window, bands)
        rows_cols = t.window.slices
        out[:, rows_cols[0], rows_cols[1]] = _masked(reflectance, valid)
        if progress:
            progress(i + 1, len(tiles), "sharpen")
    return out


# --- dask ------------------------------------------------------------------------------------------------


def _halo(engine: SharpenEngine, stack: S2Stack) -> int:
    """10 m pixels of context every window needs (the largest over the input's coarse bands)."""
    factors = sorted({stack.factor(b) for b in stack.bands} - {1})
    return max((int(engine.halo(f)) for f in factors), default=0)


@dataclass(frozen=True)
class _RegionTask:
    """What one dask task needs besides the engine and the pixels: where its window and region are.

    Called with the engine and, per band, the nested list of the input chunks that cover the region (dask
    passes them computed); ``crops`` cut each band's region out of its chunks.
    """

    layout: tuple[tuple[str, int, Radiometry], ...]  # (band, factor, radiometry) per band
    crs: str
    region: tuple[float, ...]  # the region's affine transform (6 numbers)
    crops: tuple[
        tuple[int, int, int, int], ...
    ]  # per band: (row, col, rows, cols) of the region in its chunks
    window: Window  # the sharpened window, relative to the region
    keep: Window  # the part of the window this task returns, relative to the window
    bands: tuple[str, ...]

    def __call__(self, engine: SharpenEngine, chunks: list[list[list[np.ndarray]]]) -> np.ndarray:
        transform = Affine(*self.region)
        parts = []
        for (name, f, radiometry), nested, (r, c, h, w) in zip(self.layout, chunks, self.crops, strict=True):
            pixels = np.block(nested)[r : r + h, c : c + w]
            parts.append(
                ArrayBand(name, pixels, Grid(w, h, transform @ Affine.scale(f), self.crs), radiometry)
            )
        stack = array_stack(parts, source="dask chunk")
        reflectance, valid = engine.sharpen(stack, self.window, list(self.bands))
        rows, cols = self.keep.slices
        return _masked(reflectance, valid)[:, rows, cols]


def _owned(spans: Sequence[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    """Per window (offset, size) along an axis, the [start, end) it writes last (the numpy path's order)."""
    starts = [o for o, _ in spans]
    return [(o, starts[k + 1] if k + 1 < len(spans) else n) for k, o in enumerate(starts)]


def _covering(bounds: np.ndarray, start: int, end: int) -> tuple[range, int]:
    """Indices of the chunks covering [start, end) (chunk edges ``bounds``), start's offset in the first."""
    first = int(np.searchsorted(bounds, start, side="right")) - 1
    last = int(np.searchsorted(bounds, end, side="left")) - 1
    return range(first, last + 1), start - int(bounds[first])


def _sharpen_dask(
    engine: SharpenEngine, band_set: XarrayBandSet, stack: S2Stack, bands: list[str], tile: int
) -> Any:
    """The output as a dask array: one task per window of the numpy path's plan, reading only its region.

    The windows are ``plan(shape, tile)``'s, as in memory and in the file pipeline (the last window of an
    axis is shifted back to stay whole, overlapping its neighbour); each output chunk is the part of a
    window that the in-memory loop writes last, so the two results are the same bit for bit. The graph is
    built by hand (a task names the input chunks it needs): slicing each band per task through the dask
    API costs a graph optimisation per slice, tens of seconds on a full tile.
    """
    import dask.array as da
    from dask.highlevelgraph import HighLevelGraph

    sources = band_set.bands
    factors = [stack.factor(b.name) for b in sources]
    layout = tuple((b.name, f, b.radiometry) for b, f in zip(sources, factors, strict=True))
    lazy: list[Any] = [  # dask arrays; a numpy band among dask ones becomes one chunk
        b.data if hasattr(b.data, "dask") else da.from_array(b.data, chunks=b.data.shape) for b in sources
    ]
    edges = [tuple(np.cumsum((0, *chunks)) for chunks in arr.chunks) for arr in lazy]
    align = math.lcm(*factors)
    halo = _halo(engine, stack)
    token = uuid.uuid4().hex
    name, engine_key = f"geogen-sharpen-{token}", f"geogen-sharpen-engine-{token}"
    layer: dict[Any, Any] = {engine_key: engine}
    rows, cols = stack.grid.shape
    tiles = plan((rows, cols), tile, 0)
    row_spans = [(t.window.row_off, t.window.height) for t in tiles if t.index[1] == 0]
    col_spans = [(t.window.col_off, t.window.width) for t in tiles if t.index[0] == 0]
    row_owned, col_owned = _owned(row_spans, rows), _owned(col_spans, cols)
    for i, ((r_off, r_size), (r0, r1)) in enumerate(zip(row_spans, row_owned, strict=True)):
        for j, ((c_off, c_size), (c0, c1)) in enumerate(zip(col_spans, col_owned, strict=True)):
            window = Window(c_off, r_off, c_size, r_size)
            # The engine reads nothing outside this region (see ``expand_window``), so a stack cut to it
            # gives the engine the same pixels as the whole scene.
            region = expand_window(window, (rows, cols), halo, align)
            keys, crops = [], []
            for arr, f, (row_edges, col_edges) in zip(lazy, factors, edges, strict=True):
                band_rows, r_in = _covering(row_edges, region.row_off // f, region.row_end // f)
                band_cols, c_in = _covering(col_edges, region.col_off // f, region.col_end // f)
                keys.append([[(arr.name, a, b) for b in band_cols] for a in band_rows])
                crops.append((r_in, c_in, region.height // f, region.width // f))
            task = _RegionTask(
                layout,
                stack.grid.crs,
                tuple(stack.grid.transform @ Affine.translation(region.col_off, region.row_off))[:6],
                tuple(crops),
                window.relative_to(region),
                Window(c0 - c_off, r0 - r_off, c1 - c0, r1 - r0),
                tuple(bands),
            )
            layer[(name, 0, i, j)] = (task, engine_key, keys)
    graph = HighLevelGraph.from_collections(name, layer, dependencies=lazy)
    chunks = ((len(bands),), tuple(b - a for a, b in row_owned), tuple(b - a for a, b in col_owned))
    return da.Array(graph, name, chunks, dtype=np.float32)


# --- output ----------------------------------------------------------------------------------------------


def _output(
    data: Any,
    band_set: XarrayBandSet,
    stack: S2Stack,
    bands: list[str],
    engine: SharpenEngine,
    options: Mapping[str, Any] | None,
) -> xr.DataArray:
    """The result as a georeferenced (band, y, x) DataArray with the GeoTIFF's provenance as attributes."""
    fine = next(b.name for b in band_set.bands if stack.factor(b.name) == 1)
    ys, xs = band_set.coords[fine]
    extra = {
        "GEOGEN_KIND": "derived",
        "GEOGEN_SOURCE": "xarray",
        "GEOGEN_SOURCE_GSD": ",".join(f"{b}:{stack.band_grid(b).res[0]:g}" for b in bands),
        "GEOGEN_REFLECTANCE": f"float32 reflectance (integer input: DN / {REFLECTANCE_SCALE}); NaN = nodata",
        "GEOGEN_RADIOMETRY": "; ".join(f"{b}: {n}" for b, n in stack.notes.items()),
        "GEOGEN_ENGINE_OPTIONS": dict(options or {}),
    }
    attrs: dict[str, Any] = provenance_tags(
        engine=engine.name,
        seed=engine.seed if getattr(engine, "uses_seed", False) else None,
        synthetic=False,
        task="superres",
        extra=extra,
    )
    attrs["long_name"] = tuple(bands)  # rioxarray writes it as the GeoTIFF band descriptions
    attrs["units"] = "1"
    out = xr.DataArray(
        data,
        dims=("band", "y", "x"),
        coords={"band": list(bands), "y": ys, "x": xs},
        name="reflectance",
        attrs=attrs,
    )
    out = out.rio.write_crs(band_set.crs)
    out = out.rio.write_transform(stack.grid.transform)
    return out.rio.write_nodata(np.nan)


def sharpen_xarray(
    data: XarrayBands,
    *,
    engine: str | None = None,
    bands: Sequence[str] | None = None,
    options: Mapping[str, Any] | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> xr.DataArray:
    """Sharpen the 20 m and 60 m Sentinel-2 bands of ``data`` onto its 10 m grid, without model weights.

    Args:
        data: the bands, each at its native resolution on its own grid: an ``xarray.Dataset`` with one
            variable per band (dimensions named freely, e.g. ``y``/``x`` for 10 m and ``y20``/``x20`` for
            20 m: the last two dimensions of a variable are its rows and columns), a mapping of band name to
            DataArray, or one DataArray with a ``band`` dimension (all bands on one grid: nothing is
            coarser, so they come back unchanged, with a warning for bands natively coarser than the grid).
            Names: "B02", "B2", "b8a" or STAC common names ("red", "nir08"). Coordinates: regular, at pixel
            centres. CRS: rioxarray's (``ds.rio.write_crs(...)``, a ``spatial_ref`` coordinate or a ``crs``
            attribute). Values: reflectance floats, or integer DN = reflectance x 10000
            (``geogen.sensors.sentinel2.REFLECTANCE_SCALE``); 0, NaN and ``_FillValue``/``nodata`` are nodata.
            numpy- or dask-backed.
        engine: a registered sharpening engine of the superres task ("sharpen", the default; "bicubic";
            "sharpen-cnn"; or a third-party ``SharpenEngine``).
        bands: the output bands (default: every input band); the 10 m bands guide the sharpening either way.
        options: the engine's options (``geogen info`` lists them), checked by its options model.
        seed: for engines that draw random numbers ("sharpen-cnn"); recorded in the attributes then.
        progress: called as ``progress(done, total, stage)`` while fitting ("fit") and, for numpy data,
            sharpening ("sharpen").

    Returns:
        A float32 DataArray (band, y, x) of reflectance on the 10 m grid (the finest input band's x/y
        pixel-centre coordinates, north-up), NaN where the input has no data, with ``band`` labels, the CRS
        and transform written by rioxarray (``.rio.crs``, ``.rio.transform()``, nodata NaN), and as
        attributes the provenance tags of the GeoTIFF ``geogen superres`` writes (``GEOGEN_ENGINE``,
        ``GEOGEN_SYNTHETIC`` = "NO": the result is derived from observations, not synthetic, ...).
        ``long_name`` holds the band names, so ``.rio.to_raster`` writes them as band descriptions.
        The result is dask-backed when any input band is, whatever its chunks: one output chunk per window
        of ``tiles.plan(shape, options["tile"])`` (1024 px by default; the last window of each axis is
        shifted back to stay whole, so the chunk before it is shorter), each computed from that window of
        every band plus the engine's halo (``engine.halo(factor)`` 10 m pixels), never from the whole scene.

    With dask input, the engine's ``fit`` still sees the whole scene (scene-wide statistics; the CNN trains
    on a central crop): it reads the bands block by block (1200 x 1200 10 m pixels for "sharpen"), each
    block computed from dask on demand, so memory stays bounded but the input is read once for the fit and
    again for the chunks: ``persist()`` the input first when it is expensive to load. The chunked result is
    the in-memory result bit for bit (the same windows are sharpened; the engines' float32 arithmetic can
    differ in the last bit between two different cuts of a scene, which is why the output chunks follow
    ``tile`` and not the input's chunks).

    Raises:
        RasterError: the input is not usable (not xarray, a variable that is no Sentinel-2 band, a band
            without coordinates or CRS, irregular coordinates, 8-bit values, bands whose CRS, extent or
            pixel size do not line up with the finest band's grid), naming the band.
        EngineError: no such engine, not a sharpening engine, or (dask input) an engine without a halo.
        OptionsError: an unknown option or a bad value (``options.<key>: ...``).
        JobSpecError: ``bands`` names a band that is not a band or not in the input.
    """
    sharpener = _engine(engine, options, seed)
    band_set = read_xarray_bands(data)
    for message in band_set.warnings:
        warnings.warn(message, stacklevel=2)
    stack = array_stack(band_set.bands, source="xarray", warnings=band_set.warnings)
    chosen = _chosen_bands(bands, stack)
    _warn_resampled(stack)
    tile = int(getattr(sharpener.options, "tile", _DEFAULT_TILE))
    fit_progress = (lambda done, total: progress(done, total, "fit")) if progress else None
    sharpener.fit(stack, chosen, fit_progress)
    if band_set.is_lazy:
        result = _sharpen_dask(sharpener, band_set, stack, chosen, tile)
    else:
        result = _sharpen_numpy(sharpener, stack, chosen, tile, progress)
    return _output(result, band_set, stack, chosen, sharpener, options)
