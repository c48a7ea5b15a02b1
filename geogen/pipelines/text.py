"""Text to scene with DiffusionSat: prompt + place + date + GSD -> a georeferenced synthetic image.

area of interest -> metric working grid at the job's GSD (UTM for a geographic area) -> latent canvas around
it -> latent windows, each with the DiffusionSat metadata of its own centre -> denoising over all windows at
once (MultiDiffusion) -> VAE decode tile by tile -> RGB + alpha GeoTIFF (transparent outside the area's
polygon), with provenance tags -> optional warp to the CRS asked for.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from shapely.geometry import box

from geogen.diffusion.components import DiffusionComponents, load_for_layout, select_device
from geogen.diffusion.cost import count_parameters, seconds_per_window
from geogen.diffusion.decode import decode_latents
from geogen.diffusion.latent_tiling import (
    DenoiseStats,
    LatentWindow,
    TextConditioning,
    denoise,
    initial_noise,
    plan_windows,
)
from geogen.diffusion.layout import LatentLayout
from geogen.diffusion.options import DiffusionOptions
from geogen.diffusion.planning import plan_layout
from geogen.engines.text_diffusionsat.contract import DiffusionSatTextEngine
from geogen.errors import ModelError
from geogen.io.aoi import (
    Area,
    area_from_spec,
    check_tile_budget,
    is_geographic,
    reproject_geometry,
    working_grid,
)
from geogen.io.outputs import RGBA_BANDS, RGBAOutput
from geogen.io.rasterize import rasterize_classes
from geogen.io.tags import provenance_tags, window_metadata
from geogen.metadata import Metadata
from geogen.progress import Reporter
from geogen.records import OutputRecord, PipelineOutput, stage_seconds
from geogen.spec import TextJob
from geogen.store import ModelEntry, require_kind, resolve
from tiles import Grid, Tile, Window

DEFAULT_STEPS = 50  # DiffusionSat's pipeline default


def _model(job: TextJob, engine: DiffusionSatTextEngine) -> ModelEntry:
    """The DiffusionSat model the job names.

    Raises:
        ModelError: no model named, unknown name or path, or a model of a kind the engine does not take.
    """
    if not job.model:
        raise ModelError(
            f"the {engine.name} engine needs a model: pass --model NAME_OR_PATH (a DiffusionSat "
            "pipeline folder, or a name from `geogen models list`)"
        )
    return require_kind(resolve(job.model), engine.model_kinds)


def _tile_metadata(layout: LatentLayout, job: TextJob, tile: Tile) -> np.ndarray:
    """A latent window's normalised metadata: its own centre and ground GSD, the job's date and cloud."""
    window = tile.scaled(layout.factor).window
    return Metadata.from_grid(layout.canvas, job.date, job.cloud_cover, window=window).normalize()


def _valid_mask(polygon: Any, grid: Grid) -> np.ndarray | None:
    """Pixels of ``grid`` whose centre lies in ``polygon`` (None when all do)."""
    if polygon.contains(box(*grid.bounds)):
        return None
    return rasterize_classes([(polygon, 1)], grid) == 1


def _area_polygon(area: Area, crs: str) -> Any:
    """The area's geometry in ``crs``; geographic outlines are densified so edges follow the graticule."""
    geom = area.geometry
    if is_geographic(area.crs):
        left, bottom, right, top = geom.bounds
        geom = geom.segmentize(max(right - left, top - bottom) / 64)
    return reproject_geometry(geom, area.crs, crs)


def _tags(
    job: TextJob,
    engine_name: str,
    entry: ModelEntry,
    comps: DiffusionComponents,
    layout: LatentLayout,
    steps: int,
    centre: np.ndarray,
    per_window: dict[tuple[int, int], np.ndarray],
) -> dict[str, str]:
    metadata = window_metadata(centre, per_window, guided=job.guidance_scale > 1)
    extra = {
        "steps": steps,
        "guidance_scale": job.guidance_scale,
        "scheduler": "DDIM",
        "prediction_type": comps.prediction_type,
        "gsd_m": job.gsd,
        "date": job.date.isoformat() if job.date else None,
        "cloud_cover": job.cloud_cover,
        "window_px": layout.window * layout.factor,
        "overlap_px": layout.overlap * layout.factor,
        "dtype": str(comps.dtype).removeprefix("torch."),
    }
    return provenance_tags(
        engine=engine_name,
        model=entry.name,
        prompt=job.prompt,
        seed=job.seed,
        metadata=metadata,
        task="text",
        extra=extra,
    )


