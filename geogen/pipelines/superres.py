"""Sentinel-2 super-resolution: every chosen band onto the 10 m grid, written as one GeoTIFF.

input stack -> engine (job.engine, default "sharpen") -> output grid (the finest band's grid, cut to the area
of interest) -> scene-wide fit -> window by window (each read with the engine's halo) -> uint16 GeoTIFF
(reflectance x 10000, no offset, 0 = nodata) -> optional warp to ``job.output.crs``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geogen.engines.registry import resolve_engine
from geogen.engines.sharpen import Sharpener, create_sharpener
from geogen.errors import EngineError, JobSpecError
from geogen.io.aoi import aoi_window, check_tile_budget, parse_crs
from geogen.io.geotiff import GeoTIFFWriter, prepare_output, temp_sibling
from geogen.io.outputs import warp_output
from geogen.io.s2bands import normalise_band, sort_bands
from geogen.io.sentinel2 import S2Stack, open_s2
from geogen.io.tags import provenance_tags
from geogen.job.progress import Reporter
from geogen.job.result import OutputRecord, PipelineOutput
from geogen.job.spec import SuperresJob
from tiles import Window
from tiles.plan import count_tiles, plan

TILE = 1024
REFLECTANCE_SCALE = 10000
# one 1024 x 1024 window on one core, all 12 bands (bench/results/sharpen.md; the CNN also trains ~2 min once)
SECONDS_PER_TILE = {"sharpen": 1.0, "bicubic": 0.2, "sharpen-cnn": 20.0}


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


def _tile_size(job: SuperresJob) -> int:
    tile = job.options.get("tile", TILE)
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < 64:
        raise JobSpecError(f"options.tile must be an integer of at least 64 pixels, got {tile!r}")
    return tile


def to_dn(reflectance: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """uint16 reflectance x 10000; valid pixels are kept >= 1 so that 0 means nodata only."""
    dn = np.clip(np.rint(reflectance * REFLECTANCE_SCALE), 1, np.iinfo(np.uint16).max)
    return np.where(valid, dn, 0).astype(np.uint16)


def _tags(job: SuperresJob, stack: S2Stack, engine: Sharpener, bands: list[str]) -> dict[str, str]:
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
        seed=job.seed if engine.name == "sharpen-cnn" else None,
        synthetic=False,
        task="superres",
        extra=extra,
    )


def _write(
    job: SuperresJob,
    stack: S2Stack,
    engine: Sharpener,
    bands: list[str],
    window: Window,
    target: Path,
    tile: int,
    reporter: Reporter,
    overwrite: bool,
) -> None:
    """Sharpen ``window`` of the stack tile by tile into a uint16 GeoTIFF at ``target``."""
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
            writer.write(w, to_dn(reflectance, valid))
            reporter.progress(i + 1, len(tiles), "sharpen")


def run_superres(job: SuperresJob, reporter: Reporter) -> PipelineOutput:
    """Run a super-resolution job; see the module docstring.

    Raises:
        InputFileError, RasterError: the input cannot be read as a Sentinel-2 stack.
        EngineError: unknown engine or option, or an unsupported target GSD.
        JobSpecError, GeometryError, AreaTooLargeError, OutputError: see the helpers.
    """
    info = resolve_engine("superres", job.engine)
    if info.name == "diffusionsat":
        from geogen.engines.sr_controlnet import run_diffusionsat_sr

        return run_diffusionsat_sr(job, reporter)
    if info.name == "diffusionsat-3d":
        from geogen.engines.sr_temporal import run_sr_temporal

        return run_sr_temporal(job, reporter)
    if job.input is None:
        raise JobSpecError(
            f"the {info.name} engine sharpens one stack: give `input`; `inputs` (several dates) "
            "is for the diffusionsat and diffusionsat-3d engines"
        )
    tile = _tile_size(job)
    engine = create_sharpener(info.name, job.options, seed=job.seed)
    out_crs = job.output.crs
    if out_crs is not None:
        parse_crs(out_crs)  # a bad CRS fails now, not after the work
    final = prepare_output(Path(job.output.dir) / f"{job.output.name}.tif", overwrite=job.output.overwrite)
    with open_s2(job.input) as stack:
        for w in stack.warnings:
            reporter.log(w, "warning")
        bands = _bands(job, stack)
        _check_gsd(job, stack, info.name)
        window = aoi_window(job.aoi, stack.grid)
        n_tiles = count_tiles((window.height, window.width), tile, 0)
        check_tile_budget(n_tiles, job.max_tiles, seconds_per_tile=SECONDS_PER_TILE.get(info.name))
        reporter.log(
            f"{Path(stack.source).name}: {len(stack.bands)} bands, {stack.grid.width} x "
            f"{stack.grid.height} px at {stack.grid.res[0]:g} m; radiometry: "
            f"{'; '.join(sorted(set(stack.notes.values())))}"
        )
        engine.fit(stack, bands, progress=lambda d, t: reporter.progress(d, t, "fit"))
        grid = stack.grid[window]
        gsd = grid.res[0]
        warp = out_crs is not None and parse_crs(out_crs) != parse_crs(grid.crs)
        target = temp_sibling(final, "native") if warp else final
        _write(job, stack, engine, bands, window, target, tile, reporter, job.output.overwrite or warp)
        source_name = Path(stack.source).name
    if warp:
        grid = warp_output(
            target,
            final,
            out_crs,  # type: ignore[arg-type]
            overwrite=job.output.overwrite,
            progress=lambda d, n: reporter.progress(d, n, "reproject"),
        )
    record = OutputRecord.on_grid(
        final,
        grid,
        bands,
        kind="derived",
        synthetic=False,
        extra={"gsd_m": gsd, "source": source_name},
    )
    summary = (
        f"{len(bands)} Sentinel-2 bands of {source_name} sharpened to {gsd:g} m with engine {info.name}: "
        f"{grid.width} x {grid.height} px in {grid.crs}"
    )
    return PipelineOutput([record], info.name, summary)
