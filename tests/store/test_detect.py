"""Detection: every kind from tiny real folders, the facts engines need, and clear refusals."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from geogen.errors import ModelError
from geogen.store import detect, find_models
from geogen.store import kinds as K

from .conftest import SAT_UNET_CONFIG, STOCK_UNET_CONFIG, save_weights, tiny_state_dict, write_json


@pytest.mark.parametrize("fmt", ["bin", "safetensors"])
def test_sat_unet_folder(make, fmt):
    det = detect(make.sat_unet(fmt=fmt))
    assert det.kind == K.DIFFUSIONSAT
    f = det.facts
    assert (f["class_name"], f["layout"], f["weights_dir"]) == ("SatUNet", "model", ".")
    assert (f["num_metadata"], f["use_metadata"], f["cross_attention_dim"], f["base_family"]) == (
        7,
        True,
        1024,
        "sd2",
    )
    assert (
        f["prediction_type"] == "v_prediction"
    )  # DiffusionSat's documented default when no scheduler is there
    assert (
        f["resolution"] is None
    )  # their sample_size 96 x 8 = 768 is not the native size: unknown, not guessed
    assert f["weights_format"] == ("pickle" if fmt == "bin" else "safetensors")
    assert f["pickle_files"] == (["diffusion_pytorch_model.bin"] if fmt == "bin" else [])
    assert set(f) == set(K.FACT_KEYS)


def test_resolution_from_folder_name(make):
    det = detect(make.sat_unet(name="finetune_single_image_256_md7_snr5_bs16"))
    assert (det.facts["resolution"], det.facts["resolution_source"]) == (256, "name")


def test_sat_unet_saved_under_stock_class_name_is_found_by_its_metadata_weights(make):
    det = detect(make.sat_unet(config=STOCK_UNET_CONFIG))
    assert det.kind == K.DIFFUSIONSAT
    assert det.facts["num_metadata"] == 7


def test_stock_unet_alone_is_not_a_model(make):
    folder = make.base / "unet_only"
    write_json(folder / "config.json", STOCK_UNET_CONFIG)
    save_weights(folder, tiny_state_dict(), "safetensors")
    with pytest.raises(ModelError, match="matches no model kind geogen knows; expected a DiffusionSat"):
        detect(folder)


def test_sd_pipeline(make):
    det = detect(make.pipeline(prediction="v_prediction"))
    f = det.facts
    assert det.kind == K.SD_PIPELINE
    assert (f["layout"], f["pipeline_dir"], f["weights_dir"]) == ("pipeline", ".", "unet")
    assert (f["sample_size"], f["vae_scale_factor"], f["resolution"], f["resolution_source"]) == (
        64,
        8,
        512,
        "config",
    )
    assert (f["prediction_type"], f["base_family"], f["num_metadata"]) == ("v_prediction", "sd2", 0)


def test_sd1_pipeline_family(make):
    unet = dict(STOCK_UNET_CONFIG, cross_attention_dim=768)
    det = detect(make.pipeline(unet=unet))
    assert (det.facts["base_family"], det.facts["prediction_type"]) == ("sd1", "epsilon")


def test_diffusionsat_pipeline(make):
    det = detect(make.pipeline(unet=SAT_UNET_CONFIG, prediction="v_prediction", metadata=True))
    assert det.kind == K.DIFFUSIONSAT
    assert (det.facts["layout"], det.facts["pipeline_dir"], det.facts["num_metadata"]) == ("pipeline", ".", 7)


def test_diffusionsat_training_layout_takes_latest_checkpoint_and_borrows_the_pipeline(make):
    """Their release: a pipeline folder (stock SD-2.1 unet) with checkpoint-N/unet holding the SatUNet."""
    root = make.pipeline(name="finetune_sd21_sn-satlas-fmow_snr5_md7norm_bs64", prediction="v_prediction")
    make.sat_unet(name=f"{root.name}/checkpoint-100000/unet")
    make.sat_unet(name=f"{root.name}/checkpoint-150000/unet")
    found = find_models(root)
    assert [d.kind for d in found] == [K.DIFFUSIONSAT, K.DIFFUSIONSAT, K.SD_PIPELINE]
    best = detect(root)
    assert best.facts["weights_dir"] == "checkpoint-150000/unet"
    assert (best.facts["pipeline_dir"], best.facts["vae_scale_factor"]) == (".", 8)
    assert detect(root, K.SD_PIPELINE).facts["weights_dir"] == "unet"  # --kind picks the other model


def test_stock_controlnet(make):
    det = detect(make.controlnet(fmt="bin"))
    f = det.facts
    assert det.kind == K.CONTROLNET
    assert (f["conditioning_channels"], f["num_metadata"], f["temporal"], f["base_family"]) == (
        3,
        0,
        False,
        "sd2",
    )


def test_sr_controlnet(make):
    det = detect(make.controlnet(variant="sr"))
    f = det.facts
    assert det.kind == K.DIFFUSIONSAT_SR
    assert (f["conditioning_channels"], f["conditioning_scale"], f["num_metadata"]) == (10, 2, 7)


def test_3d_controlnet_by_config(make):
    det = detect(make.controlnet(variant="3d"))
    assert det.kind == K.DIFFUSIONSAT_3D
    assert (det.facts["temporal"], det.facts["num_metadata"]) == (True, 7)


@pytest.mark.parametrize("fmt", ["bin", "safetensors"])
def test_3d_controlnet_by_conv3d_weights(make, fmt):
    """A config that says nothing temporal: the 5-D conditioning/zero-conv weights give it away."""
    assert detect(make.controlnet(variant="3d-weights", fmt=fmt)).kind == K.DIFFUSIONSAT_3D


def test_kohya_lora_file(make):
    det = detect(make.kohya_lora())
    f = det.facts
    assert det.kind == K.LORA
    assert (f["lora_format"], f["lora_rank"], f["cross_attention_dim"], f["base_family"]) == (
        "kohya",
        4,
        768,
        "sd1",
    )
    assert f["lora_targets"] == ["unet", "text_encoder"]
    assert f["weights_file"] == "style.safetensors"


def test_peft_lora_folder(make):
    det = detect(make.peft_lora())
    f = det.facts
    assert det.kind == K.LORA
    assert (f["lora_format"], f["lora_rank"], f["base_family"]) == ("peft", 8, "sd2")
    assert f["weights_file"] == "pytorch_lora_weights.safetensors"


def test_kind_override_is_checked(make):
    folder = make.controlnet()
    with pytest.raises(ModelError, match=r"is not a LoRA \(--kind lora\); it holds: ControlNet"):
        detect(folder, K.LORA)
    with pytest.raises(ModelError, match="unknown model kind 'unet'"):
        detect(folder, "unet")


def test_refusals_say_what_was_expected(make, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("hello")
    with pytest.raises(ModelError, match=r"matches no model kind.*SatUNet.*model_index\.json.*LoRA"):
        detect(empty)
    with pytest.raises(ModelError, match="no such file or folder"):
        detect(tmp_path / "missing")
    single = tmp_path / "v2-1_512.safetensors"
    save_file({"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(2)}, str(single))
    with pytest.raises(ModelError, match="single-file Stable Diffusion checkpoint"):
        detect(single)
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match=r"cannot read .*config\.json as JSON"):
        detect(bad)


def test_hidden_folders_are_ignored(make):
    folder = make.controlnet()
    write_json(folder / ".cache" / "x" / "config.json", json.loads((folder / "config.json").read_text()))
    assert len(find_models(folder)) == 1
