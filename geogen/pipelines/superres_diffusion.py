"""Sentinel-2 super-resolution with DiffusionSat's SR ControlNet, over any area, one output per date.

input stack(s) -> the 10 m window of the area of interest (shared by every date: co-registered outputs) ->
output grid = that window zoomed by ``scale`` -> latent canvas and windows (``geogen.diffusion``) -> per
date: condition channels prepared as in training, each latent window's target metadata (its centre, the date,
the target GSD) and condition metadata (gsd 10 m) -> MultiDiffusion denoising with the ControlNet hook -> VAE
decode -> consistency step (default on) -> GeoTIFF on the output grid, flagged synthetic, with provenance.

Every date uses the job's seed, so the same noise: differences between the dates' outputs come from their
inputs. The 3-D (temporal) ControlNet, which conditions on several dates at once, is not used here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geogen.diffusion.components import DiffusionComponents, load_for_layout, select_device
from geogen.diffusion.control import ControlNetHook
from geogen.diffusion.cost import count_parameters, seconds_per_window
from geogen.diffusion.latent_tiling import (
    DenoiseStats,
    TextConditioning,
    denoise,
    initial_noise,
    plan_windows,
)
from geogen.diffusion.layout import LatentLayout
from geogen.diffusion.planning import plan_layout
from geogen.engines.base import DiffusionSREngine
from geogen.engines.sr_controlnet import model as models
from geogen.engines.sr_controlnet.canvas import ConditionCanvas
from geogen.engines.sr_controlnet.condition import (
    FMOW_NORMALISATION,
    Normalisation,
    check_bands,
    scene_normalisation,
)
from geogen.engines.sr_controlnet.level import level_warning, source_level
from geogen.engines.sr_controlnet.options import SROptions, resolve_scale
from geogen.engines.sr_controlnet.output import LowRes, decode_to, scratch_rgb, write_consistent, write_raw
from geogen.io.aoi import check_tile_budget, parse_crs
from geogen.io.outputs import native_output
from geogen.io.sentinel2 import open_s2
from geogen.io.tags import provenance_tags, window_metadata
from geogen.metadata import FIELDS, Metadata
from geogen.pipelines.superres_inputs import SRInput, check_bands_option, job_inputs, plan_inputs
from geogen.pipelines.typed_options import options_as
from geogen.progress import Reporter
from geogen.records import OutputRecord, PipelineOutput
from geogen.spec import SuperresJob
from geogen.store import ModelEntry
from tiles import Tile

DEFAULT_STEPS = 50
COND_GSD_M = 10.0
"""GSD written into the condition metadata: DiffusionSat's training sets it to 10 (m) for Sentinel-2."""


