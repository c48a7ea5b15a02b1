"""The ``options`` a job gives a diffusion engine (device, precision, window sizes, batching, compiling),
checked.

Sizes are in output pixels; they become latent sizes by dividing by the VAE factor. ``DiffusionEngineOptions``
is the pydantic model every diffusion engine's options model derives from (adding its own keys, flat);
``DiffusionOptions`` is the plain frozen record the diffusion core reads.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, model_validator

from geogen.options import EngineOptions
from tiles import WEIGHT_KINDS


@dataclass(frozen=True)
class DiffusionOptions:
    """Engine options with their defaults (None: decided from the model and the device).

    Attributes:
        device: "auto", "cpu", "cuda", "cuda:N" or "mps".
        dtype: "auto" (fp16 on GPUs, fp32 on CPU), "fp32", "fp16" or "bf16".
        window_batch_size: latent windows per UNet call (default 4 on a GPU, 1 on the CPU).
        window: generation window side in pixels (default: the model's native resolution).
        overlap: overlap of neighbouring windows in pixels (default: a quarter of the window).
        decode_tile: VAE decode tile side in pixels (default: the window).
        weight_kind: blending ramp over overlaps: "cosine", "linear" or "constant".
        attention_slicing: slice attention (less memory, slower).
        cpu_offload: keep model parts in CPU memory, moving each to the device only while it runs.
        compile: compile the UNet (and the ControlNet, where the engine has one) with ``torch.compile`` in
            mode "max-autotune-no-cudagraphs" (``geogen.diffusion.compiling``). Pays on GPUs for long
            runs (many steps or windows); costs a warm-up of a minute or more on the first calls, so off by
            default.
    """

    device: str = "auto"
    dtype: str = "auto"
    window_batch_size: int | None = None
    window: int | None = None
    overlap: int | None = None
    decode_tile: int | None = None
    weight_kind: str = "cosine"
    attention_slicing: bool = False
    cpu_offload: bool = False
    compile: bool = False


WeightKindName = Literal["cosine", "linear", "constant"]
assert set(get_args(WeightKindName)) == set(WEIGHT_KINDS), (
    "keep WeightKindName in step with tiles.WEIGHT_KINDS"
)


GuidanceScale = Annotated[
    float, Field(ge=0.0, le=100.0, description="classifier-free guidance; above 1 doubles the work")
]
"""The classifier-free guidance option of DiffusionSat's ControlNet engines (give the default beside it)."""

ControlNetScale = Annotated[
    float, Field(ge=0.0, le=10.0, description="multiplier of the ControlNet residuals")
]
"""The ControlNet residual multiplier option of DiffusionSat's ControlNet engines (give the default beside it)."""

CloudCover = Annotated[float | None, Field(ge=0.0, le=1.0)]
"""The cloud fraction an engine writes into DiffusionSat's metadata (give the default and description beside it)."""


class DiffusionEngineOptions(EngineOptions):
    """The options every diffusion engine has (see ``DiffusionOptions`` for their meaning); engines with keys
    of their own subclass it. A key given as null takes its default, as it always has."""

    device: str = Field(
        default="auto",
        pattern=r"^(auto|cpu|mps|cuda(:[0-9]+)?)$",
        description='torch device: "auto", "cpu", "cuda", "cuda:N" or "mps"',
    )
    dtype: Literal["auto", "fp32", "fp16", "bf16"] = Field(
        default="auto", description='precision: "auto" (fp16 on GPUs, fp32 on CPU), "fp32", "fp16" or "bf16"'
    )
    window_batch_size: int | None = Field(
        default=None, ge=1, description="latent windows per UNet call (default 4 on a GPU, 1 on the CPU)"
    )
    window: int | None = Field(
        default=None,
        ge=1,
        description="generation window side in pixels (default: the model's native resolution)",
    )
    overlap: int | None = Field(
        default=None,
        ge=0,
        description="overlap of neighbouring windows in pixels (default: a quarter of the window)",
    )
    decode_tile: int | None = Field(
        default=None, ge=1, description="VAE decode tile side in pixels (default: the window)"
    )
    weight_kind: WeightKindName = Field(default="cosine", description="blending ramp over window overlaps")
    attention_slicing: bool = Field(default=False, description="slice attention (less memory, slower)")
    cpu_offload: bool = Field(
        default=False,
        description="keep model parts in CPU memory, moving each to the device only while it runs",
    )
    compile: bool = Field(
        default=False,
        description="compile the UNet (and ControlNet) with torch.compile: faster long GPU runs after a "
        "warm-up of a minute or more",
    )

    @model_validator(mode="before")
    @classmethod
    def _null_is_default(cls, data: Any) -> Any:
        """Drop the diffusion keys given as null (JSON ``null`` has always meant "the default" for them)."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (v is None and k in _DIFFUSION_KEYS)}
        return data

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        """The schema says what validation accepts: a diffusion key may be null (its default)."""
        schema: dict[str, Any] = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        for key, prop in target.get("properties", {}).items():
            if key in _DIFFUSION_KEYS and not any(alt.get("type") == "null" for alt in prop.get("anyOf", [])):
                keep = {k: prop.pop(k) for k in ("default", "description", "title") if k in prop}
                target["properties"][key] = {"anyOf": [prop, {"type": "null"}], **keep}
        return schema

    @property
    def diffusion(self) -> DiffusionOptions:
        """The diffusion core's view of these options (the engine's own keys left out)."""
        return DiffusionOptions(**{k: getattr(self, k) for k in _DIFFUSION_KEYS})


_DIFFUSION_KEYS = frozenset(f.name for f in fields(DiffusionOptions))
