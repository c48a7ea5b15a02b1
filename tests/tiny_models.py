"""Tiny random-weight models on disk, in the layouts of the published ones, shared by every test folder.

A DiffusionSat pipeline folder (model_index.json + tokenizer/, text_encoder/, vae/, unet/, scheduler/, with a
SatUNet of about a million parameters, a 2x VAE and a 2-layer CLIP text encoder), a Stable Diffusion pipeline
folder of the same shapes, land-cover ControlNets copied from its UNet, DiffusionSat's SR ControlNet saved
the way their code saved checkpoints, and DiffusionSat's 3-D (temporal) ControlNet with the pipeline it
steers. Tests load them back only through geogen's own loading code (the model
store, ``geogen.diffusion.components`` and the sketch / SR loaders).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
TINY_TEXT = {
    "hidden_size": 32,
    "intermediate_size": 37,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "projection_dim": 32,
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
SR_COND_SCALE = 2  # as the released SR model: the condition at half the target resolution


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


def clip_text_config(vocab_size: int, **shape: Any):
    """A CLIP text config for the test vocabulary (last two ids: BOS, EOS = pad); ``shape`` sizes it."""
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=vocab_size,
        max_position_embeddings=MAX_TOKENS,
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
        **shape,
    )


def randomize_(
    model: torch.nn.Module, seed: int, std: float = 0.05, *, norms_near_one: bool = True
) -> torch.nn.Module:
    """Random values in every parameter (zero-initialised output convs too), so no path is trivially zero.

    With ``norms_near_one`` the normalisation scales are 1 + noise (a working network); without, every
    parameter is N(0, std) (what the model tests compare against their reference code with).
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            is_norm = name.endswith("norm.weight") or (".norm" in name and name.endswith("weight"))
            if norms_near_one and is_norm:
                p.copy_(1.0 + torch.randn(p.shape, generator=gen) * std)
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * std)
    return model


def _write_text_encoder(root: Path, seed: int, hidden_size: int) -> None:
    """root/tokenizer and a random 2-layer CLIP text encoder at root/text_encoder (global seed ``seed``)."""
    from transformers import CLIPTextModel

    write_tokenizer(root / "tokenizer")
    vocab_size = len(json.loads((root / "tokenizer" / "vocab.json").read_text(encoding="utf-8")))
    torch.manual_seed(seed)
    config = clip_text_config(vocab_size, **{**TINY_TEXT, "hidden_size": hidden_size})
    CLIPTextModel(config).eval().save_pretrained(root / "text_encoder")


def _write_model_index(
    root: Path, class_name: str, diffusers_version: str, scheduler: str, unet: str
) -> None:
    index = {
        "_class_name": class_name,
        "_diffusers_version": diffusers_version,
        "feature_extractor": [None, None],
        "safety_checker": [None, None],
        "scheduler": ["diffusers", scheduler],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", unet],
        "vae": ["diffusers", "AutoencoderKL"],
        "requires_safety_checker": False,
    }
    (root / "model_index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")


def build_tiny_diffusionsat(root: Path, *, seed: int = 0) -> Path:
    """Write a tiny DiffusionSat pipeline folder at ``root`` and return it."""
    from diffusers import AutoencoderKL, DDIMScheduler

    from geogen.models import SatUNet

    root.mkdir(parents=True, exist_ok=True)
    _write_text_encoder(root, seed, TINY_TEXT["hidden_size"])
    randomize_(SatUNet(**TINY_UNET), seed + 1).save_pretrained(root / "unet")
    AutoencoderKL(**TINY_VAE).save_pretrained(root / "vae")
    DDIMScheduler(**SCHEDULER).save_pretrained(root / "scheduler")
    _write_model_index(root, "DiffusionSatPipeline", "0.17.0.dev0", "DDIMScheduler", "SatUNet")
    return root


def tiny_unet(seed: int, cross_attention_dim: int = 32):
    """A random stock ``UNet2DConditionModel`` of the tiny shape (the one the tiny DiffusionSat has)."""
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    return randomize_(UNet2DConditionModel(**{**TINY_UNET, "cross_attention_dim": cross_attention_dim}), seed)


