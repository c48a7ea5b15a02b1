"""A diffusion job's latent layout planned from its models' configs alone.

The configs are read as JSON before any weight is loaded, so a job over its tile budget is refused at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from geogen.diffusion.layout import LatentLayout, latent_layout
from geogen.errors import ModelError
from geogen.models.loading import read_config
from geogen.store import ModelEntry
from tiles import Grid

MAX_WINDOW_PX = 512
"""Largest default window: DiffusionSat's main model is 512 px (its configs' sample_size says 768, wrongly)."""


def window_px(option: int | None, known: Sequence[ModelEntry], base: ModelEntry, factor: int) -> int:
    """The generation window: ``option``, else the first resolution ``known`` models record, else the base
    UNet's ``sample_size`` times ``factor``, at most 512 px."""
    if option:
        return option
    for entry in known:
        if entry.facts.get("resolution"):
            return int(entry.facts["resolution"])
    sample = int(read_config(base.weights_path).get("sample_size") or MAX_WINDOW_PX // factor)
    return min(MAX_WINDOW_PX, sample * factor)


def plan_layout(
    grid: Grid,
    base: ModelEntry,
    *,
    window: int | None,
    overlap: int | None,
    known: Sequence[ModelEntry] = (),
    role: str = "model",
) -> LatentLayout:
    """The latent layout generating ``grid`` with ``base``'s VAE and UNet.

    Args:
        grid: the output grid.
        base: the pipeline whose VAE and UNet configs give the factors.
        window: the window option in pixels (None: see ``window_px``).
        overlap: the overlap option in pixels (None: a quarter window).
        known: models whose recorded resolution sets the window, first match wins (default: ``base``).
        role: how an error message names ``base`` ("model", "the base model").

    Raises:
        ModelError: ``base`` has no pipeline folder, or its configs cannot be read.
        JobSpecError: see ``latent_layout``.
    """
    pipeline = base.pipeline_path
    if pipeline is None:
        raise ModelError(
            f"{role} {base.name!r} has no pipeline folder (model_index.json with its VAE and text "
            "encoder); install the whole DiffusionSat folder"
        )
    factor = 2 ** (len(read_config(pipeline / "vae")["block_out_channels"]) - 1)
    unet_factor = 2 ** (len(read_config(base.weights_path)["block_out_channels"]) - 1)
    return latent_layout(
        grid,
        factor=factor,
        unet_factor=unet_factor,
        window_px=window_px(window, known or (base,), base, factor),
        overlap_px=overlap,
    )
