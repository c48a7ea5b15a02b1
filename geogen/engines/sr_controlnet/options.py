"""The ``options`` of a diffusionsat super-resolution job, checked once (SR keys here, the rest: diffusion).

SR keys (defaults in brackets):
- ``scale`` [4, or from ``target_gsd``]: output pixels per input 10 m pixel along each axis (an integer >= 2).
- ``consistency`` [true = ``consistency.DEFAULT_METHOD``]: false (the model's own 8-bit RGB), true, or one of
  "histogram", "lowpass", "project" (see ``geogen.engines.consistency``).
- ``normalisation`` ["fmow"]: "fmow" uses the per-band mean and standard deviation the released model was
  trained with (fMoW-Sentinel, L1C DN); "scene" computes them on the input scene.
- ``base_model``: the DiffusionSat single-image model the ControlNet was trained on (name or folder); default:
  a DiffusionSat pipeline in the ControlNet's own folder, else the store's ``diffusionsat-512``, else the only
  DiffusionSat model installed.
- ``prompt`` ["a fmow satellite image"], ``guidance_scale`` [1.0, the paper's SR evaluation],
  ``controlnet_scale`` [1.0] (multiplier of the ControlNet residuals), ``cloud_cover`` [unknown].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geogen.engines.consistency import DEFAULT_METHOD, METHODS
from geogen.engines.diffusion.options import DiffusionOptions, number_option, split_options
from geogen.errors import JobSpecError

DEFAULT_SCALE = 4
DEFAULT_PROMPT = "a fmow satellite image"
NORMALISATIONS = ("fmow", "scene")
SR_KEYS = (
    "scale",
    "consistency",
    "normalisation",
    "base_model",
    "prompt",
    "guidance_scale",
    "controlnet_scale",
    "cloud_cover",
)


@dataclass(frozen=True)
class SROptions:
    """Checked SR options; ``consistency`` is a method name or None (off)."""

    scale: int | None
    consistency: str | None
    normalisation: str
    base_model: str | None
    prompt: str
    guidance_scale: float
    controlnet_scale: float
    cloud_cover: float | None
    diffusion: DiffusionOptions


def _consistency(value: Any) -> str | None:
    if value is None or value is True:
        return DEFAULT_METHOD
    if value is False:
        return None
    if isinstance(value, str) and value in METHODS:
        return value
    raise JobSpecError(
        f"options.consistency must be true, false or one of {', '.join(METHODS)}, got {value!r}"
    )


def _text(options: dict[str, Any], key: str, default: str | None) -> str | None:
    value = options.get(key, default)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise JobSpecError(f"options.{key} must be a non-empty string, got {value!r}")
    return value


def parse_sr_options(options: dict[str, Any]) -> SROptions:
    """``options`` split into SR options and diffusion options, every value checked.

    Raises:
        JobSpecError: an unknown key or a value of the wrong type or range (the message names both).
    """
    sr, diffusion = split_options(options, SR_KEYS)
    scale = sr.get("scale")
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, int) or scale < 2):
        raise JobSpecError(f"options.scale must be an integer of at least 2, got {scale!r}")
    normalisation = sr.get("normalisation", "fmow")
    if normalisation not in NORMALISATIONS:
        raise JobSpecError(
            f"options.normalisation must be one of {', '.join(NORMALISATIONS)}, got {normalisation!r}"
        )
    return SROptions(
        scale=scale,
        consistency=_consistency(sr.get("consistency")),
        normalisation=normalisation,
        base_model=_text(sr, "base_model", None),
        prompt=_text(sr, "prompt", DEFAULT_PROMPT) or DEFAULT_PROMPT,
        guidance_scale=number_option(sr, "guidance_scale", 1.0, 0.0, 100.0) or 0.0,
        controlnet_scale=number_option(sr, "controlnet_scale", 1.0, 0.0, 10.0) or 0.0,
        cloud_cover=number_option(sr, "cloud_cover", None, 0.0, 1.0),
        diffusion=diffusion,
    )


def resolve_scale(opts: SROptions, target_gsd: float | None, input_gsd: float) -> int:
    """The integer scale from ``options.scale`` or the job's ``target_gsd`` (within 1 %), default 4.

    Raises:
        JobSpecError: both given and disagreeing, or a target GSD that is not the input's divided by an
        integer >= 2.
    """
    if target_gsd is None:
        return opts.scale or DEFAULT_SCALE
    ratio = input_gsd / target_gsd
    scale = round(ratio)
    if scale < 2 or abs(ratio - scale) > 0.01 * scale:
        raise JobSpecError(
            f"target_gsd {target_gsd:g} m is not the input's {input_gsd:g} m divided by a whole "
            f"number >= 2 (e.g. {input_gsd / 4:g} m for scale 4)"
        )
    if opts.scale is not None and opts.scale != scale:
        raise JobSpecError(
            f"target_gsd {target_gsd:g} m means scale {scale}, but options.scale is {opts.scale}"
        )
    return scale
