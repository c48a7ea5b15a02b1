"""Tiny Stable Diffusion pipeline, land-cover ControlNets and LoRA files on disk, random weights.

Same layouts as the published models (SD-2.1-base pipeline folder, diffusers ControlNet folder, kohya and
diffusers/PEFT LoRA .safetensors); tests load them back only through geogen's store and loaders. The UNet
shape is the one of ``tests.diffusion.tiny_pipeline`` (so the tiny DiffusionSat takes the same ControlNet);
the ControlNet's condition encoder downsamples 2x, like the tiny VAE.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tests.diffusion.tiny_pipeline import MAX_TOKENS, TINY_UNET, TINY_VAE, randomize_, write_tokenizer

# SD-2.1-base's scheduler config: PNDM, epsilon prediction, scaled-linear betas.
SD_SCHEDULER = dict(
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    num_train_timesteps=1000,
    prediction_type="epsilon",
    set_alpha_to_one=False,
    skip_prk_steps=True,
    steps_offset=1,
)
CONDITIONING_CHANNELS = (16, 32)  # 2x, like the tiny VAE (the default (16, 32, 96, 256) is 8x)


def tiny_unet(seed: int, cross_attention_dim: int = 32):
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    return randomize_(UNet2DConditionModel(**{**TINY_UNET, "cross_attention_dim": cross_attention_dim}), seed)


def build_tiny_sd(root: Path, *, seed: int = 0, cross_attention_dim: int = 32) -> Path:
    """A tiny Stable Diffusion pipeline folder (model_index.json, tokenizer, CLIP, UNet, VAE x2, PNDM)."""
    from diffusers import AutoencoderKL, PNDMScheduler
    from transformers import CLIPTextConfig, CLIPTextModel

    root.mkdir(parents=True, exist_ok=True)
    write_tokenizer(root / "tokenizer")
    vocab_size = len(json.loads((root / "tokenizer" / "vocab.json").read_text(encoding="utf-8")))
    torch.manual_seed(seed)
    text_config = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=cross_attention_dim,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=MAX_TOKENS,
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
        projection_dim=32,
    )
    CLIPTextModel(text_config).eval().save_pretrained(root / "text_encoder")
    tiny_unet(seed + 1, cross_attention_dim).save_pretrained(root / "unet")
    torch.manual_seed(seed + 2)
    AutoencoderKL(**TINY_VAE).save_pretrained(root / "vae")
    PNDMScheduler(**SD_SCHEDULER).save_pretrained(root / "scheduler")
    index = {
        "_class_name": "StableDiffusionPipeline",
        "_diffusers_version": "0.42.0",
        "feature_extractor": [None, None],
        "safety_checker": [None, None],
        "scheduler": ["diffusers", "PNDMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
        "requires_safety_checker": False,
    }
    (root / "model_index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")
    return root


def build_tiny_controlnet(
    root: Path,
    *,
    seed: int = 10,
    cross_attention_dim: int = 32,
    conditioning_channels: tuple[int, ...] = CONDITIONING_CHANNELS,
) -> Path:
    """A ControlNet folder copied from a tiny UNet, every weight random (fresh zero convs would output 0)."""
    from diffusers import ControlNetModel

    net = ControlNetModel.from_unet(
        tiny_unet(seed, cross_attention_dim), conditioning_embedding_out_channels=conditioning_channels
    )
    randomize_(net, seed + 1, std=0.1).save_pretrained(root)
    return root


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