def _metadata(
    layout: LatentLayout, tile: Tile, date: dt.date | None, cloud: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """A window's normalised target metadata (its centre, the date, the output GSD) and condition metadata."""
    md = Metadata.from_grid(layout.canvas, date, cloud, window=tile.scaled(layout.factor).window)
    return md.normalize(), dataclasses.replace(md, gsd_m=COND_GSD_M).normalize()


@dataclasses.dataclass
class _Run:
    """What every date of a job shares: the job, its engine and options, models, layout and loaded parts."""

    job: SuperresJob
    engine: str
    opts: SROptions
    sr: ModelEntry
    base: ModelEntry
    layout: LatentLayout
    scale: int
    steps: int
    reporter: Reporter
    comps: DiffusionComponents
    controlnet: torch.nn.Module
    cond_scale: int
    text: TextConditioning

    def progress(self, stage: str) -> Callable[[int, int], None]:
        return lambda done, total: self.reporter.progress(done, total, stage)

    @property
    def consistency(self) -> str | None:
        """The consistency method to run, None when off."""
        return self.opts.consistency_method


def _tags(
    run: _Run, item: SRInput, norm: Normalisation, per_window: dict[tuple[int, int], np.ndarray]
) -> dict[str, str]:
    """Provenance tags of one date's output."""
    opts, layout, comps = run.opts, run.layout, run.comps
    centre = Metadata.from_grid(layout.grid, item.date, opts.cloud_cover).normalize()
    metadata = {
        **window_metadata(centre, per_window, guided=opts.guidance_scale > 1),
        "condition_gsd_m": COND_GSD_M,
    }
    extra = {
        "steps": run.steps,
        "guidance_scale": opts.guidance_scale,
        "scheduler": "DDIM",
        "eta": 0.0,
        "prediction_type": comps.prediction_type,
        "scale": run.scale,
        "gsd_m": layout.grid.res[0],
        "date": item.date.isoformat() if item.date else None,
        "base_model": run.base.name,
        "controlnet_scale": opts.controlnet_scale,
        "normalisation": norm.to_json(),
        "consistency": run.consistency or "off",
        "reflectance": (
            "reflectance = DN / 10000 (no offset); DN 0 = nodata"
            if run.consistency
            else "8-bit RGB as the model draws it (not reflectance)"
        ),
        "source": Path(item.stack.source).name,
        "source_level": source_level(item.stack) or "unknown",
        "window_px": layout.window * layout.factor,
        "overlap_px": layout.overlap * layout.factor,
        "dtype": str(comps.dtype).removeprefix("torch."),
    }
    return provenance_tags(
        engine=run.engine,
        model=models.model_label(run.sr),
        prompt=opts.prompt,
        seed=run.job.seed,
        metadata=metadata,
        task="superres",
        extra=extra,
    )


def _options(engine: DiffusionSREngine) -> SROptions:
    """The engine's typed options; this pipeline reads the SR ControlNet's.

    Raises:
        EngineError: the engine's options model does not derive from ``SROptions``.
    """
    return options_as(engine, SROptions, "the diffusion SR pipeline reads options derived from SROptions")


def run_diffusionsat_sr(job: SuperresJob, engine: DiffusionSREngine, reporter: Reporter) -> PipelineOutput:
    """Super-resolve the job's Sentinel-2 input(s) with DiffusionSat's SR ControlNet (see the module doc).

    Args:
        job: the superres job (``model`` the SR ControlNet; ``input``, or ``inputs`` for several dates).
        engine: the job's engine, built from its options (``engine.options``: ``SROptions``).
        reporter: progress and log sink.

    Raises:
        ModelError: missing, wrong-kind or incompatible models.
        JobSpecError: bad scale or bands.
        InputFileError, RasterError: unreadable inputs, missing bands, inputs on different grids.
        GeometryError, AreaTooLargeError, OutputError, EngineError: see the helpers.
    """
    opts = _options(engine)
    check_bands_option(job, engine.name)
    if job.output.crs is not None:
        parse_crs(job.output.crs)
    sr_entry = models.sr_model(job.model)
    base = models.base_model(sr_entry, opts.base_model)
    items = job_inputs(job)
    steps = job.steps or DEFAULT_STEPS
    with contextlib.ExitStack() as exits:
        stacks = [exits.enter_context(open_s2(i.path)) for i in items]
        for s in stacks:
            check_bands(s)
            for w in s.warnings + [m for m in [level_warning(s)] if m]:
                reporter.log(w, "warning")
        footprint, plan = plan_inputs(job, items, stacks)
        scale = resolve_scale(opts.scale, job.target_gsd, footprint.res[0])
        layout = plan_layout(
            footprint.zoom(scale),
            base,
            window=opts.diffusion.window,
            overlap=opts.diffusion.overlap,
            known=(sr_entry, base),
            role="the base model",
        )
        device = select_device(opts.diffusion.device)
        params = count_parameters(base.weights_path) + count_parameters(sr_entry.weights_path)
        guided = opts.guidance_scale > 1
        per_window_s = 2 * seconds_per_window(params, layout.window, steps, guided, device.type)
        check_tile_budget(
            layout.n_windows * len(plan),
            job.max_tiles,
            seconds_per_tile=per_window_s,
            what="latent windows (all dates)",
        )
        t0 = time.perf_counter()
        reporter.progress(0, 1, "load model")
        comps, controlnet, cond_scale, text = _load(opts, sr_entry, base, layout, device)
        reporter.progress(1, 1, "load model")
        run = _Run(
            job,
            engine.name,
            opts,
            sr_entry,
            base,
            layout,
            scale,
            steps,
            reporter,
            comps,
            controlnet,
            cond_scale,
            text,
        )
        return _run(run, plan, round(time.perf_counter() - t0, 3))


def _load(
    opts: SROptions, sr: ModelEntry, base: ModelEntry, layout: LatentLayout, device: torch.device
) -> tuple[DiffusionComponents, torch.nn.Module, int, TextConditioning]:
    """The base pipeline, the ControlNet (both checked), its condition scale and the encoded prompt.

    Raises:
        ModelError: parts that do not fit together (see ``models.check_pair``).
    """
    comps = load_for_layout(base, opts.diffusion, device, layout.factor)
    controlnet = comps.adopt(models.load_sr_controlnet(sr, comps.dtype))
    cond_scale = models.check_pair(sr.name, controlnet, comps.unet, comps.vae_scale_factor)
    with torch.no_grad():
        uncond = comps.encode_prompts([""]) if opts.guidance_scale > 1 else None
        text = TextConditioning(comps.encode_prompts([opts.prompt]), uncond)
    return comps, controlnet, cond_scale, text


def _run(run: _Run, plan: list[SRInput], load_s: float) -> PipelineOutput:
    timings = {"load_s": load_s, "denoise_s": 0.0, "decode_write_s": 0.0}
    records, per_date = [], []
    for item in plan:
        label = f" {item.date.isoformat()}" if item.date and len(plan) > 1 else ""
        record, info = _run_date(run, item, label)
        records.append(record)
        per_date.append(info)
        for key in ("denoise_s", "decode_write_s"):
            timings[key] = round(timings[key] + info[key], 3)
    layout = run.layout
    dates = ", ".join(d.date.isoformat() for d in plan if d.date) or "date unknown"
    summary = (
        f"{len(records)} synthetic {layout.grid.width} x {layout.grid.height} px RGB image(s) at "
        f"{layout.grid.res[0]:g} m (x{run.scale}) from Sentinel-2 ({dates}) with DiffusionSat's SR "
        f"ControlNet ({models.model_label(run.sr)}), {run.steps} steps, seed {run.job.seed}, consistency "
        f"{run.consistency or 'off'}"
    )
    extra = {
        "timings": timings,
        "per_date": per_date,
        "scale": run.scale,
        "steps": run.steps,
        "consistency": run.consistency or "off",
        "base_model": run.base.name,
    }
    return PipelineOutput(records, run.engine, summary, extra)


def _run_date(run: _Run, item: SRInput, label: str) -> tuple[OutputRecord, dict[str, Any]]:
    """Condition, denoise, decode and write one date; returns its record and its run statistics."""
    comps, layout, opts = run.comps, run.layout, run.opts
    t0 = time.perf_counter()
    stack = item.stack
    norm = FMOW_NORMALISATION
    if opts.normalisation == "scene":
        norm = scene_normalisation(stack, progress=run.progress(f"statistics{label}"))
    canvas = ConditionCanvas.from_stack(stack, layout.canvas, norm, run.cond_scale)
    md: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def target_md(tile: Tile) -> np.ndarray:
        md[tile.index] = _metadata(layout, tile, item.date, opts.cloud_cover)
        return md[tile.index][0]

    windows = plan_windows(layout.latent_shape, layout.window, layout.overlap, metadata=target_md)
    unknown = np.zeros(len(FIELDS), np.float32)
    hook = ControlNetHook(
        run.controlnet,
        canvas,  # type: ignore[arg-type]
        vae_factor=layout.factor,
        pixels_per_cond_pixel=run.cond_scale,
        scale=opts.controlnet_scale,
        cond_metadata=lambda w, uncond: unknown if uncond else md[w.tile.index][1],
    )
    run.reporter.log(
        f"{Path(stack.source).name}{label}: {layout.grid.width} x {layout.grid.height} px at "
        f"{layout.grid.res[0]:g} m (x{run.scale}), {len(windows)} window(s) of "
        f"{layout.window * layout.factor} px, {run.steps} steps on {comps.device.type}"
    )
    noise = initial_noise((comps.latent_channels, *layout.latent_shape), run.job.seed)
    stats = DenoiseStats()
    with torch.no_grad(), comps.placed(comps.unet) as unet, comps.placed(run.controlnet):
        latents = denoise(
            unet,
            comps.scheduler,
            noise,
            windows,
            run.text,
            steps=run.steps,
            guidance_scale=opts.guidance_scale,
            window_batch_size=opts.diffusion.window_batch_size or (1 if comps.device.type == "cpu" else 4),
            weight_kind=opts.diffusion.weight_kind,  # type: ignore[arg-type]
            hook=hook,
            progress=run.progress(f"denoise{label}"),
            device=comps.device,
            dtype=comps.dtype,
            stats=stats,
        )
    t1 = time.perf_counter()
    _write(run, latents, item, _tags(run, item, norm, {i: v[0] for i, v in md.items()}), label)
    t2 = time.perf_counter()
    from geogen.io.raster import read_grid

    out = read_grid(item.path)
    record = OutputRecord.on_grid(
        item.path,
        out,
        ["red", "green", "blue"],
        date=item.date,
        extra={
            "gsd_m": layout.grid.res[0],
            "scale": run.scale,
            "source": Path(stack.source).name,
            "model": models.model_label(run.sr),
            "consistency": run.consistency or "off",
            "units": "reflectance x 10000" if run.consistency else "8-bit RGB",
        },
    )
    info = {
        "date": item.date.isoformat() if item.date else None,
        "source": Path(stack.source).name,
        "windows": len(windows),
        "unet_calls": stats.unet_calls,
        "denoise_s": round(t1 - t0, 3),
        "decode_write_s": round(t2 - t1, 3),
    }
    return record, info


def _write(run: _Run, latents: torch.Tensor, item: SRInput, tags: dict[str, str], label: str) -> None:
    """Decode, apply the consistency step and write ``item.path`` (warped to ``job.output.crs`` if asked)."""
    job, opts, layout, comps = run.job, run.opts, run.layout, run.comps
    grid = layout.grid
    out = native_output(item.path, job.output.crs, grid.crs, overwrite=job.output.overwrite)
    target, overwrite = out.path, out.write_overwrite
    low = LowRes(item.stack, item.window)
    decode_tile = (
        (opts.diffusion.decode_tile // layout.factor) if opts.diffusion.decode_tile else layout.window
    )
    with scratch_rgb(item.path.parent, grid.shape) as raw:
        with comps.placed(comps.vae) as vae:
            decode_to(
                raw,
                vae,
                latents,
                layout,
                tile=decode_tile,
                device=comps.device,
                dtype=comps.dtype,
                progress=run.progress(f"decode{label}"),
            )
        if run.consistency is None:
            write_raw(
                target,
                raw,
                low,
                run.scale,
                grid,
                tags,
                overwrite=overwrite,
                progress=run.progress(f"write{label}"),
            )
        else:
            write_consistent(
                target,
                raw,
                low,
                run.scale,
                run.consistency,
                grid,
                tags,
                overwrite=overwrite,
                progress=run.progress(f"consistency{label}"),
            )
        del raw  # no view of the scratch array may outlive it
    out.finish(run.progress(f"reproject{label}"))
