"""DiffusionSat's maths written out from the formulas in docs/diffusionsat.md, independently of geogen.models.

Used by the tests as the reference the model classes must reproduce. Plain torch functional calls only.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F

# Config keys DiffusionSat's own classes (diffusers 0.17) write to config.json.
UNET_017_KEYS = [
    *["sample_size", "in_channels", "out_channels", "center_input_sample", "flip_sin_to_cos", "freq_shift"],
    *["down_block_types", "mid_block_type", "up_block_types", "only_cross_attention", "block_out_channels"],
    *[
        "layers_per_block",
        "downsample_padding",
        "mid_block_scale_factor",
        "act_fn",
        "norm_num_groups",
        "norm_eps",
    ],
    *["cross_attention_dim", "attention_head_dim", "dual_cross_attention", "use_linear_projection"],
    *[
        "class_embed_type",
        "num_class_embeds",
        "upcast_attention",
        "resnet_time_scale_shift",
        "time_embedding_type",
    ],
    *[
        "timestep_post_act",
        "time_cond_proj_dim",
        "conv_in_kernel",
        "conv_out_kernel",
        "use_metadata",
        "num_metadata",
    ],
]
_CONTROLNET_017_COMMON = [
    *["in_channels", "flip_sin_to_cos", "freq_shift", "down_block_types", "only_cross_attention"],
    "block_out_channels",
    *[
        "layers_per_block",
        "downsample_padding",
        "mid_block_scale_factor",
        "act_fn",
        "norm_num_groups",
        "norm_eps",
    ],
    *[
        "cross_attention_dim",
        "attention_head_dim",
        "use_linear_projection",
        "class_embed_type",
        "num_class_embeds",
    ],
    *["upcast_attention", "resnet_time_scale_shift", "projection_class_embeddings_input_dim"],
    *["controlnet_conditioning_channel_order", "conditioning_embedding_out_channels"],
    "global_pool_conditions",
    *["conditioning_in_channels", "use_metadata", "num_metadata"],
]
CONTROLNET_017_KEYS = [*_CONTROLNET_017_COMMON, "conditioning_scale"]
CONTROLNET3D_017_KEYS = [*_CONTROLNET_017_COMMON, "use_temporal_transformer"]


def sinusoid(values: torch.Tensor, dim: int) -> torch.Tensor:
    """[cos, sin] of values * 10000^(-k / (dim/2)), k < dim/2 (flip_sin_to_cos, freq_shift=0), float32."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = values.float()[..., None] * freqs
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def field_mlp(state: dict[str, torch.Tensor], prefix: str, x: torch.Tensor) -> torch.Tensor:
    """linear_2(SiLU(linear_1(x))) with the weights stored under ``prefix``."""
    h = F.linear(x, state[f"{prefix}.linear_1.weight"], state[f"{prefix}.linear_1.bias"])
    return F.linear(F.silu(h), state[f"{prefix}.linear_2.weight"], state[f"{prefix}.linear_2.bias"])


def metadata_embedding(state: dict[str, torch.Tensor], metadata: torch.Tensor, dim: int) -> torch.Tensor:
    """Sum over fields i of MLP_i(sinusoid(metadata[:, i])); (N, K) -> (N, D)."""
    return sum(
        field_mlp(state, f"metadata_embedding.{i}", sinusoid(metadata[:, i], dim))
        for i in range(metadata.shape[1])
    )


def conv_embedding_2d(state: dict[str, torch.Tensor], x: torch.Tensor, strides: list[int]) -> torch.Tensor:
    """Apply conv_in, per stage a 3x3 conv and a 3x3 conv of the given stride (SiLU after each), conv_out."""
    p = "controlnet_cond_embedding"
    x = F.silu(F.conv2d(x, state[f"{p}.conv_in.weight"], state[f"{p}.conv_in.bias"], padding=1))
    for j, stride in enumerate(strides):
        for k, s in ((2 * j, 1), (2 * j + 1, stride)):
            x = F.silu(
                F.conv2d(
                    x, state[f"{p}.blocks.{k}.weight"], state[f"{p}.blocks.{k}.bias"], stride=s, padding=1
                )
            )
    return F.conv2d(x, state[f"{p}.conv_out.weight"], state[f"{p}.conv_out.bias"], padding=1)


def conv_embedding_3d(state: dict[str, torch.Tensor], x: torch.Tensor, stages: int) -> torch.Tensor:
    """The 3-D encoder: 3x3x3 convs, (1,3,3) stride-(1,2,2) downsamplers, SiLU after each but conv_out."""
    p = "controlnet_cond_embedding"
    x = F.silu(F.conv3d(x, state[f"{p}.conv_in.weight"], state[f"{p}.conv_in.bias"], padding=1))
    for j in range(stages):
        a, b = 2 * j, 2 * j + 1
        x = F.silu(F.conv3d(x, state[f"{p}.blocks.{a}.weight"], state[f"{p}.blocks.{a}.bias"], padding=1))
        x = F.silu(
            F.conv3d(
                x,
                state[f"{p}.blocks.{b}.weight"],
                state[f"{p}.blocks.{b}.bias"],
                stride=(1, 2, 2),
                padding=(0, 1, 1),
            )
        )
    return F.conv3d(x, state[f"{p}.conv_out.weight"], state[f"{p}.conv_out.bias"], padding=1)


def write_diffusionsat_folder(model: torch.nn.Module, folder: Path, class_name: str, keys: list[str]) -> Path:
    """Save ``model`` the way DiffusionSat's code did: a 0.17-style config.json and a pickle state dict."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {"_class_name": class_name, "_diffusers_version": "0.17.0.dev0"}
    config.update({k: model.config[k] for k in keys})
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    torch.save({k: v.clone() for k, v in model.state_dict().items()}, folder / "diffusion_pytorch_model.bin")
    return folder


def architecture_kwargs(cfg) -> dict:
    """The constructor arguments that fix a ControlNet's architecture, read from a model's config."""
    keys = (
        "block_out_channels",
        "down_block_types",
        "layers_per_block",
        "cross_attention_dim",
        "attention_head_dim",
        "norm_num_groups",
        "conditioning_embedding_out_channels",
    )
    return {k: getattr(cfg, k) for k in keys}