def build_tiny_sd(root: Path, *, seed: int = 0, cross_attention_dim: int = 32) -> Path:
    """A tiny Stable Diffusion pipeline folder (model_index.json, tokenizer, CLIP, UNet, VAE x2, PNDM)."""
    from diffusers import AutoencoderKL, PNDMScheduler

    root.mkdir(parents=True, exist_ok=True)
    _write_text_encoder(root, seed, cross_attention_dim)
    tiny_unet(seed + 1, cross_attention_dim).save_pretrained(root / "unet")
    torch.manual_seed(seed + 2)
    AutoencoderKL(**TINY_VAE).save_pretrained(root / "vae")
    PNDMScheduler(**SD_SCHEDULER).save_pretrained(root / "scheduler")
    _write_model_index(root, "StableDiffusionPipeline", "0.42.0", "PNDMScheduler", "UNet2DConditionModel")
    return root


def build_tiny_controlnet(
    root: Path,
    *,
    seed: int = 10,
    cross_attention_dim: int = 32,
    conditioning_channels: tuple[int, ...] = CONDITIONING_CHANNELS,
) -> Path:
    """A land-cover ControlNet folder copied from a tiny UNet, every weight random (fresh zero convs would
    output 0); its condition encoder downsamples 2x, like the tiny VAE."""
    from diffusers import ControlNetModel

    net = ControlNetModel.from_unet(
        tiny_unet(seed, cross_attention_dim), conditioning_embedding_out_channels=conditioning_channels
    )
    randomize_(net, seed + 1, std=0.1).save_pretrained(root)
    return root


def build_sr_controlnet(base: Path, folder: Path, *, channels: int = 10, seed: int = 7) -> Path:
    """A random SatControlNetModel copied from ``base``'s UNet, saved with a 0.17-style config and a pickle.

    ``conditioning_embedding_out_channels=(8,)`` keeps the condition encoder from downsampling, so a condition
    at 1/2 of the target lands on the tiny VAE's 2x latent grid (the released model: 1/2 and 4x on 8x).
    """
    from geogen.models import SatControlNetModel
    from geogen.models.loading import load_unet
    from tests.models.diffusionsat_reference import CONTROLNET_017_KEYS, write_diffusionsat_folder

    unet = load_unet(base / "unet")
    torch.manual_seed(seed)
    model = SatControlNetModel.from_unet(
        unet,
        conditioning_in_channels=channels,
        conditioning_scale=SR_COND_SCALE,
        conditioning_embedding_out_channels=(8,),
    )
    randomize_(model, seed)
    return write_diffusionsat_folder(model.eval(), folder, "ControlNetModel", CONTROLNET_017_KEYS)


def build_tiny_controlnet_3d(base: Path, folder: Path, *, seed: int = 11) -> Path:
    """A random 3-D ControlNet copied from ``base``'s UNet (RGB frames, temporal attention mixed in at 0.5).

    ``conditioning_embedding_out_channels=(8, 16)`` gives one stride-(1, 2, 2) stage: frames at full pixel
    size land on the tiny VAE's 2x latent grid (the released model: three stages for the 8x VAE).
    """
    from geogen.models import SatControlNetModel3D
    from geogen.models.loading import load_unet

    unet = load_unet(base / "unet")
    torch.manual_seed(seed)
    model = SatControlNetModel3D.from_unet(
        unet,
        conditioning_in_channels=3,
        use_temporal_transformer=True,
        conditioning_embedding_out_channels=(8, 16),
    )
    randomize_(model, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for alpha in model.mixing_attns:
            alpha.fill_(0.5)
        for (
            name,
            p,
        ) in model.named_parameters():  # residuals and metadata strong enough to show in 8-bit pixels
            if name.startswith(("controlnet_down_blocks", "controlnet_mid_block")):
                p.copy_(torch.randn(p.shape, generator=gen))
            elif name.startswith("metadata_embedding"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    model.eval().save_pretrained(folder)
    return folder


def build_sensitive_diffusionsat(root: Path) -> Path:
    """The tiny DiffusionSat pipeline with its UNet's output layer scaled up 30 times.

    With the shared tiny weights the UNet's prediction is about 0.03 in size, so the decoded pixels hardly
    depend on anything the model is given; scaled, a ControlNet moves them by about 24 levels of 255.
    """
    from geogen.models.loading import load_unet

    build_tiny_diffusionsat(root)
    unet = load_unet(root / "unet")
    with torch.no_grad():
        unet.conv_out.weight.mul_(30.0)
        unet.conv_out.bias.mul_(30.0)
    unet.save_pretrained(root / "unet")
    return root


def build_temporal_models(root: Path) -> tuple[Path, Path]:
    """(a sensitive tiny DiffusionSat pipeline folder, a tiny 3-D ControlNet copied from it) under
    ``root``."""
    base = build_sensitive_diffusionsat(root / "tiny-diffusionsat")
    return base, build_tiny_controlnet_3d(base, root / "tiny-controlnet-3d")
