"""Folders written by diffusers' save_pretrained (and geogen's model classes) are detected as their kind."""

from __future__ import annotations

import json

import pytest
import torch

from geogen.store import detect
from geogen.store import kinds as K

diffusers = pytest.importorskip("diffusers")
TINY = dict(
    block_out_channels=(32, 64),
    layers_per_block=1,
    cross_attention_dim=32,
    attention_head_dim=8,
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("diffusers")
    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(
        **TINY, sample_size=32, up_block_types=("UpBlock2D", "CrossAttnUpBlock2D")
    )
    diffusers.ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(16, 32)).save_pretrained(
        root / "controlnet"
    )
    pipe = root / "pipeline"
    unet.save_pretrained(pipe / "unet")
    diffusers.AutoencoderKL(
        block_out_channels=(32, 64),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
    ).save_pretrained(pipe / "vae")
    diffusers.DDIMScheduler(prediction_type="v_prediction").save_pretrained(pipe / "scheduler")
    index = {
        "_class_name": "StableDiffusionPipeline",
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
        "scheduler": ["diffusers", "DDIMScheduler"],
    }
    (pipe / "model_index.json").write_text(json.dumps(index))
    return root


def test_stock_controlnet_saved_by_diffusers(saved):
    det = detect(saved / "controlnet")
    assert det.kind == K.CONTROLNET
    assert (det.facts["conditioning_channels"], det.facts["cross_attention_dim"]) == (3, 32)


def test_pipeline_saved_by_diffusers(saved):
    det = detect(saved / "pipeline")
    assert det.kind == K.SD_PIPELINE
    # a 2-level VAE downsamples 2x: 32 latent px -> 64 image px
    assert (det.facts["vae_scale_factor"], det.facts["resolution"], det.facts["prediction_type"]) == (
        2,
        64,
        "v_prediction",
    )


def test_geogen_model_classes_are_detected(tmp_path):
    sat_unet = pytest.importorskip("geogen.models.sat_unet")
    sat_cn3d = pytest.importorskip("geogen.models.sat_controlnet_3d")
    unet = sat_unet.SatUNet(**TINY, sample_size=32, up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"))
    unet.save_pretrained(tmp_path / "unet", safe_serialization=False)
    assert detect(tmp_path / "unet").kind == K.DIFFUSIONSAT
    sat_cn3d.SatControlNetModel3D(**TINY, conditioning_embedding_out_channels=(16, 32)).save_pretrained(
        tmp_path / "cn3d"
    )
    det = detect(tmp_path / "cn3d")
    assert (det.kind, det.facts["temporal"], det.facts["num_metadata"]) == (K.DIFFUSIONSAT_3D, True, 7)
