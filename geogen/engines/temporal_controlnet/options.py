"""The ``options`` of DiffusionSat's 3-D ControlNet engine: its own keys plus every diffusion engine's.

Shared by the temporal engine and the multi-date super-resolution engine (``geogen.engines.sr_temporal``),
which draw frames the same way.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from geogen.diffusion.options import CloudCover, ControlNetScale, DiffusionEngineOptions, GuidanceScale
from geogen.timeseries.sequence import DEFAULT_FRAMES

MAX_FRAMES = 16


class TemporalEngineOptions(DiffusionEngineOptions):
    """Options of a job drawing frames with the 3-D ControlNet (defaults: the paper's evaluation settings)."""

    controlnet: str | None = Field(
        default=None,
        description="DiffusionSat's 3-D (temporal) ControlNet, a name from `geogen models list` or a folder "
        "(needed whenever a frame is generated from earlier frames)",
    )
    base_model: str | None = Field(
        default=None,
        description="the DiffusionSat model under a 3-D ControlNet given as the job's model",
    )
    frames: int = Field(
        default=DEFAULT_FRAMES,
        ge=1,
        le=MAX_FRAMES,
        description="conditioning frames per generated frame (T of the ControlNet's (B, C, T, H, W) input)",
    )
    guidance_scale: GuidanceScale = 1.0
    controlnet_scale: ControlNetScale = 1.0
    cloud_cover: CloudCover = Field(
        default=None, description="cloud cover written into the generated frames' metadata (default: unknown)"
    )

    @field_validator("controlnet", "base_model")
    @classmethod
    def _model_name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must be a model name or folder")
        return value
