"""Resolved temporal models made into a ready ``TemporalGenerator``: layout, cost, loading, records.

Shared by every job that draws frames with DiffusionSat's 3-D ControlNet: the temporal sequence
(``geogen.pipelines.temporal``) and multi-date super-resolution (``geogen.pipelines.superres_temporal``).
- ``generation_layout``: the latent canvas and windows for a grid, from the base model's configs alone;
- ``window_seconds``: the rough time one latent window takes, for the area budget;
- ``load_generator``: the checked components, 3-D ControlNet and prompt embeddings as a ``TemporalGenerator``;
- ``step_metadata``: what a generated frame records of the metadata it was drawn with.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import torch

from geogen.diffusion.components import load_for_layout
from geogen.diffusion.cost import count_parameters, seconds_per_window
from geogen.diffusion.latent_tiling import LatentWindow, TextConditioning
from geogen.diffusion.layout import LatentLayout
from geogen.diffusion.planning import plan_layout
from geogen.engines.temporal_controlnet.generator import ConditionFrame, TemporalGenerator, check_pair
from geogen.engines.temporal_controlnet.models import TemporalModels, load_controlnet_3d
from geogen.engines.temporal_controlnet.options import TemporalEngineOptions
from geogen.io.tags import window_metadata
from geogen.metadata import Metadata
from geogen.progress import Reporter
from tiles import Grid


def generation_layout(models: TemporalModels, grid: Grid, opts: TemporalEngineOptions) -> LatentLayout:
    """The latent layout for generating ``grid`` (before any weight is loaded); the window: the option, else
    the resolution the ControlNet or the base records, else the base UNet's sample size.

    Raises:
        ModelError: the base model has no pipeline folder (VAE, text encoder).
        JobSpecError: a window or overlap option that does not fit the model.
    """
    return plan_layout(
        grid,
        models.base,
        window=opts.diffusion.window,
        overlap=opts.diffusion.overlap,
        known=[e for e in (models.controlnet, models.base) if e is not None],
    )


def window_seconds(
    models: TemporalModels,
    layout: LatentLayout,
    steps: int,
    opts: TemporalEngineOptions,
    device: torch.device,
) -> float:
    """Rough seconds to denoise one latent window of ``layout`` with the base model and its ControlNet."""
    params = count_parameters(models.base.weights_path) + (
        count_parameters(models.controlnet.weights_path) if models.controlnet else 0
    )
    return seconds_per_window(params, layout.window, steps, opts.guidance_scale > 1, device.type)


def load_generator(
    prompt: str,
    opts: TemporalEngineOptions,
    models: TemporalModels,
    layout: LatentLayout,
    steps: int,
    device: torch.device,
    reporter: Reporter,
) -> TemporalGenerator:
    """The loaded models (checked against each other and the layout) and the prompt's embeddings.

    Raises:
        ModelError: a VAE, metadata or ControlNet that does not fit the base model or the layout.
    """
    reporter.progress(0, 1, "load model")
    d = opts.diffusion
    comps = load_for_layout(models.base, d, device, layout.factor)
    controlnet = None
    if models.controlnet is not None:
        controlnet = comps.adopt(load_controlnet_3d(models.controlnet, comps.dtype))
        check_pair(models.controlnet.name, controlnet, comps)
    overflow = comps.prompt_overflow(prompt)
    if overflow:
        reporter.log(
            f"the prompt is {overflow} token(s) longer than the text encoder reads; the end is ignored",
            "warning",
        )
    guided = opts.guidance_scale > 1
    with torch.no_grad():
        text = TextConditioning(
            comps.encode_prompts([prompt]), comps.encode_prompts([""]) if guided else None
        )
    reporter.progress(1, 1, "load model")
    return TemporalGenerator(
        comps,
        controlnet,
        layout,
        text,
        steps=steps,
        guidance_scale=opts.guidance_scale,
        controlnet_scale=opts.controlnet_scale,
        cloud_cover=opts.cloud_cover,
        window_batch_size=d.window_batch_size or (1 if comps.device.type == "cpu" else 4),
        weight_kind=d.weight_kind,
        decode_tile=(d.decode_tile // layout.factor) if d.decode_tile else None,
    )


def step_metadata(
    generator: TemporalGenerator,
    target: dt.date,
    cond: Sequence[ConditionFrame],
    windows: Sequence[LatentWindow],
) -> dict[str, Any]:
    """The metadata a generated frame records: the target's (centre and per window) and each frame's.

    Each conditioning entry gives the frame's date, cloud cover, the GSD it was fed to the ControlNet at (the
    canvas's) and its normalised vector at the output's centre, in the order the ControlNet received them.
    """
    grid = generator.layout.grid
    centre = Metadata.from_grid(grid, target, generator.cloud_cover).normalize()
    per_window = {w.tile.index: w.metadata for w in windows if w.metadata is not None}
    metadata = window_metadata(centre, per_window, guided=generator.guidance_scale > 1)
    metadata["conditioning"] = []
    for c in cond:
        md = Metadata.from_grid(grid, c.date, c.cloud_cover)
        assert md.gsd_m is not None  # invariant: from_grid always measures the grid's GSD
        metadata["conditioning"].append(
            {
                "date": c.date.isoformat(),
                "cloud_cover": c.cloud_cover,
                "gsd_m": round(float(md.gsd_m), 4),
                "centre": [round(float(v), 3) for v in md.normalize()],
            }
        )
    return metadata
