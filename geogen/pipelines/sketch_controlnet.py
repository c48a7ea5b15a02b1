"""Sketch to scene with a land-cover ControlNet (``--engine controlnet``): Seg2Sat-style, over any area.

land-cover polygons or raster (mapped to the vocabulary) -> metric working grid at the job's GSD -> latent
canvas around it -> latent windows, each with its own prompt (classes present), condition crop and, on a
DiffusionSat base, metadata -> MultiDiffusion denoising with the ControlNet as a per-window hook -> VAE
decode tile by tile -> RGB + alpha GeoTIFF (transparent outside the drawn classes and the area of interest),
with provenance tags -> optional warp to the CRS asked for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from geogen.diffusion.components import select_device
from geogen.diffusion.cost import count_parameters, seconds_per_window
from geogen.diffusion.decode import DecodeStats
from geogen.diffusion.layout import LatentLayout
from geogen.diffusion.planning import plan_layout
from geogen.engines.sketch_controlnet.contract import ControlNetSketch
from geogen.engines.sketch_controlnet.engine import ControlNetSketcher, SketchSettings
from geogen.engines.sketch_controlnet.models import check_pair, load_sketch_models, resolve_models
from geogen.io.aoi import Area, check_tile_budget
from geogen.io.classmap import ClassSource
from geogen.io.raster import read_grid
from geogen.io.tags import provenance_tags
from geogen.landcover.prompts import scene_prompt
from geogen.metadata import Metadata
from geogen.pipelines.sketch_area import aoi_polygon, sketch_area, sketch_grid
from geogen.pipelines.sketch_common import (
    open_sketch_source,
    read_drawn,
    sketch_metadata,
    sketch_output,
    sketch_record,
)
from geogen.progress import Reporter
from geogen.records import PipelineOutput, stage_seconds
from geogen.store import DIFFUSIONSAT
from tiles import Grid, Tile, Window

if TYPE_CHECKING:
    from geogen.spec import SketchJob

DEFAULT_GSD = 0.2  # FLAIR orthophotos, the scale Seg2Sat's ControlNet was trained at
DEFAULT_STEPS = {"unipc": 20, "ddim": 30}
MAX_TAGGED_PROMPTS = 64


@dataclass
class _Written:
    """The output file, its grid, what decoding held, and the class codes under its valid pixels."""

    path: Path
    grid: Grid
    decode: DecodeStats
    present: set[int] = field(default_factory=set)


def run_sketch_controlnet(job: SketchJob, engine: ControlNetSketch, reporter: Reporter) -> PipelineOutput:
    """Run a sketch job with the ``controlnet`` engine (its options already checked); see the module docstring.

    Raises:
        ModelError, EngineError, ClassMappingError, VectorError, RasterError, GeometryError,
        AreaTooLargeError, OutputError.
    """
    opts = engine.options
    base, net = resolve_models(job.model, opts.controlnet)
    facts = check_pair(base, net)
    vocab, source = open_sketch_source(job)
    gsd = job.gsd or source.native_res or DEFAULT_GSD
    if not (job.gsd or source.native_res):
        reporter.log(
            f"no GSD given: generating at {DEFAULT_GSD} m, the scale land-cover ControlNets such as "
            "Seg2Sat were trained at",
            "info",
        )
    area = sketch_area(job, source)
    grid = sketch_grid(job, source, area, gsd)
    layout = plan_layout(grid, base, window=opts.window, overlap=opts.overlap)
    factor = layout.factor
    scheduler = opts.scheduler or ("ddim" if base.kind == DIFFUSIONSAT else "unipc")
    steps = job.steps or DEFAULT_STEPS[scheduler]
    guided = opts.guidance_scale > 1
    device = select_device(opts.device)
    params = count_parameters(base.weights_path) + count_parameters(net.weights_path)
    check_tile_budget(
        layout.n_windows,
        job.max_tiles,
        what="latent windows",
        seconds_per_tile=seconds_per_window(params, layout.window, steps, guided, device.type),
    )
    if base.kind == DIFFUSIONSAT:
        reporter.log(
            f"experimental: DiffusionSat base {base.name!r} under ControlNet {net.name!r} (never trained "
            "together; each window's lon/lat, GSD and date steer the base)",
            "warning",
        )

    t0 = time.perf_counter()
    reporter.progress(0, 1, "load model")
    models = load_sketch_models(
        base,
        net,
        loras=job.loras,
        device=device,
        options=opts.diffusion,
    )
    reporter.progress(1, 1, "load model")
    settings = SketchSettings(
        steps=steps,
        guidance_scale=opts.guidance_scale,
        controlnet_scale=opts.controlnet_scale,
        scheduler=scheduler,
        place=job.place,
        prompt=job.prompt,
        window_batch_size=opts.window_batch_size or (1 if device.type == "cpu" else 4),
        weight_kind=opts.weight_kind,
        condition_style=opts.condition_style,
    )
    sketcher = ControlNetSketcher(models, settings, vocab, channel_order=facts["channel_order"])
    t_load = time.perf_counter()

    def metadata(tile: Tile) -> np.ndarray:
        return Metadata.from_grid(
            layout.canvas, job.date, None, window=tile.scaled(factor).window
        ).normalize()

    reporter.log(
        f"{models.name} on {device.type}: {layout.canvas.width} x {layout.canvas.height} px canvas, "
        f"{layout.n_windows} window(s) of {layout.window * factor} px, {steps} {scheduler} steps, "
        f"guidance {settings.guidance_scale:g}, ControlNet scale {settings.controlnet_scale:g}"
    )
    area_result = sketcher.denoise_area(
        layout.latent_shape,
        layout.window,
        layout.overlap,
        lambda win: source.read(layout.canvas[win]),
        job.seed,
        metadata=metadata,
        cache_bytes=opts.condition_cache_mb * 2**20,
        progress=lambda d, n: reporter.progress(d, n, "denoise"),
    )
    for prompt in area_result.prompts:
        overflow = models.comps.prompt_overflow(prompt)
        if overflow:
            reporter.log(
                f"a window prompt is {overflow} token(s) longer than the text encoder reads; its end is "
                f"ignored: {prompt!r}",
                "warning",
            )
    t_denoise = time.perf_counter()
    decode_tile = opts.decode_tile // factor if opts.decode_tile else layout.window
    written = _write(
        job,
        engine.name,
        sketcher,
        layout,
        area_result.latents,
        area,
        source,
        area_result.prompts,
        facts,
        decode_tile,
        reporter,
    )
    t_end = time.perf_counter()

    names = [vocab[c].name for c in sorted(written.present)]
    record = sketch_record(
        job,
        written.path,
        written.grid,
        names,
        gsd,
        extra={"model": models.name, "windows": len(area_result.windows)},
    )
    summary = (
        f"synthetic {grid.width} x {grid.height} px scene at {gsd:g} m from {len(names)} classes with "
        f"ControlNet {net.name!r} on {base.name!r}, {len(area_result.windows)} latent window(s), {steps} "
        f"steps, seed {job.seed}"
    )
    extra = {
        "classes": names,
        "prompts": area_result.prompts,
        "loras": models.loras,
        "experimental": models.experimental,
        "timings": stage_seconds(t0, load_s=t_load, denoise_s=t_denoise, decode_write_s=t_end),
        "unet_calls": area_result.stats.unet_calls,
        "controlnet_calls": area_result.extra["controlnet_calls"],
        "memory": {
            "latent_canvas_bytes": area_result.latents.numel() * area_result.latents.element_size(),
            "condition_peak_bytes": area_result.conditions.peak_bytes,
            "condition_kept_bytes": area_result.conditions.kept_bytes,
            "mosaic_peak_bytes": written.decode.peak_buffer_bytes,
        },
    }
    return PipelineOutput([record], engine.name, summary, extra)


def _tags(
    job: SketchJob,
    name: str,
    sketcher: ControlNetSketcher,
    layout: LatentLayout,
    area: Area,
    prompts: list[str],
    facts: dict[str, Any],
) -> dict[str, str]:
    s = sketcher.settings
    metadata = sketch_metadata(job, area, layout.grid.res[0], sketcher.vocab.name)
    metadata["windows"] = layout.n_windows
    if len(prompts) <= MAX_TAGGED_PROMPTS:
        metadata["window_prompts"] = prompts
    extra = {
        "steps": s.steps,
        "guidance_scale": s.guidance_scale,
        "controlnet_scale": s.controlnet_scale,
        "scheduler": s.scheduler,
        "condition_style": s.condition_style,
        "loras": sketcher.models.loras,
        "base_family": facts["base_family"],
        "window_px": layout.window * layout.factor,
        "overlap_px": layout.overlap * layout.factor,
        "experimental": sketcher.models.experimental,
        "dtype": str(sketcher.models.comps.dtype).removeprefix("torch."),
    }
    template = scene_prompt(["<classes present in the window>"], job.place, job.prompt)
    return provenance_tags(
        engine=name,
        model=sketcher.models.name,
        prompt=prompts[0] if len(set(prompts)) == 1 else template,
        seed=job.seed,
        metadata=metadata,
        task="sketch",
        extra=extra,
    )


def _write(
    job: SketchJob,
    name: str,
    sketcher: ControlNetSketcher,
    layout: LatentLayout,
    latents: torch.Tensor,
    area: Area,
    source: ClassSource,
    prompts: list[str],
    facts: dict[str, Any],
    decode_tile: int,
    reporter: Reporter,
) -> _Written:
    """Decode (tiles of ``decode_tile`` latent pixels) into the GeoTIFF on the working grid; warp if asked."""
    grid = layout.grid
    polygon = aoi_polygon(job, area, grid)
    output = sketch_output(
        job, source, grid, _tags(job, name, sketcher, layout, area, prompts, facts), reporter
    )

    present: set[int] = set()

    def sink(window: Window, array: np.ndarray) -> None:
        part = layout.output_part(window)
        if part is None:
            return
        src, dst = part
        valid = read_drawn(source, grid[dst], polygon, present)
        writer.write(dst, array[:, src.slices[0], src.slices[1]], valid)

    with output as writer:
        stats = sketcher.decode(
            latents,
            sink,
            tile=decode_tile,
            overlap=decode_tile // 4,
            progress=lambda d, n: reporter.progress(d, n, "decode"),
        )
    return _Written(output.final, read_grid(output.final), stats, present)
