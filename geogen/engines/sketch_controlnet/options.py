"""The ``options`` of a ControlNet sketch job: its own keys, checked here, and the diffusion engine's keys.

Own keys: ``controlnet`` (store name or folder, required), ``guidance_scale`` (default 7.5),
``controlnet_scale`` (weight of the ControlNet residuals, default 1.0), ``scheduler`` ("unipc" or "ddim";
default UniPC for Stable Diffusion bases, DDIM for DiffusionSat), ``condition_cache_mb`` (memory for keeping
the windows' class maps between denoising steps, default 256; beyond it they are read again each step),
``condition_style`` (how class maps are coloured for the ControlNet: "legend", the vocabulary's legend colours as
Seg2Sat was trained, default; or "osm", OpenStreetMap-Carto fills for OSM-conditioned ControlNets such as
GeoSynth-OSM; see geogen.landcover.renderers).
Every other key goes to ``geogen.engines.diffusion.options.parse_options`` (device, dtype, window, ...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from geogen.engines.diffusion.options import DiffusionOptions, parse_options
from geogen.errors import JobSpecError
from geogen.landcover.renderers import RENDERERS

SCHEDULERS = ("unipc", "ddim")


@dataclass(frozen=True)
class ControlNetOptions:
    """The ControlNet engine's own options (see the module docstring)."""

    controlnet: str
    guidance_scale: float = 7.5
    controlnet_scale: float = 1.0
    scheduler: str | None = None
    condition_cache_mb: int = 256
    condition_style: str = "legend"


def _number(options: dict[str, Any], key: str, default: float, minimum: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise JobSpecError(f"options.{key} must be a number, got {value!r}")
    if value < minimum:
        raise JobSpecError(f"options.{key} must be >= {minimum:g}, got {value!r}")
    return float(value)


def parse_controlnet_options(options: dict[str, Any]) -> tuple[ControlNetOptions, DiffusionOptions]:
    """Split and check a job's ``options`` for the ControlNet engine.

    Raises:
        JobSpecError: no ``controlnet``, an unknown key, or a value of the wrong type or range.
    """
    own = {k: v for k, v in options.items() if k in ControlNetOptions.__dataclass_fields__ and v is not None}
    rest = {k: v for k, v in options.items() if k not in ControlNetOptions.__dataclass_fields__}
    controlnet = own.get("controlnet")
    if not isinstance(controlnet, str) or not controlnet.strip():
        raise JobSpecError(
            "the controlnet engine needs a ControlNet: pass --controlnet NAME_OR_PATH "
            "(options.controlnet), e.g. a Seg2Sat land-cover ControlNet installed with "
            "`geogen models add`"
        )
    scheduler = own.get("scheduler")
    if scheduler is not None and (not isinstance(scheduler, str) or scheduler.lower() not in SCHEDULERS):
        raise JobSpecError(f"options.scheduler must be one of {', '.join(SCHEDULERS)}, got {scheduler!r}")
    cache = own.get("condition_cache_mb", 256)
    if isinstance(cache, bool) or not isinstance(cache, int) or cache < 0:
        raise JobSpecError(f"options.condition_cache_mb must be an integer >= 0, got {cache!r}")
    style = own.get("condition_style", "legend")
    if style not in RENDERERS:
        raise JobSpecError(f"options.condition_style must be one of {', '.join(RENDERERS)}, got {style!r}")
    mine = ControlNetOptions(
        controlnet=controlnet.strip(),
        guidance_scale=_number(own, "guidance_scale", 7.5, 0.0),
        controlnet_scale=_number(own, "controlnet_scale", 1.0, 0.0),
        scheduler=scheduler.lower() if scheduler else None,
        condition_cache_mb=cache,
        condition_style=style,
    )
    return mine, parse_options(rest)
