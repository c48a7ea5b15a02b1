"""A tiny DiffusionSat pipeline folder on disk, built from random weights and saved with ``save_pretrained``.

Same layout as the published checkpoints (model_index.json + tokenizer/, text_encoder/, vae/, unet/,
scheduler/), with a SatUNet of about a million parameters, a 2x VAE and a 2-layer CLIP text encoder. Tests
load it back only through geogen's own loading code (the model store and
``geogen.engines.diffusion.components``).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

TINY_UNET = {
    "sample_size": 16,
    "block_out_channels": (32, 64),
    "layers_per_block": 1,
    "cross_attention_dim": 32,
    "attention_head_dim": 8,
    "norm_num_groups": 8,
    "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D"),
}
TINY_VAE = {
    "block_out_channels": (32, 64),
    "down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"),
    "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D"),
    "latent_channels": 4,
    "norm_num_groups": 8,
    "layers_per_block": 1,
    "sample_size": 32,
}
MAX_TOKENS = 77
# DiffusionSat's (SD-2.1's) scheduler: DDIM, v-prediction, scaled-linear betas.
SCHEDULER = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
    "prediction_type": "v_prediction",
    "num_train_timesteps": 1000,
}


def _byte_alphabet() -> list[str]:
    """The 256 printable stand-ins byte-level BPE uses for bytes (GPT-2's table), sorted."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("\xa1"), ord("\xac") + 1),
        *range(ord("\xae"), ord("\xff") + 1),
    ]
    extra = [b for b in range(256) if b not in printable]
    return sorted(chr(c) for c in printable + [256 + k for k in range(len(extra))])


def write_tokenizer(folder: Path) -> None:
    """A byte-level CLIP vocabulary with a few merges (transformers 5 ships none) for CLIPTokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = _byte_alphabet()
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    pairs = [("s", "a"), ("sa", "t"), ("e", "l"), ("i", "m"), ("a", "g")]
    merges = []
    for a, b in pairs:
        for end in ("", "</w>"):
            merges.append(f"{a} {b}{end}")
            vocab.setdefault(a + b + end, len(vocab))
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "CLIPTokenizer", "model_max_length": MAX_TOKENS}), encoding="utf-8"
    )


def randomize_(model: torch.nn.Module, seed: int, std: float = 0.05) -> torch.nn.Module:
    """Random values in every parameter (zero-initialised output convs too), so no path is trivially zero."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or ".norm" in name and name.endswith("weight"):
                p.copy_(1.0 + torch.randn(p.shape, generator=gen) * std)
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * std)
    return model


def build_tiny_diffusionsat(root: Path, *, seed: int = 0) -> Path:
    """Write a tiny DiffusionSat pipeline folder at ``root`` and return it."""
    from diffusers import AutoencoderKL, DDIMScheduler
    from transformers import CLIPTextConfig, CLIPTextModel

    from geogen.models import SatUNet

    root.mkdir(parents=True, exist_ok=True)
    write_tokenizer(root / "tokenizer")
    vocab_size = len(json.loads((root / "tokenizer" / "vocab.json").read_text(encoding="utf-8")))
    torch.manual_seed(seed)
    text_config = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=32,
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
    randomize_(SatUNet(**TINY_UNET), seed + 1).save_pretrained(root / "unet")
    AutoencoderKL(**TINY_VAE).save_pretrained(root / "vae")
    DDIMScheduler(**SCHEDULER).save_pretrained(root / "scheduler")
    index = {
        "_class_name": "DiffusionSatPipeline",
        "_diffusers_version": "0.17.0.dev0",
        "feature_extractor": [None, None],
        "safety_checker": [None, None],
        "scheduler": ["diffusers", "DDIMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "SatUNet"],
        "vae": ["diffusers", "AutoencoderKL"],
        "requires_safety_checker": False,
    }
    (root / "model_index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")
    return root
