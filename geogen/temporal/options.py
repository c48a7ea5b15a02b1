"""The ``options`` of a temporal job, checked once: temporal keys here, the rest by the diffusion engine.

Temporal keys (defaults in brackets):
- ``controlnet``: DiffusionSat's 3-D (temporal) ControlNet, a name from ``geogen models list`` or a folder
  (needed whenever a frame is generated from earlier frames);
- ``base_model``: the DiffusionSat model under a 3-D ControlNet given as the job's ``model``
  (``geogen.temporal.models``);
- ``frames`` [3]: conditioning frames per generated frame (T of the ControlNet's (B, C, T, H, W) input);
- ``guidance_scale`` [1.0, the paper's evaluation setting; > 1 doubles the work];
- ``controlnet_scale`` [1.0]: multiplier of the ControlNet residuals;
- ``cloud_cover`` [unknown]: the cloud cover written into the generated frames' metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geogen.engines.diffusion.options import DiffusionOptions, number_option, split_options
from geogen.errors import JobSpecError
from geogen.temporal.sequence import DEFAULT_FRAMES

TEMPORAL_KEYS = ("controlnet", "base_model", "frames", "guidance_scale", "controlnet_scale", "cloud_cover")
MAX_FRAMES = 16


@dataclass(frozen=True)
class TemporalOptions:
    """Checked temporal options plus the diffusion engine's."""

    controlnet: str | None
    base_model: str | None
    frames: int
    guidance_scale: float
    controlnet_scale: float
    cloud_cover: float | None
    diffusion: DiffusionOptions


def parse_temporal_options(options: dict[str, Any]) -> TemporalOptions:
    """``options`` split into temporal and diffusion options, every value checked.

    Raises:
        JobSpecError: an unknown key or a value of the wrong type or range (the message names both).
    """
    own, diffusion = split_options(options, TEMPORAL_KEYS)
    frames = own.get("frames", DEFAULT_FRAMES)
    if isinstance(frames, bool) or not isinstance(frames, int) or not 1 <= frames <= MAX_FRAMES:
        raise JobSpecError(f"options.frames must be an integer from 1 to {MAX_FRAMES}, got {frames!r}")
    for key in ("controlnet", "base_model"):
        value = own.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise JobSpecError(f"options.{key} must be a model name or folder, got {value!r}")
    return TemporalOptions(
        controlnet=own.get("controlnet"),
        base_model=own.get("base_model"),
        frames=frames,
        guidance_scale=number_option(own, "guidance_scale", 1.0, 0.0, 100.0) or 0.0,
        controlnet_scale=number_option(own, "controlnet_scale", 1.0, 0.0, 10.0) or 0.0,
        cloud_cover=number_option(own, "cloud_cover", None, 0.0, 1.0),
        diffusion=diffusion,
    )
