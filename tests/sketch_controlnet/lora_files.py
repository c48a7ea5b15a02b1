"""LoRA files on disk for the tiny models of ``tests.tiny_models``, random weights.

The kohya and diffusers/PEFT LoRA .safetensors layouts of the published LoRAs; tests load them back only
through geogen's loaders.
"""

from __future__ import annotations

from pathlib import Path

import torch


def _module(model: torch.nn.Module, name: str) -> torch.nn.Module:
    """A module by the name LoRA files use (transformers 5 dropped CLIPTextModel's ``text_model.`` level)."""
    modules = dict(model.named_modules())
    return modules[name] if name in modules else modules[name.removeprefix("text_model.")]


# Layers the test LoRAs touch: a cross-attention projection (linear), a 3x3 convolution, a text-encoder
# projection (named as in real LoRA files, with transformers 4's ``text_model.`` level).
UNET_LINEAR = "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k"
UNET_CONV = "down_blocks.0.resnets.0.conv1"
TE_LINEAR = "text_model.encoder.layers.0.self_attn.q_proj"


def lora_tensors(
    unet: torch.nn.Module, text_encoder: torch.nn.Module, *, rank: int = 4, seed: int = 20
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Random (down, up) pairs for the three test layers, keyed by "<part>:<module>"."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for part, model, name in (
        ("unet", unet, UNET_LINEAR),
        ("unet", unet, UNET_CONV),
        ("text_encoder", text_encoder, TE_LINEAR),
    ):
        weight = _module(model, name).weight
        down_shape = (rank, *weight.shape[1:])
        up_shape = (weight.shape[0], rank) + ((1, 1) if weight.ndim == 4 else ())
        out[f"{part}:{name}"] = (
            torch.randn(down_shape, generator=gen) * 0.5,
            torch.randn(up_shape, generator=gen) * 0.5,
        )
    return out


def write_kohya_lora(path: Path, pairs: dict[str, tuple[torch.Tensor, torch.Tensor]], alpha: float) -> Path:
    """kohya/A1111 layout: lora_unet_/lora_te_ + module path with underscores, lora_down/lora_up, alpha."""
    from safetensors.torch import save_file

    tensors = {}
    for key, (down, up) in pairs.items():
        part, name = key.split(":")
        prefix = "lora_unet_" if part == "unet" else "lora_te_"
        flat = prefix + name.replace(".", "_")
        tensors[f"{flat}.lora_down.weight"] = down.contiguous()
        tensors[f"{flat}.lora_up.weight"] = up.contiguous()
        tensors[f"{flat}.alpha"] = torch.tensor(float(alpha))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"ss_network_module": "networks.lora"})
    return path


def write_peft_lora(path: Path, pairs: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> Path:
    """diffusers/PEFT layout: unet.<module>.lora_A.weight / lora_B.weight (text_encoder.<module>...)."""
    from safetensors.torch import save_file

    tensors = {}
    for key, (down, up) in pairs.items():
        part, name = key.split(":")
        tensors[f"{part}.{name}.lora_A.weight"] = down.contiguous()
        tensors[f"{part}.{name}.lora_B.weight"] = up.contiguous()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path))
    return path
