"""Temporal sequences: observed frames (or a seed image) + target dates -> one co-registered, dated stack.

inputs and seed image -> their dates (``temporal.dates``; duplicates refused) -> the requested grid (area of
interest at the GSD, else the earliest frame's footprint) -> latent canvas around it -> every frame resampled
onto the canvas (``temporal.coregister``), frames cloudier than ``cloud_max`` over the area dropped ->
autoregressive plan (``temporal.sequence``) -> per target date: the 3-D ControlNet conditioned on up to T
known frames plus the date's metadata (``engines.temporal_controlnet``; the single-image model alone when
nothing is known yet) -> one Cloud-Optimized GeoTIFF per date ``<name>_<YYYY-MM-DD>.tif`` (observed frames
too, flagged not synthetic) on exactly the requested grid -> ``<name>.nc`` datacube of the whole sequence.
A target date that has a clear observed frame is that frame; when every target is observed, no model is
loaded (a co-registered stack and its datacube).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from geogen.diffusion.components import select_device
from geogen.diffusion.layout import LatentLayout
from geogen.engines.temporal_controlnet.contract import DiffusionSat3DEngine
from geogen.engines.temporal_controlnet.generator import TemporalGenerator
from geogen.engines.temporal_controlnet.loading import (
    generation_layout,
    load_generator,
    step_metadata,
    window_seconds,
)
from geogen.engines.temporal_controlnet.models import TemporalModels, resolve_models
from geogen.engines.temporal_controlnet.options import TemporalEngineOptions
from geogen.errors import JobSpecError, ModelError
from geogen.io.aoi import area_from_spec, check_tile_budget
from geogen.io.geotiff import prepare_output
from geogen.io.tags import provenance_tags
from geogen.metadata import Metadata
from geogen.progress import Reporter
from geogen.records import PipelineOutput, stage_seconds
from geogen.spec import TemporalJob
from geogen.timeseries.condition import ConditionFrame
from geogen.timeseries.datacube import write_datacube
from geogen.timeseries.dates import DatedFile, check_unique, frame_date
from geogen.timeseries.grid import target_grid
from geogen.timeseries.known import KnownFrame, read_known
from geogen.timeseries.outputs import StackFrame, cube_frame, observed_frame, write_frame
from geogen.timeseries.sequence import Step, plan_sequence
from tiles import Grid

DEFAULT_STEPS = 50
DEFAULT_PROMPT = "a satellite image"


def _dated_inputs(job: TemporalJob) -> tuple[list[DatedFile], DatedFile | None]:
    inputs = [frame_date(i.path, i.date) for i in job.inputs]
    seed = frame_date(job.seed_image.path, job.seed_image.date) if job.seed_image else None
    check_unique(inputs + ([seed] if seed else []))
    return inputs, seed


def _targets(job: TemporalJob, known: list[KnownFrame], reporter: Reporter) -> list[dt.date]:
    """The target dates left to generate: a target with a kept frame of its date is that frame."""
    by_date = {k.file.date: k for k in known}
    left = []
    for d in job.target_dates:
        if d in by_date:
            reporter.log(f"target date {d} is observed ({by_date[d].file.path.name}): that frame is used")
        else:
            left.append(d)
    return left


def _stack_layout(grid: Grid) -> LatentLayout:
    """The layout of a stack that generates nothing: the canvas is the grid itself."""
    return LatentLayout(grid, grid, grid.full_window, 1, max(grid.width, grid.height), 0)


def _paths(job: TemporalJob, dates: list[dt.date]) -> tuple[dict[dt.date, Path], Path]:
    folder, stem = Path(job.output.dir), job.output.name
    tifs = {
        d: prepare_output(folder / f"{stem}_{d.isoformat()}.tif", overwrite=job.output.overwrite)
        for d in dates
    }
    return tifs, prepare_output(folder / f"{stem}.nc", overwrite=job.output.overwrite)


def run_temporal(job: TemporalJob, engine: DiffusionSat3DEngine, reporter: Reporter) -> PipelineOutput:
    """Run a temporal job with ``engine`` (its options already checked); see the module docstring.

    Raises:
        JobSpecError: missing or duplicate dates, nothing to generate from, all frames too cloudy, bad
            options.
        ModelError: missing, wrong-kind or incompatible models.
        GeometryError: frames that do not overlap the area; InputFileError, RasterError: unreadable frames.
        AreaTooLargeError, OutputError, EngineError: see the helpers.
    """
    opts = engine.options
    steps = job.steps or DEFAULT_STEPS
    inputs, seed = _dated_inputs(job)
    files = [(f, "input") for f in inputs] + ([(seed, "seed")] if seed else [])
    reference = min(files, key=lambda x: (x[1] == "seed", x[0].date))[0].path if files else None
    for d in job.target_dates:
        Metadata(date=d)  # refuses dates the model cannot encode, before any work
    if not files and job.aoi is None:
        raise JobSpecError(
            "nothing to generate from: give observed frames (INPUTS), a --seed-image, or an area of interest "
            "(--aoi with --gsd) for the single-image model to start from"
        )
    input_dates = {f.date for f, _ in files}
    unobserved = [d for d in job.target_dates if d not in input_dates]
    models = None
    if unobserved or not files:
        models = resolve_models(
            job.model,
            opts.controlnet,
            need_controlnet=bool(files) or len(unobserved) > 1,
            base_model=opts.base_model,
        )
    area = area_from_spec(job.aoi) if job.aoi is not None else None
    grid = target_grid(area, job.gsd, job.output.crs, reference)
    layout = generation_layout(models, grid, opts) if models else _stack_layout(grid)
    known, excluded = read_known(files, layout, job.cloud_max, reporter)
    if files and not known:
        listed = ", ".join(f"{Path(e['path']).name} ({e['cloud_fraction']:.0%})" for e in excluded)
        raise JobSpecError(
            f"every frame is cloudier than cloud_max {job.cloud_max:.0%} over the area ({listed}): "
            "nothing to generate from; raise --cloud-max or add a clear frame or a --seed-image"
        )
    targets = _targets(job, known, reporter)
    if targets and models is None:
        raise ModelError(
            f"the frame(s) of {', '.join(map(str, targets))} are cloudier than cloud_max, so those dates "
            "must be generated: pass --model (DiffusionSat) and --controlnet (its 3-D ControlNet)"
        )
    plan = plan_sequence([k.file.date for k in known], targets, opts.frames) if targets else []
    device = select_device(opts.diffusion.device)
    if models is not None and plan:
        check_tile_budget(
            layout.n_windows * len(plan),
            job.max_tiles,
            seconds_per_tile=window_seconds(models, layout, steps, opts, device),
            what="latent windows (all dates)",
        )
    all_dates = sorted([k.file.date for k in known] + [s.target for s in plan])
    tif_paths, cube_path = _paths(job, all_dates)

    t0 = time.perf_counter()
    generated: list[StackFrame] = []
    per_step: list[dict[str, Any]] = []
    if models is not None and plan:
        prompt = job.prompt or DEFAULT_PROMPT
        generator = load_generator(prompt, opts, models, layout, steps, device, reporter)
    t_load = time.perf_counter()
    frames = [observed_frame(k.file, k.role, k.pixels, k.cloud) for k in known]
    if models is not None and plan:
        generated, per_step = _generate(
            job, engine.name, opts, models, generator, plan, known, steps, reporter
        )
    frames = sorted(frames + generated, key=lambda f: f.date)
    t_gen = time.perf_counter()
    reporter.progress(0, len(frames) + 1, "write")
    records = []
    for n, f in enumerate(frames, start=1):
        records.append(write_frame(f, layout, tif_paths[f.date], overwrite=job.output.overwrite))
        reporter.progress(n, len(frames) + 1, "write")
    cube = write_datacube(
        cube_path,
        layout.grid,
        [cube_frame(f, layout) for f in frames],
        attrs=_cube_attrs(job, engine.name, models),
        overwrite=job.output.overwrite,
    )
    reporter.progress(len(frames) + 1, len(frames) + 1, "write")
    t_end = time.perf_counter()
    observed = sum(f.kind == "observed" for f in frames)
    how = f", with DiffusionSat's 3-D ControlNet, {steps} steps, seed {job.seed}" if plan else ""
    summary = (
        f"{len(records)} dated frames ({observed} observed, {len(plan)} generated) on {layout.grid.width} x "
        f"{layout.grid.height} px at {layout.grid.res[0]:g} m, {all_dates[0]} .. {all_dates[-1]}{how}; "
        f"datacube {cube.name}"
    )
    extra = {
        "timings": stage_seconds(t0, load_s=t_load, generate_s=t_gen, write_s=t_end),
        "datacube": str(cube),
        "dates": [d.isoformat() for d in all_dates],
        "plan": per_step,
        "excluded": excluded,
        "grid": {
            "crs": layout.grid.crs,
            "transform": list(layout.grid.transform)[:6],
            "width": layout.grid.width,
            "height": layout.grid.height,
        },
    }
    return PipelineOutput(records, engine.name, summary, extra)


def _generate(
    job: TemporalJob,
    engine_name: str,
    opts: TemporalEngineOptions,
    models: TemporalModels,
    generator: TemporalGenerator,
    plan: list[Step],
    known: list[KnownFrame],
    steps: int,
    reporter: Reporter,
) -> tuple[list[StackFrame], list[dict[str, Any]]]:
    """Every planned frame, in plan order, each joining the known frames for the next steps."""
    pool: dict[dt.date, ConditionFrame] = {k.file.date: k.condition() for k in known}
    frames, per_step = [], []
    comps = generator.comps
    for n, step in enumerate(plan, start=1):
        t0 = time.perf_counter()
        cond = [pool[d] for d in step.conditioning]
        what = (
            "the single-image model"
            if step.from_scratch
            else f"{len(cond)} frame(s) {', '.join(d.isoformat() for d in step.conditioning)}"
        )
        reporter.log(f"frame {n}/{len(plan)}: {step.target} from {what}")
        result = generator.generate(step.target, cond, job.seed, progress=reporter.progress)
        pool[step.target] = ConditionFrame(step.target, result.rgb, None, opts.cloud_cover)
        elapsed = round(time.perf_counter() - t0, 3)
        info = {
            "date": step.target.isoformat(),
            "conditioning": [d.isoformat() for d in step.conditioning],
            "windows": len(result.windows),
            "unet_calls": result.stats.unet_calls,
            "seconds": elapsed,
        }
        per_step.append(info)
        metadata = step_metadata(generator, step.target, cond, result.windows)
        extra = {
            "date": step.target.isoformat(),
            "kind": "generated",
            "conditioning_dates": [d.isoformat() for d in step.conditioning],
            "controlnet": models.controlnet.name if models.controlnet and cond else None,
            "frames": opts.frames,
            "steps": steps,
            "guidance_scale": opts.guidance_scale,
            "controlnet_scale": opts.controlnet_scale,
            "scheduler": "DDIM",
            "prediction_type": comps.prediction_type,
            "gsd_m": generator.layout.grid.res[0],
            "window_px": generator.layout.window * generator.layout.factor,
            "overlap_px": generator.layout.overlap * generator.layout.factor,
            "dtype": str(comps.dtype).removeprefix("torch."),
        }
        tags = provenance_tags(
            engine=engine_name,
            model=models.base.name,
            prompt=job.prompt or DEFAULT_PROMPT,
            seed=job.seed,
            metadata=metadata,
            task="temporal",
            extra=extra,
        )
        frames.append(
            StackFrame(
                step.target,
                "generated",
                result.rgb,
                None,
                "",
                tags,
                {
                    "conditioning": info["conditioning"],
                    "model": models.base.name,
                    "controlnet": extra["controlnet"],
                },
            )
        )
    return frames, per_step


def _cube_attrs(job: TemporalJob, engine_name: str, models: TemporalModels | None) -> dict[str, Any]:
    import geogen

    return {
        "title": f"geogen temporal sequence {job.output.name}",
        "source": f"geogen {geogen.__version__}",
        "comment": "frames with synthetic = 1 are SYNTHETIC images generated by geogen, not observations",
        "geogen_engine": engine_name,
        "geogen_model": models.base.name if models else "none",
        "geogen_controlnet": models.controlnet.name if models and models.controlnet else "none",
        "geogen_seed": job.seed,
        "history": f"{dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()} geogen temporal",
    }
