"""The sketch engine ``controlnet``: a land-cover ControlNet (Seg2Sat-style) over a Stable Diffusion or
DiffusionSat base, and its typed options.

Options: the ControlNet (required), guidance, ControlNet weight, scheduler, the memory kept for window class maps,
the condition colours, plus every diffusion engine's options (device, precision, windows, ...). Cheap to import:
the models and the denoiser are imported by the pipeline (``geogen.pipelines.sketch_controlnet``) when a job runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal, get_args

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from geogen.diffusion.options import DiffusionEngineOptions
from geogen.engines.base import ControlNetSketchEngine, EngineOptions
from geogen.engines.registry import register_engine
from geogen.landcover.renderers import RENDERERS
from geogen.store.kinds import CONTROLNET, DIFFUSIONSAT, LORA, SD_PIPELINE

Scheduler = Literal["unipc", "ddim"]
ConditionStyle = Literal["legend", "osm"]
assert set(get_args(ConditionStyle)) == set(RENDERERS), "keep ConditionStyle in step with landcover.RENDERERS"

MISSING_CONTROLNET = (
    "the controlnet engine needs a ControlNet: pass --controlnet NAME_OR_PATH (options.controlnet), e.g. a "
    "Seg2Sat land-cover ControlNet installed with `geogen models add`"
)
_OWN_KEYS = (
    "controlnet",
    "guidance_scale",
    "controlnet_scale",
    "scheduler",
    "condition_cache_mb",
    "condition_style",
)


class ControlNetSketchOptions(DiffusionEngineOptions):
    """The options of the ``controlnet`` sketch engine: its own keys and the diffusion engines' keys."""

    model_config = ConfigDict(
        json_schema_extra={"required": ["controlnet"]}
    )  # merged with the parents' config

    controlnet: str = Field(
        default="",
        validate_default=True,
        description="the land-cover ControlNet: a model-store name or a folder (required)",
    )
    guidance_scale: float = Field(
        default=7.5, ge=0, description="classifier-free guidance (off at 1 or below)"
    )
    controlnet_scale: float = Field(default=1.0, ge=0, description="weight of the ControlNet's residuals")
    scheduler: Scheduler | None = Field(
        default=None,
        description="sampler, any case: unipc or ddim (default UniPC on Stable Diffusion bases, DDIM on DiffusionSat)",
    )
    condition_cache_mb: int = Field(
        default=256,
        ge=0,
        description="memory for keeping the windows' class maps between denoising steps (MiB); beyond it they "
        "are read again each step",
    )
    condition_style: ConditionStyle = Field(
        default="legend",
        description="how class maps are coloured for the ControlNet: legend (the vocabulary's legend colours, "
        "as Seg2Sat was trained) or osm (OpenStreetMap-Carto fills, for OSM-conditioned ControlNets such as "
        "GeoSynth-OSM)",
    )

    @model_validator(mode="before")
    @classmethod
    def _own_null_is_default(cls, data: Any) -> Any:
        """Drop the engine's own keys given as null (they have always meant "the default")."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (v is None and k in _OWN_KEYS)}
        return data

    @field_validator("controlnet", mode="before")
    @classmethod
    def _controlnet_named(cls, value: Any) -> Any:
        if value == "":
            raise PydanticCustomError("missing", MISSING_CONTROLNET)
        if isinstance(value, str):
            if not value.strip():
                raise ValueError(MISSING_CONTROLNET)
            return value.strip()
        return value

    @field_validator("scheduler", mode="before")
    @classmethod
    def _scheduler_any_case(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


@register_engine
class ControlNetSketch(ControlNetSketchEngine):
    """Seg2Sat-style generation over any area: MultiDiffusion over latent windows, each with the prompt of the
    classes under it and its own condition crop.

    ``model`` is the base (a Stable Diffusion pipeline, or DiffusionSat: experimental), ``options.controlnet``
    the land-cover ControlNet and ``loras`` optional styles (``model_kinds`` and ``field_model_kinds``). The pipeline is ``geogen.pipelines.sketch_controlnet``.
    """

    name: ClassVar[str] = "controlnet"
    description: ClassVar[str] = (
        "land-cover ControlNet (Seg2Sat-style palette conditions) on a Stable Diffusion pipeline, with optional "
        "LoRA styles; seamless over any area (MultiDiffusion, per-window prompt and condition). A DiffusionSat "
        "base under it is experimental"
    )
    options_model: ClassVar[type[EngineOptions]] = ControlNetSketchOptions
    model_kinds: ClassVar[tuple[str, ...]] = (SD_PIPELINE, DIFFUSIONSAT)
    field_model_kinds: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "options.controlnet": (CONTROLNET,),
        "loras": (LORA,),
    }
    options: ControlNetSketchOptions
