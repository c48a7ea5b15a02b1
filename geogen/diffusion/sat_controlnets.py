"""DiffusionSat's ControlNets (the SR model's 2-D one, the temporal 3-D one): loading them, and the checks
they share against the UNet they steer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, cast

import torch

from geogen.errors import ModelError
from geogen.store import ModelEntry


def load_sat_controlnet(entry: ModelEntry, dtype: torch.dtype, cls: type[Any], label: str) -> torch.nn.Module:
    """``entry``'s ControlNet through geogen's checked loader (every weight used), refused unless exactly
    ``cls``.

    Args:
        entry: the ControlNet's store entry.
        dtype: the compute dtype.
        cls: the ``geogen.models`` class it must load as.
        label: how the error names the expected model, e.g. "2-D SR ControlNet".

    Raises:
        ModelError: unreadable folder, mismatched weights, or another class.
    """
    from diffusers.models.attention_processor import AttnProcessor2_0

    from geogen.models.loading import load_controlnet

    model: Any = load_controlnet(  # a diffusers ControlNetModel (its class checked below)
        entry.weights_path, trust_pickle=entry.trust_pickle, torch_dtype=dtype
    )
    if type(model) is not cls:
        raise ModelError(f"model {entry.name!r} loads as {type(model).__name__}, not DiffusionSat's {label}")
    model.set_attn_processor(AttnProcessor2_0())
    return model.requires_grad_(False)


def check_same_family(controlnet: torch.nn.Module, unet: torch.nn.Module, what: str, unet_what: str) -> None:
    """Refuse a ControlNet whose widths, blocks or channels differ from ``unet``'s.

    Raises:
        ModelError: the first differing config key, named with both values (``what`` / ``unet_what`` name the
            two models, e.g. "the SR ControlNet 'x'", "its base UNet").
    """
    cn = cast("Mapping[str, Any]", controlnet.config)
    un = cast("Mapping[str, Any]", unet.config)
    for key in ("cross_attention_dim", "block_out_channels", "in_channels", "layers_per_block"):
        a, b = cn.get(key), un.get(key)
        if _listed(a) != _listed(b):
            raise ModelError(
                f"{what} has {key} {a} but {unet_what} has {b}: they are not from the same model family"
            )


def _listed(value: object) -> object:
    """Tuples and lists compare equal by content (configs read from JSON hold lists, built ones tuples)."""
    return list(value) if isinstance(value, (list, tuple)) else value


def condition_downsampling(controlnet: torch.nn.Module) -> int:
    """How many times the ControlNet's condition encoder shrinks its input spatially (its convs' strides)."""
    embedding: Any = controlnet.controlnet_cond_embedding  # a (Sat)ControlNetConditioningEmbedding
    blocks = list(embedding.blocks)
    return math.prod(int(conv.stride[-1]) for conv in blocks[1::2])
