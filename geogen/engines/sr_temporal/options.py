"""The typed ``options`` of the superres engine "diffusionsat-3d": the 3-D ControlNet's options plus the SR
``scale`` and a ``prompt`` of its own.

The 3-D ControlNet draws the image as the temporal task draws a frame, so every temporal option (frames,
guidance_scale, controlnet_scale, cloud_cover, base_model, controlnet, and the diffusion keys) applies.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from geogen.engines.temporal_controlnet.options import TemporalEngineOptions

DEFAULT_SCALE = 4  # output pixels per 10 m input pixel, as the published Texas model was used
DEFAULT_PROMPT = "a satellite image"


class SRTemporalOptions(TemporalEngineOptions):
    """Options of the engine "diffusionsat-3d" of the superres task."""

    scale: int | None = Field(
        default=None,
        ge=2,
        description=f"output pixels per input pixel along each axis (default {DEFAULT_SCALE}, or from "
        "target_gsd)",
    )
    prompt: str = Field(default=DEFAULT_PROMPT, description="text prompt of every window")

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must be a non-empty string")
        return value
