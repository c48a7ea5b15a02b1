"""Sentinel-2 super-resolution: every chosen band onto the 10 m grid, written as one GeoTIFF.

input stack -> a ``SharpenEngine`` (the job's engine, default "sharpen") -> output grid (the finest band's grid, cut to the area
of interest) -> scene-wide fit -> window by window (each read with the engine's halo) -> uint16 GeoTIFF
(reflectance x 10000, no offset, 0 = nodata) -> optional warp to ``job.output.crs``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geogen.engines.base import SharpenEngine, SharpenOptions
from geogen.engines.registry import list_engines
from geogen.errors import EngineError, JobSpecError, RasterError
from geogen.io.aoi import aoi_window, check_output_crs, check_tile_budget, parse_crs
from geogen.io.gdal_env import INPUT_BLOCK_ROWS, raise_cache
from geogen.io.geotiff import GeoTIFFWriter, prepare_output
from geogen.io.outputs import native_output
from geogen.io.sentinel2 import S2Stack, open_s2
from geogen.io.tags import provenance_tags
from geogen.pipelines.typed_options import options_as
from geogen.progress import Reporter
from geogen.records import OutputRecord, PipelineOutput
from geogen.sensors.sentinel2 import REFLECTANCE_SCALE, normalise_band, sort_bands, to_dn
from geogen.spec import SuperresJob
from tiles import Window
from tiles.plan import count_tiles, plan


def _bands(job: SuperresJob, stack: S2Stack) -> list[str]:
    """The output bands in Sentinel-2 order.

    Raises:
        JobSpecError: a requested name is not a band, or the input lacks it.
    """
    if not job.bands:
        return list(stack.bands)
    chosen = []
    for name in job.bands:
        band = normalise_band(name)
        if band is None:
            raise JobSpecError(f"bands: {name!r} is not a Sentinel-2 band name (B01..B12, B8A)")
        if band not in stack.bands:
            raise JobSpecError(
                f"bands: {band} is not in the input {stack.source}; it has {', '.join(stack.bands)}"
            )
        chosen.append(band)
    return sort_bands(set(chosen))


def _check_gsd(job: SuperresJob, stack: S2Stack, engine: str) -> None:
    res = stack.grid.res[0]
    if job.target_gsd is not None and abs(job.target_gsd - res) > 0.01 * res:
        raise EngineError(
            f"target_gsd {job.target_gsd:g} m is not supported by engine {engine!r}: it outputs on the "
            f"finest band's grid ({res:g} m); a finer GSD needs a diffusion SR engine"
        )


def _tile_size(engine: SharpenEngine) -> int:
    """The window side from the engine's options (every sharpening engine's options extend SharpenOptions).

    Raises:
        EngineError: the engine's options model does not derive from ``SharpenOptions``.
    """
    options = options_as(
        engine, SharpenOptions, "a sharpening engine's options model must derive from SharpenOptions"
    )
    return options.tile


def _check_one_input(job: SuperresJob, engine: SharpenEngine) -> str:
    """The job's one input stack.

    Raises:
        JobSpecError: the job gives ``inputs`` (several dates), which only the other superres engines read.
    """
    if job.input is None:
        others = [e.name for e in list_engines("superres") if not issubclass(e, SharpenEngine)]
        raise JobSpecError(
            f"the {engine.name} engine sharpens one stack: give `input`; `inputs` (several dates) "
            f"is for the {' and '.join(others) or 'diffusion'} engines"
        )
    return job.input


def _tags(job: SuperresJob, stack: S2Stack, engine: SharpenEngine, bands: list[str]) -> dict[str, str]:
    extra = {
        "GEOGEN_KIND": "derived",
        "GEOGEN_SOURCE": Path(stack.source).name,
        "GEOGEN_SOURCE_LEVEL": stack.level or "unknown",
        "GEOGEN_SOURCE_BASELINE": stack.baseline or "unknown",
        "GEOGEN_SOURCE_GSD": ",".join(f"{b}:{stack.band_grid(b).res[0]:g}" for b in bands),
        "GEOGEN_REFLECTANCE": f"reflectance = DN / {REFLECTANCE_SCALE} (no offset); DN 0 = nodata",
        "GEOGEN_ENGINE_OPTIONS": {k: v for k, v in job.options.items()},
    }
    return provenance_tags(
        engine=engine.name,
        seed=job.seed if engine.uses_seed else None,
        synthetic=False,
        task="superres",
        extra=extra,
    )


def _write(
    job: SuperresJob,
    stack: S2Stack,
    engine: SharpenEngine,
    bands: list[str],
    window: Window,
    target: Path,
    tile: int,
    reporter: Reporter,
    overwrite: bool,
) -> tuple[int, int, int]:
    """Sharpen ``window`` of the stack tile by tile into a uint16 GeoTIFF at ``target``.

    Returns (pixels, valid pixels, saturated band values) for the degenerate-output warnings.
    """
    n_valid = n_saturated = 0
    tiles = plan((window.height, window.width), tile, 0)
    writer = GeoTIFFWriter(
        target,
        stack.grid[window],
        len(bands),
        "uint16",
        nodata=0,
        band_descriptions=bands,
        tags=_tags(job, stack, engine, bands),
        overwrite=overwrite,
    )
    with writer:
        for i, t in enumerate(tiles):
            w = t.window
            scene_window = Window(window.col_off + w.col_off, window.row_off + w.row_off, w.width, w.height)
            reflectance, valid = engine.sharpen(stack, scene_window, bands)
            dn = to_dn(reflectance, valid)
            n_valid += int(np.count_nonzero(dn.any(axis=0)))
            n_saturated += int(np.count_nonzero(dn == np.iinfo(np.uint16).max))
            writer.write(w, dn)
            reporter.progress(i + 1, len(tiles), "sharpen")
        _refuse_degenerate(job, stack, n_valid, n_saturated, len(bands))  # inside: nothing is committed
    return window.width * window.height, n_valid, n_saturated


def _refuse_degenerate(
    job: SuperresJob, stack: S2Stack, n_valid: int, n_saturated: int, n_bands: int
) -> None:
    """Fail when the output would hold nothing useful: no valid pixel at all, or most values saturated.

    Raises:
        RasterError: every input pixel is nodata, or most band values exceed the uint16 range.
    """
    where = " in the area of interest" if job.aoi is not None else ""
    if n_valid == 0:
        raise RasterError(
            f"nothing to sharpen: every pixel of {stack.source}{where} is nodata (0, NaN or its nodata value)"
        )
    if n_saturated > 0.5 * n_valid * n_bands:
        raise RasterError(
            f"{stack.source}: {n_saturated} of {n_valid * n_bands} band values ({100 * n_saturated / (n_valid * n_bands):.0f} %) "
            "saturate at 65535 (reflectance above 6.5535): its values are not Sentinel-2 reflectance or DN "
            "x 10000 (wrong scale?)"
        )


def run_sharpening(job: SuperresJob, engine: SharpenEngine, reporter: Reporter) -> PipelineOutput:
    """Run a super-resolution job with a sharpening engine; see the module docstring.

    Args:
        job: the superres job (one ``input``).
        engine: the job's engine, built from its options (``engine.options.tile`` is the window side).
        reporter: progress and log sink.

    Raises:
        InputFileError, RasterError: the input cannot be read as a Sentinel-2 stack.
        EngineError: an unsupported target GSD.
        JobSpecError, GeometryError, AreaTooLargeError, OutputError: see the helpers.
    """
    source = _check_one_input(job, engine)
    tile = _tile_size(engine)
    out_crs = job.output.crs
    if out_crs is not None:
        parse_crs(out_crs)  # a bad CRS fails now, not after the work
    final = prepare_output(Path(job.output.dir) / f"{job.output.name}.tif", overwrite=job.output.overwrite)
    with open_s2(source) as stack:
        for w in stack.warnings:
            reporter.log(w, "warning")
        bands = _bands(job, stack)
        _check_gsd(job, stack, engine.name)
        window = aoi_window(job.aoi, stack.grid)
        n_tiles = count_tiles((window.height, window.width), tile, 0)
        check_tile_budget(n_tiles, job.max_tiles, seconds_per_tile=engine.seconds_per_window)
        check_output_crs(stack.grid[window], out_crs)
        raise_cache(window.width * INPUT_BLOCK_ROWS * len(stack.bands) * 2)  # one row of uint16 input blocks
        reporter.log(
            f"{Path(stack.source).name}: {len(stack.bands)} bands, {stack.grid.width} x "
            f"{stack.grid.height} px at {stack.grid.res[0]:g} m; radiometry: "
            f"{'; '.join(sorted(set(stack.notes.values())))}"
        )
        engine.fit(stack, bands, progress=lambda d, t: reporter.progress(d, t, "fit"))
        grid = stack.grid[window]
        gsd = grid.res[0]
        out = native_output(final, out_crs, grid.crs, overwrite=job.output.overwrite)
        n_px, n_valid, n_sat = _write(
            job, stack, engine, bands, window, out.path, tile, reporter, out.write_overwrite
        )
        source_name = Path(stack.source).name
        n_sharpened = sum(1 for b in bands if stack.factor(b) > 1)
    if n_valid == 0:
        reporter.log(
            f"every pixel of the output is nodata: {source_name} has no valid value (NaN, nodata or masked) "
            "over this area",
            "warning",
        )
    elif n_valid < n_px:
        reporter.log(f"{100 * (n_px - n_valid) / n_px:.1f} % of the output is nodata", "info")
    if n_sat:
        reporter.log(
            f"{n_sat} band value(s) saturated at 65535 (reflectance above 6.5535): the input's values are out "
            "of range for Sentinel-2 reflectance",
            "warning",
        )
    grid = out.finish(lambda d, n: reporter.progress(d, n, "reproject")) or grid
    record = OutputRecord.on_grid(
        final,
        grid,
        bands,
        kind="derived",
        synthetic=False,
        extra={"gsd_m": gsd, "source": source_name},
    )
    done = (
        f"sharpened to {gsd:g} m with engine {engine.name}"
        if n_sharpened
        else f"copied at {gsd:g} m (all already at the finest resolution: nothing to sharpen)"
    )
    summary = f"{len(bands)} Sentinel-2 bands of {source_name} {done}: {grid.width} x {grid.height} px in {grid.crs}"
    return PipelineOutput([record], engine.name, summary)
