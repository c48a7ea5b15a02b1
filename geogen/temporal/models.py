"""Which models a temporal job runs: the DiffusionSat single-image model and its 3-D (temporal) ControlNet.

``job.model`` names the DiffusionSat model (its pipeline folder gives tokenizer, text encoder, VAE, UNet and
scheduler; it also draws a first frame when nothing is known); ``options.controlnet`` names the 3-D ControlNet
that generates every frame from earlier ones. A ``job.model`` that is itself a 3-D ControlNet is accepted as
the ControlNet when its folder also holds the DiffusionSat pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from geogen.errors import ModelError
from geogen.store import DIFFUSIONSAT, DIFFUSIONSAT_3D, ModelEntry, require_kind, resolve
from geogen.store.detect import find_models


@dataclass(frozen=True)
class TemporalModels:
    """The resolved (not yet loaded) models: ``controlnet`` None when no frame needs one."""

    base: ModelEntry
    controlnet: ModelEntry | None


def _base_beside(controlnet: ModelEntry) -> ModelEntry | None:
    if any(d.kind == DIFFUSIONSAT for d in find_models(controlnet.path, trust_pickle=controlnet.trust_pickle)):
        return resolve(Path(controlnet.path), kind=DIFFUSIONSAT, trust_pickle=controlnet.trust_pickle)
    return None


def resolve_models(model: str | None, controlnet: str | None, *, need_controlnet: bool) -> TemporalModels:
    """The base model and (when ``need_controlnet``) the 3-D ControlNet a job names.

    Raises:
        ModelError: a model is missing, unknown, or of the wrong kind (the message says what to pass).
    """
    cn = require_kind(resolve(controlnet), DIFFUSIONSAT_3D) if controlnet else None
    base: ModelEntry | None = None
    if model:
        entry = resolve(model)
        if entry.kind == DIFFUSIONSAT_3D and cn is None:
            cn, base = entry, _base_beside(entry)
            if base is None:
                raise ModelError(
                    f"{entry.name!r} is a 3-D ControlNet; pass the DiffusionSat model it steers with --model "
                    "and the ControlNet with --controlnet"
                )
        else:
            base = require_kind(entry, DIFFUSIONSAT)
    if base is None:
        raise ModelError(
            "temporal generation needs a DiffusionSat model: pass --model NAME_OR_PATH (a DiffusionSat "
            "pipeline folder, or a name from `geogen models list`)"
            + (" and the 3-D ControlNet with --controlnet" if need_controlnet and cn is None else "")
        )
    if need_controlnet and cn is None:
        raise ModelError(
            "generating frames from earlier ones needs DiffusionSat's 3-D (temporal) ControlNet: pass "
            "--controlnet NAME_OR_PATH (job option `controlnet`)"
        )
    return TemporalModels(base, cn if need_controlnet else None)


def load_controlnet_3d(entry: ModelEntry, dtype: torch.dtype) -> torch.nn.Module:
    """The 3-D ControlNet, loaded through geogen's checked loader (every weight used).

    Raises:
        ModelError: unreadable folder, mismatched weights, or not DiffusionSat's 3-D ControlNet.
    """
    from diffusers.models.attention_processor import AttnProcessor2_0

    from geogen.models import SatControlNetModel3D
    from geogen.models.loading import load_controlnet

    model = load_controlnet(entry.weights_path, trust_pickle=entry.trust_pickle, torch_dtype=dtype)
    if not isinstance(model, SatControlNetModel3D):
        raise ModelError(f"model {entry.name!r} loads as {type(model).__name__}, not DiffusionSat's 3-D ControlNet")
    model.set_attn_processor(AttnProcessor2_0())
    return model.requires_grad_(False)