def run_text(job: TextJob, engine: DiffusionSatTextEngine, reporter: Reporter) -> PipelineOutput:
    """Run a text job with ``engine`` (its options already checked); see the module docstring.

    Raises:
        EngineError, ModelError, JobSpecError, GeometryError, VectorError, AreaTooLargeError, OutputError.
    """
    opts = engine.options.diffusion
    steps = job.steps or DEFAULT_STEPS
    entry = _model(job, engine)
    area = area_from_spec(job.aoi)
    grid = working_grid(area, job.gsd)
    layout = plan_layout(grid, entry, window=opts.window, overlap=opts.overlap)
    centre = Metadata.from_grid(grid, job.date, job.cloud_cover).normalize()  # checks date/cloud before work
    device = select_device(opts.device)
    per_window_s = seconds_per_window(
        count_parameters(entry.weights_path), layout.window, steps, job.guidance_scale > 1, device.type
    )
    check_tile_budget(layout.n_windows, job.max_tiles, seconds_per_tile=per_window_s, what="latent windows")

    t0 = time.perf_counter()
    comps = _load(entry, opts, device, layout, job.prompt, reporter)
    t_load = time.perf_counter()
    latents, windows, stats = _generate(job, comps, layout, opts, steps, reporter)
    t_denoise = time.perf_counter()
    per_window = {w.tile.index: w.metadata for w in windows if w.metadata is not None}
    tags = _tags(job, engine.name, entry, comps, layout, steps, centre, per_window)
    final, out_grid = _write(job, comps, layout, area, latents, opts, tags, reporter)
    t_end = time.perf_counter()

    record = OutputRecord.on_grid(
        final,
        out_grid,
        RGBA_BANDS,
        date=job.date,
        extra={"gsd_m": job.gsd, "prompt": job.prompt, "model": entry.name, "windows": len(windows)},
    )
    summary = (
        f'synthetic {grid.width} x {grid.height} px scene at {job.gsd:g} m from "{job.prompt}" with '
        f"DiffusionSat ({entry.name}), {len(windows)} latent window(s), {steps} steps, seed {job.seed}"
    )
    extra = {
        "timings": stage_seconds(t0, load_s=t_load, denoise_s=t_denoise, decode_write_s=t_end),
        "unet_calls": stats.unet_calls,
        "metadata_centre": [round(float(v), 3) for v in centre],
    }
    return PipelineOutput([record], engine.name, summary, extra)


def _load(
    entry: ModelEntry,
    opts: DiffusionOptions,
    device: torch.device,
    layout: LatentLayout,
    prompt: str,
    reporter: Reporter,
) -> DiffusionComponents:
    """The model's components, checked against the layout planned from its configs.

    Raises:
        ModelError: unloadable parts, a VAE whose weights contradict its config, or a metadata count other
            than DiffusionSat's 7.
    """
    reporter.progress(0, 1, "load model")
    comps = load_for_layout(entry, opts, device, layout.factor, stock_unet=True)
    reporter.progress(1, 1, "load model")
    overflow = comps.prompt_overflow(prompt)
    if overflow:
        reporter.log(
            f"the prompt is {overflow} token(s) longer than the text encoder reads; the end is ignored",
            "warning",
        )
    return comps


def _generate(
    job: TextJob,
    comps: DiffusionComponents,
    layout: LatentLayout,
    opts: DiffusionOptions,
    steps: int,
    reporter: Reporter,
) -> tuple[torch.Tensor, list[LatentWindow], DenoiseStats]:
    """The denoised latent canvas, its windows (with their metadata) and what denoising cost."""
    windows = plan_windows(
        layout.latent_shape,
        layout.window,
        layout.overlap,
        metadata=(lambda t: _tile_metadata(layout, job, t)) if comps.num_metadata else None,
    )
    reporter.log(
        f"{comps.name} on {comps.device.type} ({str(comps.dtype).removeprefix('torch.')}): "
        f"{layout.canvas.width} x {layout.canvas.height} px canvas, {len(windows)} window(s) of "
        f"{layout.window * layout.factor} px, {steps} steps, guidance {job.guidance_scale:g}"
    )
    guided = job.guidance_scale > 1
    stats = DenoiseStats()
    with torch.no_grad():
        text = TextConditioning(
            comps.encode_prompts([job.prompt]), comps.encode_prompts([""]) if guided else None
        )
        noise = initial_noise((comps.latent_channels, *layout.latent_shape), job.seed)
        with comps.placed(comps.unet) as unet:
            latents = denoise(
                unet,
                comps.scheduler,
                noise,
                windows,
                text,
                steps=steps,
                guidance_scale=job.guidance_scale,
                window_batch_size=opts.window_batch_size or (1 if comps.device.type == "cpu" else 4),
                weight_kind=opts.weight_kind,  # type: ignore[arg-type]
                progress=lambda d, n: reporter.progress(d, n, "denoise"),
                device=comps.device,
                dtype=comps.dtype,
                stats=stats,
            )
    return latents, windows, stats


def _write(
    job: TextJob,
    comps: DiffusionComponents,
    layout: LatentLayout,
    area: Area,
    latents: torch.Tensor,
    opts: DiffusionOptions,
    tags: dict[str, str],
    reporter: Reporter,
) -> tuple[Path, Grid]:
    """Decode into a GeoTIFF on the working grid, warp it to the asked CRS if any; return file and grid."""
    grid = layout.grid
    final = Path(job.output.dir) / f"{job.output.name}.tif"
    polygon = _area_polygon(area, grid.crs)
    output = RGBAOutput(
        final,
        grid,
        tags,
        crs=job.output.crs,
        overwrite=job.output.overwrite,
        progress=lambda d, n: reporter.progress(d, n, "reproject"),
    )

    def sink(window: Window, array: np.ndarray) -> None:
        part = layout.output_part(window)
        if part is None:
            return
        src, dst = part
        writer.write(dst, array[:, src.slices[0], src.slices[1]], _valid_mask(polygon, grid[dst]))

    decode_tile = (opts.decode_tile // layout.factor) if opts.decode_tile else layout.window
    with output as writer, comps.placed(comps.vae) as vae:
        decode_latents(
            vae,
            latents,
            sink,
            tile=decode_tile,
            overlap=decode_tile // 4,
            device=comps.device,
            dtype=comps.dtype,
            progress=lambda d, n: reporter.progress(d, n, "decode"),
        )
    from geogen.io.raster import read_grid

    return final, read_grid(final)
