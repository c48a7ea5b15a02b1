"""Multi-date super-resolution with DiffusionSat's 3-D ControlNet (superres engine "diffusionsat-3d").

As DiffusionSat's Texas model does, one high-resolution RGB image is drawn at one date from the low-resolution
frames of several dates:
- the date drawn is the first input's (``input``, or ``inputs[0]``; on the command line ``INPUT``); every
  other input (``--date PATH=YYYY-MM-DD``) only conditions it;
- output grid: the first input's grid (Sentinel-2: its 10 m grid) cut to the area of interest, zoomed by the
  scale (``options.scale`` or ``target_gsd``, default 4), so its pixels nest exactly in the input's;
- conditioning frames, in this order (``geogen.timeseries.sequence.conditioning_set``): the ``options.frames``
  (T, default 3: the Texas model's) dates nearest in time to the target date, the target's own frame always
  among them, sorted oldest first, padded to T by repeating the target's own frame (so one input alone is
  allowed: its frame T times); dates beyond the T nearest are not used (logged and listed in result.json);
- each frame: true colour (B04, B03, B02 of a Sentinel-2 stack; ``geogen.timeseries.render``) resampled
  bilinearly onto the fine canvas (``geogen.timeseries.coregister``), with its own metadata: its date, its
  measured cloud fraction over the area (unknown without a cloud band) and the GSD it is fed at (the output's:
  DiffusionSat's ``texas_numerical_metadata`` gives each frame the GSD of the image after resizing);
- target metadata per latent window: the window's centre, the target date, the output GSD, ``cloud_cover``;
- the generation itself is the temporal sequence's (``geogen.engines.temporal_controlnet.generator``), asked for the
  target date even though that date is observed; noise from ``frame_seed(seed, target date)``;
- output ``NAME.tif``: a Cloud-Optimized GeoTIFF, 8-bit red, green, blue + alpha as the model draws them
  (no consistency step: the model's colours are NAIP-like, not reflectance), flagged synthetic, with the
  target date (``GEOGEN_DATE``), the conditioning dates and files, models, seed, steps and metadata in its
  tags; warped onto ``output.crs`` at the end when that differs.

Options (``geogen.engines.sr_temporal.options.SRTemporalOptions``, parsed before this runs): ``scale``,
``prompt`` ["a satellite image"], the 3-D ControlNet's ``frames``, ``guidance_scale``, ``controlnet_scale``,
``cloud_cover``, ``base_model``, ``controlnet`` and the diffusion engine's. ``model`` is the 3-D ControlNet (its base from its folder, ``base_model`` or
the store), or the DiffusionSat base with ``options.controlnet`` naming the 3-D ControlNet.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from geogen.diffusion.components import select_device
from geogen.diffusion.layout import LatentLayout
from geogen.engines.base import TemporalSREngine
from geogen.engines.sr_controlnet.options import resolve_scale
from geogen.engines.sr_temporal.options import SRTemporalOptions
from geogen.engines.temporal_controlnet.generator import StepResult, TemporalGenerator
from geogen.engines.temporal_controlnet.loading import (
    generation_layout,
    load_generator,
    step_metadata,
    window_seconds,
)
from geogen.engines.temporal_controlnet.models import DEFAULT_BASE, TemporalModels, base_for, resolve_models
from geogen.engines.temporal_controlnet.options import TemporalEngineOptions
from geogen.errors import JobSpecError, ModelError
from geogen.io.aoi import aoi_window, check_tile_budget, parse_crs
from geogen.io.geotiff import prepare_output
from geogen.io.outputs import native_output
from geogen.io.tags import provenance_tags
from geogen.metadata import Metadata
from geogen.pipelines.superres_inputs import job_inputs
from geogen.pipelines.typed_options import options_as
from geogen.progress import Reporter
from geogen.records import OutputRecord, PipelineOutput, stage_seconds
from geogen.spec import SuperresJob
from geogen.store import DIFFUSIONSAT, DIFFUSIONSAT_3D, DIFFUSIONSAT_SR, resolve
from geogen.timeseries.dates import DatedFile, check_unique, frame_date
from geogen.timeseries.known import KnownFrame, read_known
from geogen.timeseries.outputs import StackFrame, write_frame
from geogen.timeseries.render import open_rgb
from geogen.timeseries.sequence import conditioning_set
from tiles import Grid

DEFAULT_STEPS = 50


def _options(engine: TemporalSREngine) -> SRTemporalOptions:
    """The engine's typed options; this pipeline reads the 3-D ControlNet SR engine's.

    Raises:
        EngineError: the engine's options model does not derive from ``SRTemporalOptions``.
    """
    return options_as(
        engine, SRTemporalOptions, "the temporal SR pipeline reads options derived from SRTemporalOptions"
    )


def _check_job(job: SuperresJob) -> None:
    if job.bands:
        raise JobSpecError(
            f"bands: the diffusionsat-3d engine writes one RGB image (red, green, blue); got "
            f"{', '.join(job.bands)}: leave bands out"
        )
    if job.output.crs is not None:
        parse_crs(job.output.crs)  # a bad CRS fails now, not after the work


def _dated_inputs(job: SuperresJob) -> list[DatedFile]:
    """The inputs with their dates, the target (first input) first.

    Raises:
        JobSpecError: an input without a date, two inputs of one date, or a date the model cannot encode.
    """
    files = [frame_date(i.path, i.date) for i in job_inputs(job)]
    check_unique(files)
    for f in files:
        Metadata(date=f.date)
    return files


def _models(job: SuperresJob, opts: TemporalEngineOptions) -> TemporalModels:
    """The 3-D ControlNet the job names and its DiffusionSat base.

    Raises:
        ModelError: no model, a model of another kind, or no base model to be found.
    """
    if not job.model:
        raise ModelError(
            "the diffusionsat-3d engine needs --model: DiffusionSat's 3-D (temporal) ControlNet, a name from "
            "`geogen models list` or its folder"
        )
    entry = resolve(job.model)
    if entry.kind not in (DIFFUSIONSAT_3D, DIFFUSIONSAT) or (
        entry.kind == DIFFUSIONSAT and opts.controlnet is None
    ):
        hint = " (the diffusionsat-sr engine uses that one)" if entry.kind == DIFFUSIONSAT_SR else ""
        raise ModelError(
            f"model {entry.name!r} is a {entry.label}{hint}; the diffusionsat-3d engine needs DiffusionSat's "
            "3-D (temporal) ControlNet as --model (its DiffusionSat base is found beside it, in "
            "options.base_model or in the store)"
        )
    if entry.kind == DIFFUSIONSAT_3D and opts.base_model is None and opts.controlnet is None:
        try:
            return TemporalModels(base_for(entry, None), entry)
        except ModelError:
            raise ModelError(
                f"the 3-D ControlNet {entry.name!r} needs the DiffusionSat model it steers and none was "
                "found beside it or chosen in the store: pass it with -O base_model=NAME_OR_PATH (job option "
                f"base_model), or install {DEFAULT_BASE}"
            ) from None
    return resolve_models(job.model, opts.controlnet, need_controlnet=True, base_model=opts.base_model)


def _output_grid(job: SuperresJob, target: DatedFile, opts: SRTemporalOptions) -> tuple[Grid, int]:
    """The fine grid (the target input's grid on the area, zoomed by the scale) and the scale.

    Raises:
        GeometryError: the area misses the input, or the grid has no metric position (geographic CRS).
        JobSpecError: a scale or target GSD that is not a whole zoom of the input's pixels.
    """
    with open_rgb(target.path) as src:
        source = src.grid
    footprint = source[aoi_window(job.aoi, source)]
    scale = resolve_scale(opts.scale, job.target_gsd, footprint.res[0])
    grid = footprint.zoom(scale)
    Metadata.from_grid(grid, target.date)  # a grid the model cannot place fails before any work
    return grid, scale


def run_sr_temporal(job: SuperresJob, engine: TemporalSREngine, reporter: Reporter) -> PipelineOutput:
    """Draw the first input's date at a finer GSD from the frames of several dates (see the module doc).

    Args:
        job: the superres job (``input``, or ``inputs``: the first is the date drawn).
        engine: the job's engine, built from its options (``engine.options``: ``SRTemporalOptions``).
        reporter: progress and log sink.

    Raises:
        JobSpecError: bad scale, bands or dates.
        ModelError: missing, wrong-kind or incompatible models.
        InputFileError, RasterError: unreadable inputs; GeometryError: an area or frame off the input.
        AreaTooLargeError, OutputError, EngineError: see the helpers.
    """
    opts = _options(engine)
    _check_job(job)
    files = _dated_inputs(job)
    target = files[0]
    models = _models(job, opts)
    grid, scale = _output_grid(job, target, opts)
    layout = generation_layout(models, grid, opts)
    chosen = conditioning_set([f.date for f in files], target.date, opts.frames)
    unused = sorted(f.date for f in files if f.date not in chosen)
    steps = job.steps or DEFAULT_STEPS
    device = select_device(opts.diffusion.device)
    check_tile_budget(
        layout.n_windows,
        job.max_tiles,
        seconds_per_tile=window_seconds(models, layout, steps, opts, device),
        what="latent windows",
    )
    final = prepare_output(Path(job.output.dir) / f"{job.output.name}.tif", overwrite=job.output.overwrite)
    if unused:
        reporter.log(
            f"{len(unused)} date(s) not used ({', '.join(map(str, unused))}): the {opts.frames} "
            f"nearest in time to {target.date} condition it"
        )
    by_date = {f.date: f for f in files}
    t0 = time.perf_counter()
    known, _ = read_known(
        [(by_date[d], "target" if d == target.date else "condition") for d in sorted(set(chosen))],
        layout,
        None,
        reporter,
    )
    pool = {k.file.date: k for k in known}
    frames = [pool[d] for d in chosen]
    t_read = time.perf_counter()
    generator = load_generator(opts.prompt, opts, models, layout, steps, device, reporter)
    t_load = time.perf_counter()
    reporter.log(
        f"{target.date} at {grid.res[0]:g} m (x{scale}), {grid.width} x {grid.height} px, from the frames of "
        f"{', '.join(d.isoformat() for d in chosen)}; {layout.n_windows} window(s), {steps} steps"
    )
    cond = [k.condition() for k in frames]
    result = generator.generate(target.date, cond, job.seed, progress=reporter.progress)
    t_gen = time.perf_counter()
    frame = _frame(job, engine.name, opts, models, generator, result, frames, scale)
    record = _write(job, frame, layout, final, reporter)
    t_end = time.perf_counter()
    cn = models.controlnet.name if models.controlnet else "none"
    summary = (
        f"1 synthetic {grid.width} x {grid.height} px RGB image of {target.date} at {grid.res[0]:g} m "
        f"(x{scale}) from the frames of {', '.join(d.isoformat() for d in chosen)} with DiffusionSat's 3-D "
        f"ControlNet ({cn}), {steps} steps, seed {job.seed}"
    )
    extra = {
        "timings": stage_seconds(t0, read_s=t_read, load_s=t_load, generate_s=t_gen, write_s=t_end),
        "target_date": target.date.isoformat(),
        "conditioning": [_frame_info(k) for k in frames],
        "unused_dates": [d.isoformat() for d in unused],
        "scale": scale,
        "steps": steps,
        "windows": len(result.windows),
        "unet_calls": result.stats.unet_calls,
        "base_model": models.base.name,
    }
    return PipelineOutput([record], engine.name, summary, extra)


def _frame_info(k: KnownFrame) -> dict[str, Any]:
    return {
        "date": k.file.date.isoformat(),
        "source": k.file.path.name,
        "date_source": k.file.source,
        "cloud_fraction": None if k.cloud is None else round(k.cloud, 4),
        "rendering": k.pixels.rendering,
    }


def _frame(
    job: SuperresJob,
    engine: str,
    opts: SRTemporalOptions,
    models: TemporalModels,
    generator: TemporalGenerator,
    result: StepResult,
    frames: list[KnownFrame],
    scale: int,
) -> StackFrame:
    """The generated image with its tags and result-record extras."""
    target = next(k.file for k in frames if k.role == "target")
    comps, layout = generator.comps, generator.layout
    chosen = [k.file.date.isoformat() for k in frames]
    cn = models.controlnet.name if models.controlnet else None
    extra = {
        "date": target.date.isoformat(),
        "kind": "generated",
        "conditioning_dates": chosen,
        "conditioning_sources": [k.file.path.name for k in frames],
        "source": target.path.name,
        "base_model": models.base.name,
        "controlnet": cn,
        "frames": opts.frames,
        "scale": scale,
        "steps": generator.steps,
        "guidance_scale": opts.guidance_scale,
        "controlnet_scale": opts.controlnet_scale,
        "scheduler": "DDIM",
        "prediction_type": comps.prediction_type,
        "gsd_m": layout.grid.res[0],
        "source_gsd_m": layout.grid.res[0] * scale,
        "window_px": layout.window * layout.factor,
        "overlap_px": layout.overlap * layout.factor,
        "dtype": str(comps.dtype).removeprefix("torch."),
        "units": "8-bit RGB as the model draws it (not reflectance)",
    }
    tags = provenance_tags(
        engine=engine,
        model=cn,
        prompt=opts.prompt,
        seed=job.seed,
        metadata=step_metadata(generator, target.date, [k.condition() for k in frames], result.windows),
        task="superres",
        extra=extra,
    )
    info = {
        "scale": scale,
        "source": target.path.name,
        "model": cn,
        "base_model": models.base.name,
        "conditioning": chosen,
        "units": "8-bit RGB",
    }
    return StackFrame(target.date, "generated", result.rgb, None, target.path.name, tags, info)


def _write(
    job: SuperresJob, frame: StackFrame, layout: LatentLayout, final: Path, reporter: Reporter
) -> OutputRecord:
    """``frame`` written at ``final`` on the output grid, warped onto ``output.crs`` when that differs."""
    out = native_output(final, job.output.crs, layout.grid.crs, overwrite=job.output.overwrite)
    reporter.progress(0, 1, "write")
    record = write_frame(frame, layout, out.path, overwrite=out.write_overwrite)
    reporter.progress(1, 1, "write")
    g = out.finish(lambda d, n: reporter.progress(d, n, "reproject"))
    if g is None:
        return record
    return dataclasses.replace(
        record, path=str(final), crs=g.crs, bounds=g.bounds, width=g.width, height=g.height
    )
