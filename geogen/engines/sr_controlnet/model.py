"""Which models an SR job runs: the SR ControlNet, the DiffusionSat model under it, and their compatibility.

The released SR ControlNet (Zenodo 13756246) is a ControlNet folder only; it steers a frozen DiffusionSat
single-image model, whose pipeline folder supplies the tokenizer, text encoder, VAE, UNet and scheduler.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import torch

from geogen.diffusion.sat_controlnets import (
    check_same_family,
    condition_downsampling,
    load_sat_controlnet,
)
from geogen.errors import ModelError
from geogen.store import DIFFUSIONSAT_SR, ModelEntry, Store, require_kind, resolve
from geogen.store.base_model import find_base

DEFAULT_BASE = "diffusionsat-512"
"""The base the catalogue names for ``diffusionsat-sr``."""
CONDITION_CHANNELS = 10


def sr_model(name: str | None) -> ModelEntry:
    """The SR ControlNet the job names.

    Raises:
        ModelError: no model named, unknown, or not a DiffusionSat SR ControlNet.
    """
    if not name:
        raise ModelError(
            "the diffusionsat-sr engine needs a model: pass --model NAME_OR_PATH (the "
            "DiffusionSat SR ControlNet folder, or its name in `geogen models list`, e.g. "
            "diffusionsat-sr)"
        )
    return require_kind(resolve(name), DIFFUSIONSAT_SR)


def base_model(entry: ModelEntry, name: str | None, store: Store | None = None) -> ModelEntry:
    """The DiffusionSat single-image model under ``entry`` (see ``options.base_model`` for the search order).

    Raises:
        ModelError: the named base is not a DiffusionSat model, or none can be found, or the choice is
        ambiguous.
    """
    return find_base(
        entry,
        name,
        default=DEFAULT_BASE,
        needs=f"the SR ControlNet {entry.name!r} needs its DiffusionSat base model",
        how=f"pass options.base_model (a name or a DiffusionSat pipeline folder), or install {DEFAULT_BASE}",
        store=store,
    )


def load_sr_controlnet(entry: ModelEntry, dtype: torch.dtype) -> torch.nn.Module:
    """The SR ControlNet, loaded through geogen's checked loader (every weight used).

    Raises:
        ModelError: unreadable folder, mismatched weights, or not a 2-D DiffusionSat ControlNet.
    """
    from geogen.models import SatControlNetModel

    return load_sat_controlnet(entry, dtype, SatControlNetModel, "2-D SR ControlNet")


def check_pair(name: str, controlnet: torch.nn.Module, unet: torch.nn.Module, vae_factor: int) -> int:
    """Refuse a ControlNet that cannot steer ``unet``; returns the condition scale (target / condition size).

    Raises:
        ModelError: different widths or blocks, no 10-channel condition, no metadata, or a condition encoder
            that does not land on the VAE's latent grid.
    """
    check_same_family(controlnet, unet, f"the SR ControlNet {name!r}", "its base UNet")
    cn = cast("Mapping[str, Any]", controlnet.config)
    if int(cn.get("conditioning_in_channels", 0)) != CONDITION_CHANNELS:
        raise ModelError(
            f"the SR ControlNet {name!r} reads {cn.get('conditioning_in_channels')} condition channels; "
            f"the Sentinel-2 preparation gives {CONDITION_CHANNELS}"
        )
    if controlnet.metadata_embedding is None or getattr(unet, "metadata_embedding", None) is None:
        raise ModelError(f"the SR ControlNet {name!r} and its base must both read DiffusionSat metadata")
    cond_scale = int(cn.get("conditioning_scale", 1))
    down = condition_downsampling(controlnet)
    if cond_scale * down != vae_factor:
        raise ModelError(
            f"the SR ControlNet {name!r} takes its condition at 1/{cond_scale} of the target and shrinks "
            f"it {down} times, so it needs a VAE of factor {cond_scale * down}; the base model's VAE "
            f"has factor {vae_factor}"
        )
    return cond_scale


def model_label(entry: ModelEntry) -> str:
    """A short name for tags and logs: the store name, or the folder name."""
    return entry.name or Path(entry.path).name
