"""Loading a DiffusionSat pipeline folder through the store and geogen's checked loaders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from geogen.diffusion.components import load_components, select_device, select_dtype
from geogen.errors import EngineError, ModelError
from geogen.models import SatUNet
from geogen.store import resolve


def test_tiny_pipeline_loads_with_its_metadata_unet_and_v_prediction_ddim(tiny_components) -> None:
    comps = tiny_components
    assert isinstance(comps.unet, SatUNet) and comps.num_metadata == 7
    assert type(comps.scheduler).__name__ == "DDIMScheduler" and comps.prediction_type == "v_prediction"
    assert comps.vae_scale_factor == 2 and comps.unet_factor == 2 and comps.latent_channels == 4
    assert comps.dtype == torch.float32 and comps.device.type == "cpu"
    assert {type(p).__name__ for p in comps.unet.attn_processors.values()} == {"AttnProcessor2_0"}
    embeds = comps.encode_prompts(["a satellite image", ""])
    assert embeds.shape == (2, 77, 32) and not torch.allclose(embeds[0], embeds[1])
    assert comps.prompt_overflow("a satellite image") == 0
    assert comps.prompt_overflow(" ".join(["farm"] * 100)) > 0


def test_missing_scheduler_config_key_defaults_to_v_prediction(tmp_path: Path, tiny_model_dir: Path) -> None:
    import json

    copy = shutil.copytree(tiny_model_dir, tmp_path / "ds")
    cfg_path = copy / "scheduler" / "scheduler_config.json"
    cfg = json.loads(cfg_path.read_text())
    del cfg["prediction_type"]
    cfg["_class_name"] = "PNDMScheduler"
    cfg_path.write_text(json.dumps(cfg))
    comps = load_components(resolve(str(copy)), device="cpu")
    assert type(comps.scheduler).__name__ == "DDIMScheduler" and comps.prediction_type == "v_prediction"


def test_a_pipeline_without_its_vae_is_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    copy = shutil.copytree(tiny_model_dir, tmp_path / "ds")
    shutil.rmtree(copy / "vae")
    with pytest.raises(ModelError, match="lacks vae"):
        load_components(resolve(str(copy)), device="cpu")


def test_truncated_unet_weights_are_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    from safetensors.torch import load_file, save_file

    copy = shutil.copytree(tiny_model_dir, tmp_path / "ds")
    weights = copy / "unet" / "diffusion_pytorch_model.safetensors"
    state = load_file(str(weights))
    save_file({k: v for k, v in state.items() if not k.startswith("metadata_embedding.3.")}, str(weights))
    with pytest.raises(ModelError, match=r"metadata_embedding\.3"):
        load_components(resolve(str(copy)), device="cpu")


def test_device_and_dtype_choices() -> None:
    assert select_device("cpu").type == "cpu"
    assert select_dtype(torch.device("cpu")) == torch.float32
    assert select_dtype(torch.device("cpu"), "bf16") == torch.bfloat16
    with pytest.raises(EngineError, match="fp16 is not supported on the CPU"):
        select_dtype(torch.device("cpu"), "fp16")
    with pytest.raises(EngineError, match="unknown dtype"):
        select_dtype(torch.device("cpu"), "int8")
    with pytest.raises(EngineError, match="unknown device"):
        select_device("tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(EngineError, match="no CUDA GPU"):
            select_device("cuda")
