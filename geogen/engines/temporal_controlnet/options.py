"""The ``options`` of DiffusionSat's 3-D ControlNet engine: its own keys plus every diffusion engine's.

Shared by the temporal engine and the multi-date super-resolution engine (``geogen.engines.sr_temporal``),
which draw frames the same way.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from geogen.diffusion.options import DiffusionEngineOptions
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
    guidance_scale: float = Field(
        default=1.0, ge=0.0, le=100.0, description="classifier-free guidance; above 1 doubles the work"
    )
    controlnet_scale: float = Field(
        default=1.0, ge=0.0, le=10.0, description="multiplier of the ControlNet residuals"
    )
    cloud_cover: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="cloud cover written into the generated frames' metadata (default: unknown)",
    )

    @field_validator("controlnet", "base_model")
    @classmethod
    def _model_name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must be a model name or folder")
        return value
