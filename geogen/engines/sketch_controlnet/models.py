"""The models of a ControlNet sketch job: a base pipeline (Stable Diffusion or DiffusionSat), a land-cover
ControlNet and optional LoRA styles, resolved through the model store and checked to fit each other.

The fit is checked from the configs alone, before any weight is read: the ControlNet's residuals are added to
the UNet's skip connections, so both must agree on text width (cross_attention_dim: 768 SD-1.x, 1024 SD-2.x),
latent channels, block widths and depth; and its condition encoder must shrink the condition image by the
VAE's factor (8 for Stable Diffusion), so a condition pixel lines up with an output pixel.
DiffusionSat's UNet is SD-2.1's plus metadata, so SD-2.x ControlNets (Seg2Sat) fit it; that pairing was never
trained together and is experimental.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from geogen.diffusion.components import DiffusionComponents, load_with_options
from geogen.diffusion.options import DiffusionOptions
from geogen.errors import ModelError
from geogen.models.loading import read_config
from geogen.store import CONTROLNET, DIFFUSIONSAT, SD_PIPELINE, ModelEntry, require_kind, resolve
from geogen.store.kinds import family_of

DEFAULT_CONDITIONING_CHANNELS = (16, 32, 96, 256)  # diffusers' ControlNet default: 8x downsampling


@dataclass
class SketchModels:
    """Loaded parts: the base pipeline's components, the ControlNet, and the LoRAs merged into them."""

    base: ModelEntry
    controlnet_entry: ModelEntry
    comps: DiffusionComponents
    controlnet: torch.nn.Module
    loras: list[dict[str, Any]] = field(default_factory=list)

    @property
    def experimental(self) -> bool:
        """True for a DiffusionSat base (a pairing never trained together)."""
        return self.base.kind == DIFFUSIONSAT

    @property
    def name(self) -> str:
        """``base+controlnet[+lora@strength...]`` for provenance."""
        parts = [self.base.name, self.controlnet_entry.name]
        parts += [f"{r['name']}@{r['strength']:g}" for r in self.loras]
        return "+".join(parts)


def resolve_models(model: str | None, controlnet: str) -> tuple[ModelEntry, ModelEntry]:
    """The base model and the ControlNet a job names, each of the right kind.

    Raises:
        ModelError: no base model named, an unknown name or path, or a model of the wrong kind.
    """
    if not model:
        raise ModelError(
            "the controlnet engine needs a base model: pass --model NAME_OR_PATH (a Stable Diffusion "
            "pipeline folder such as stable-diffusion-2-1-base, or a DiffusionSat model)"
        )
    base = require_kind(resolve(model), (SD_PIPELINE, DIFFUSIONSAT))
    net = require_kind(resolve(controlnet), CONTROLNET)
    return base, net


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, (list, tuple)) and value else value


def _describe(cross: Any) -> str:
    family = family_of(cross)
    return (
        f"{cross} ({'SD-' + family[2:] + '.x' if family in ('sd1', 'sd2') else family or 'unknown family'})"
    )


def check_pair(base: ModelEntry, net: ModelEntry) -> dict[str, Any]:
    """Refuse a ControlNet whose residuals or condition scale do not fit the base model; returns shared facts.

    Raises:
        ModelError: missing configs, or any mismatch (the message names the field and both values).
    """
    if base.pipeline_path is None:
        raise ModelError(
            f"model {base.name!r} has no pipeline folder (model_index.json with its VAE and text "
            "encoder); install the whole pipeline folder"
        )
    unet = read_config(base.weights_path)
    vae = read_config(base.pipeline_path / "vae")
    cn = read_config(net.weights_path)
    cross_u, cross_c = _first(unet.get("cross_attention_dim")), _first(cn.get("cross_attention_dim"))
    if cross_u != cross_c:
        raise ModelError(
            f"ControlNet {net.name!r} attends to text embeddings of width {_describe(cross_c)} but "
            f"model {base.name!r} uses {_describe(cross_u)}; use a ControlNet trained on the same "
            "base (Seg2Sat: stable-diffusion-2-1-base, 1024)"
        )
    for key, default in (("in_channels", 4), ("layers_per_block", 2)):
        if unet.get(key, default) != cn.get(key, default):
            raise ModelError(
                f"ControlNet {net.name!r} has {key} {cn.get(key, default)} but the UNet of "
                f"{base.name!r} has {unet.get(key, default)}: its residuals cannot fit"
            )
    blocks_u, blocks_c = list(unet.get("block_out_channels", ())), list(cn.get("block_out_channels", ()))
    if blocks_u != blocks_c or len(unet.get("down_block_types", ())) != len(cn.get("down_block_types", ())):
        raise ModelError(
            f"ControlNet {net.name!r} has blocks {blocks_c} but the UNet of {base.name!r} has "
            f"{blocks_u}: its residuals cannot fit"
        )
    vae_factor = 2 ** (len(vae.get("block_out_channels", ())) - 1)
    cond_factor = 2 ** (
        len(cn.get("conditioning_embedding_out_channels") or DEFAULT_CONDITIONING_CHANNELS) - 1
    )
    if vae_factor != cond_factor:
        raise ModelError(
            f"ControlNet {net.name!r} shrinks its condition image {cond_factor}x but the VAE of "
            f"{base.name!r} maps one latent pixel to {vae_factor} pixels; they cannot line up"
        )
    channels = cn.get("conditioning_channels", 3)
    if channels != 3:
        raise ModelError(
            f"ControlNet {net.name!r} takes {channels}-channel conditions; land-cover conditions "
            "are RGB palette renderings (3 channels)"
        )
    return {
        "cross_attention_dim": cross_u,
        "vae_factor": vae_factor,
        "channel_order": cn.get("controlnet_conditioning_channel_order", "rgb"),
        "base_family": base.facts.get("base_family") or family_of(cross_u),
    }


def load_sketch_models(
    base: ModelEntry,
    net: ModelEntry,
    *,
    loras: list[Any] | tuple[Any, ...] = (),
    device: str | torch.device | None = None,
    options: DiffusionOptions | None = None,
) -> SketchModels:
    """Check the pair, load the base pipeline and the ControlNet on one device as the job's diffusion
    ``options`` say (dtype, attention slicing, offload, compile), merge the LoRAs.

    Raises:
        ModelError: see :func:`check_pair`, ``load_components``, ``load_controlnet`` and ``apply_loras``.
        EngineError: an unavailable device or unsupported dtype.
    """
    from geogen.diffusion.lora import apply_loras
    from geogen.models.loading import load_controlnet

    opts = options or DiffusionOptions()
    facts = check_pair(base, net)
    comps = load_with_options(base, opts, device)
    controlnet: Any = load_controlnet(  # a diffusers ControlNetModel (checked below)
        net.weights_path, trust_pickle=net.trust_pickle, torch_dtype=comps.dtype
    )
    if controlnet.__class__.__name__ != "ControlNetModel":
        raise ModelError(
            f"{net.name!r} is a {controlnet.__class__.__name__}; the controlnet engine takes a stock "
            "(diffusers) land-cover ControlNet"
        )
    from diffusers.models.attention_processor import AttnProcessor2_0

    controlnet.set_attn_processor(AttnProcessor2_0())
    if opts.attention_slicing:
        controlnet.set_attention_slice("auto")
    controlnet = comps.adopt(controlnet)
    records = apply_loras(
        list(loras),
        {"unet": comps.unet, "text_encoder": comps.text_encoder},
        base_family=facts["base_family"],
    )
    return SketchModels(base, net, comps, controlnet.eval(), records)
