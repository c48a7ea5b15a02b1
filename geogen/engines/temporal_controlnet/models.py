"""Which models a temporal job runs: the DiffusionSat single-image model and its 3-D (temporal) ControlNet.

Two ways to name them (the command line uses the first, the QGIS plugin's single model field the second):
- ``model`` = the DiffusionSat model, ``options.controlnet`` = the 3-D ControlNet;
- ``model`` = the 3-D ControlNet; its DiffusionSat base is then ``options.base_model``, else a DiffusionSat
  pipeline in the ControlNet's own folder, else the store's ``diffusionsat-256`` (the published Texas model's
  256 px base), else the only DiffusionSat model installed.
The DiffusionSat model's pipeline folder gives tokenizer, text encoder, VAE, UNet and scheduler, and draws a
first frame when nothing is known; the 3-D ControlNet generates every frame from earlier ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from geogen.diffusion.sat_controlnets import load_sat_controlnet
from geogen.errors import ModelError
from geogen.store import DIFFUSIONSAT, DIFFUSIONSAT_3D, ModelEntry, Store, require_kind, resolve
from geogen.store.base_model import find_base

DEFAULT_BASE = "diffusionsat-256"


@dataclass(frozen=True)
class TemporalModels:
    """The resolved (not yet loaded) models: ``controlnet`` None when no frame needs one."""

    base: ModelEntry
    controlnet: ModelEntry | None


def base_for(controlnet: ModelEntry, name: str | None, store: Store | None = None) -> ModelEntry:
    """The DiffusionSat model under ``controlnet`` (see the module docstring for the search order).

    Raises:
        ModelError: the named base is not a DiffusionSat model, or none (or several) can be found.
    """
    return find_base(
        controlnet,
        name,
        default=DEFAULT_BASE,
        needs=f"the 3-D ControlNet {controlnet.name!r} needs the DiffusionSat model it steers",
        how="pass it with --model (and the ControlNet with --controlnet), or options.base_model, or install "
        f"{DEFAULT_BASE}",
        store=store,
    )


def resolve_models(
    model: str | None, controlnet: str | None, *, need_controlnet: bool, base_model: str | None = None
) -> TemporalModels:
    """The base model and (when ``need_controlnet``) the 3-D ControlNet a job names.

    Raises:
        ModelError: a model is missing, unknown, or of the wrong kind (the message says what to pass).
    """
    problems: list[str] = []  # every missing or wrong model named at once, not one per run
    cn: ModelEntry | None = None
    if controlnet:
        try:
            cn = require_kind(resolve(controlnet), DIFFUSIONSAT_3D)
        except ModelError as exc:
            problems.append(str(exc))
    base: ModelEntry | None = None
    try:
        base = _base(model, base_model, cn)
    except ModelError as exc:
        problems.append(str(exc))
    if base is not None and base.kind == DIFFUSIONSAT_3D:  # --model named the 3-D ControlNet
        cn, base = base, None
        try:
            base = base_for(cn, base_model)
        except ModelError as exc:
            problems.append(str(exc))
    if problems:
        raise ModelError("; ".join(problems))
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


def _base(model: str | None, base_model: str | None, cn: ModelEntry | None) -> ModelEntry | None:
    """The entry --model names (a DiffusionSat model, or its 3-D ControlNet), else --base-model's, else None."""
    if model:
        entry = resolve(model)
        if entry.kind == DIFFUSIONSAT_3D:
            if cn is not None:
                raise ModelError(
                    f"two 3-D ControlNets named: {entry.name!r} (model) and {cn.name!r} (controlnet); "
                    "pass the DiffusionSat model with --model"
                )
            return entry
        return require_kind(entry, DIFFUSIONSAT)
    if base_model:
        return require_kind(resolve(base_model), DIFFUSIONSAT)
    return None


def load_controlnet_3d(entry: ModelEntry, dtype: torch.dtype) -> torch.nn.Module:
    """The 3-D ControlNet, loaded through geogen's checked loader (every weight used).

    Raises:
        ModelError: unreadable folder, mismatched weights, or not DiffusionSat's 3-D ControlNet.
    """
    from geogen.models import SatControlNetModel3D

    return load_sat_controlnet(entry, dtype, SatControlNetModel3D, "3-D ControlNet")
