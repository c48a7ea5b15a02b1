"""Tiny but real model folders (configs in the diffusers-0.17 / DiffusionSat style, a few tensors each)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from geogen.store import Store

SAT_UNET_CONFIG: dict[str, Any] = {  # DiffusionSat's unet/config.json, as their 0.17.0.dev0 writes it
    "_class_name": "SatUNet",
    "_diffusers_version": "0.17.0.dev0",
    "act_fn": "silu",
    "attention_head_dim": [5, 10, 20, 20],
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 1024,
    "down_block_types": [
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ],
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "out_channels": 4,
    "sample_size": 96,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "upcast_attention": True,
    "use_linear_projection": True,
    "use_metadata": True,
    "num_metadata": 7,
}
STOCK_UNET_CONFIG = {k: v for k, v in SAT_UNET_CONFIG.items() if k not in ("use_metadata", "num_metadata")}
STOCK_UNET_CONFIG.update(_class_name="UNet2DConditionModel", sample_size=64)
CONTROLNET_CONFIG: dict[str, Any] = {
    "_class_name": "ControlNetModel",
    "_diffusers_version": "0.17.0",
    "cross_attention_dim": 1024,
    "in_channels": 4,
    "conditioning_embedding_out_channels": [16, 32, 96, 256],
    "controlnet_conditioning_channel_order": "rgb",
    "block_out_channels": [320, 640, 1280, 1280],
    "attention_head_dim": [5, 10, 20, 20],
}


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def tiny_state_dict(
    *, metadata: bool = False, conv3d: bool = False, seed: int = 0
) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    sd = {"conv_in.weight": torch.randn(8, 4, 3, 3, generator=g), "conv_in.bias": torch.randn(8, generator=g)}
    if metadata:
        for i in range(7):
            sd[f"metadata_embedding.{i}.linear_1.weight"] = torch.randn(16, 8, generator=g)
            sd[f"metadata_embedding.{i}.linear_1.bias"] = torch.randn(16, generator=g)
    if conv3d:
        sd["controlnet_cond_embedding.conv_in.weight"] = torch.randn(4, 3, 3, 3, 3, generator=g)
        sd["controlnet_down_blocks.0.weight"] = torch.randn(8, 8, 1, 1, 1, generator=g)
    return sd


def save_weights(
    folder: Path, sd: dict[str, torch.Tensor], fmt: str, stem: str = "diffusion_pytorch_model"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "bin":
        path = folder / f"{stem}.bin"
        torch.save(sd, path)
    else:
        path = folder / f"{stem}.safetensors"
        save_file(sd, str(path))
    return path


class Make:
    """Builders for model folders under a temporary directory."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def sat_unet(self, name: str = "sat_unet", fmt: str = "bin", config: dict | None = None) -> Path:
        folder = self.base / name
        write_json(folder / "config.json", config or SAT_UNET_CONFIG)
        save_weights(folder, tiny_state_dict(metadata=True), fmt)
        return folder

    def pipeline(
        self,
        name: str = "sd21base",
        *,
        unet: dict | None = None,
        prediction: str = "epsilon",
        metadata: bool = False,
        fmt: str = "safetensors",
    ) -> Path:
        root = self.base / name
        write_json(
            root / "model_index.json",
            {
                "_class_name": "StableDiffusionPipeline",
                "_diffusers_version": "0.17.0",
                "scheduler": ["diffusers", "DDIMScheduler"],
                "text_encoder": ["transformers", "CLIPTextModel"],
                "tokenizer": ["transformers", "CLIPTokenizer"],
                "unet": ["diffusers", "UNet2DConditionModel"],
                "vae": ["diffusers", "AutoencoderKL"],
                "safety_checker": [None, None],
            },
        )
        write_json(
            root / "scheduler" / "scheduler_config.json",
            {"_class_name": "DDIMScheduler", "prediction_type": prediction, "steps_offset": 1},
        )
        write_json(
            root / "vae" / "config.json",
            {
                "_class_name": "AutoencoderKL",
                "block_out_channels": [128, 256, 512, 512],
                "latent_channels": 4,
            },
        )
        save_weights(root / "vae", {"w": torch.zeros(2)}, fmt)
        write_json(
            root / "text_encoder" / "config.json", {"architectures": ["CLIPTextModel"], "hidden_size": 1024}
        )
        (root / "tokenizer").mkdir()
        (root / "tokenizer" / "vocab.json").write_text("{}", encoding="utf-8")
        write_json(root / "unet" / "config.json", unet or STOCK_UNET_CONFIG)
        save_weights(root / "unet", tiny_state_dict(metadata=metadata), fmt)
        return root

    def controlnet(self, name: str = "controlnet", variant: str = "stock", fmt: str = "safetensors") -> Path:
        folder = self.base / name
        cfg = dict(CONTROLNET_CONFIG)
        if variant == "sr":
            cfg.update(conditioning_in_channels=10, conditioning_scale=2, use_metadata=True, num_metadata=7)
        elif variant == "3d":
            cfg.update(
                _class_name="ControlNetModel3D",
                conditioning_in_channels=3,
                use_temporal_transformer=True,
                use_metadata=True,
                num_metadata=7,
            )
        write_json(folder / "config.json", cfg)
        save_weights(
            folder,
            tiny_state_dict(metadata=variant in ("sr", "3d"), conv3d=variant in ("3d", "3d-weights")),
            fmt,
        )
        return folder

    def kohya_lora(self, name: str = "style.safetensors", width: int = 768) -> Path:
        path = self.base / name
        g = torch.Generator().manual_seed(1)
        k = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k"
        sd = {
            f"{k}.lora_down.weight": torch.randn(4, width, generator=g),
            f"{k}.lora_up.weight": torch.randn(320, 4, generator=g),
            f"{k}.alpha": torch.tensor(4.0),
            "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": torch.randn(
                4, width, generator=g
            ),
            "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight": torch.randn(
                width, 4, generator=g
            ),
        }
        save_file(sd, str(path), metadata={"ss_network_dim": "4", "ss_v2": "False"})
        return path

    def peft_lora(self, name: str = "peft_lora") -> Path:
        folder = self.base / name
        g = torch.Generator().manual_seed(2)
        sd = {
            "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight": torch.randn(
                8, 1024, generator=g
            ),
            "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora_B.weight": torch.randn(
                320, 8, generator=g
            ),
        }
        save_weights(folder, sd, "safetensors", stem="pytorch_lora_weights")
        return folder


@pytest.fixture
def make(tmp_path: Path) -> Make:
    (tmp_path / "src").mkdir()
    return Make(tmp_path / "src")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """An empty store in a temporary GEOGEN_HOME (what the CLI and ``resolve`` use too)."""
    home = tmp_path / "geogen_home"
    monkeypatch.setenv("GEOGEN_HOME", str(home))
    return Store(home)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Store tests may talk to 127.0.0.1 only: any other connection fails the test."""
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        host = address[0]
        if host not in ("127.0.0.1", "localhost"):
            raise AssertionError(f"a store test tried to reach {host}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on (connections are refused at once)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
