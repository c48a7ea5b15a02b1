"""The typed ``options`` of the superres engine "diffusionsat-sr": its own keys plus every diffusion engine's.

Own keys (defaults in brackets):
- ``scale`` [4, or from ``target_gsd``]: output pixels per input 10 m pixel along each axis (an integer >= 2).
- ``consistency`` [true = ``consistency.DEFAULT_METHOD``]: false (the model's own 8-bit RGB), true, or one of
  "histogram", "lowpass", "project" (see ``geogen.sensors.consistency``); null means the default.
- ``normalisation`` ["fmow"]: "fmow" uses the per-band mean and standard deviation the released model was
  trained with (fMoW-Sentinel, L1C DN); "scene" computes them on the input scene.
- ``base_model``: the DiffusionSat single-image model the ControlNet was trained on (name or folder); default:
  a DiffusionSat pipeline in the ControlNet's own folder, else the store's ``diffusionsat-512``, else the only
  DiffusionSat model installed.
- ``prompt`` ["a fmow satellite image"], ``guidance_scale`` [1.0, the paper's SR evaluation],
  ``controlnet_scale`` [1.0] (multiplier of the ControlNet residuals), ``cloud_cover`` [unknown].
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import Field, field_validator

from geogen.diffusion.options import CloudCover, ControlNetScale, DiffusionEngineOptions, GuidanceScale
from geogen.errors import JobSpecError
from geogen.sensors.consistency import DEFAULT_METHOD, METHODS

DEFAULT_SCALE = 4
DEFAULT_PROMPT = "a fmow satellite image"
ConsistencyMethod = Literal["histogram", "lowpass", "project"]
assert set(get_args(ConsistencyMethod)) == set(METHODS), "keep ConsistencyMethod in step with METHODS"


class SROptions(DiffusionEngineOptions):
    """Options of the engine "diffusionsat-sr" (see the module docstring); ``consistency_method`` is the
    consistency step to run (None: off)."""

    scale: int | None = Field(
        default=None,
        ge=2,
        description=f"output pixels per input 10 m pixel along each axis (default {DEFAULT_SCALE}, or from "
        "target_gsd)",
    )
    consistency: bool | ConsistencyMethod | None = Field(
        default=True,
        description=f"consistency step making the output degrade back to the input: false (the model's 8-bit "
        f"RGB), true (= {DEFAULT_METHOD!r}) or a method; null means the default",
    )
    normalisation: Literal["fmow", "scene"] = Field(
        default="fmow",
        description='condition normalisation: "fmow" (the released model\'s training statistics) or '
        '"scene" (computed on the input)',
    )
    base_model: str | None = Field(
        default=None,
        description="the DiffusionSat model under the SR ControlNet, a name or folder (default: beside the "
        "ControlNet, else the store's diffusionsat-512, else the only DiffusionSat model installed)",
    )
    prompt: str = Field(default=DEFAULT_PROMPT, description="text prompt of every window")
    guidance_scale: GuidanceScale = 1.0
    controlnet_scale: ControlNetScale = 1.0
    cloud_cover: CloudCover = Field(
        default=None, description="cloud cover written into each window's metadata (default: unknown)"
    )

    @field_validator("consistency", mode="before")
    @classmethod
    def _consistency(cls, value: Any) -> Any:
        """One clear message for anything but a boolean, null or a method name."""
        if value is None or isinstance(value, bool) or value in METHODS:
            return value
        raise ValueError(f"must be true, false or one of {', '.join(METHODS)}")

    @field_validator("base_model", "prompt")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must be a non-empty string")
        return value

    @property
    def consistency_method(self) -> str | None:
        """The consistency method to run, or None when the step is off."""
        if self.consistency is None or self.consistency is True:
            return DEFAULT_METHOD
        return self.consistency or None


def resolve_scale(scale: int | None, target_gsd: float | None, input_gsd: float) -> int:
    """The integer scale from ``options.scale`` or the job's ``target_gsd`` (within 1 %), default 4.

    Raises:
        JobSpecError: both given and disagreeing, or a target GSD that is not the input's divided by an
        integer >= 2.
    """
    if target_gsd is None:
        return scale or DEFAULT_SCALE
    ratio = input_gsd / target_gsd
    derived = round(ratio)
    if derived < 2 or abs(ratio - derived) > 0.01 * derived:
        raise JobSpecError(
            f"target_gsd {target_gsd:g} m is not the input's {input_gsd:g} m divided by a whole "
            f"number >= 2 (e.g. {input_gsd / 4:g} m for scale 4)"
        )
    if scale is not None and scale != derived:
        raise JobSpecError(f"target_gsd {target_gsd:g} m means scale {derived}, but options.scale is {scale}")
    return derived
