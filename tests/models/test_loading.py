"""DiffusionSat folders (0.17 config + pickle, or safetensors) load as the right class, no weight lost."""

from __future__ import annotations

import fractions
import json

import pytest
import torch
from diffusers import UNet2DConditionModel

from geogen.errors import ModelError
from geogen.models import SatControlNetModel, SatControlNetModel3D, SatUNet
from geogen.models.loading import assert_not_diffusionsat, is_diffusionsat, load_controlnet, load_unet
from geogen.store.convert import convert_file
from tests.models.diffusionsat_reference import (
    CONTROLNET3D_017_KEYS,
    CONTROLNET_017_KEYS,
    UNET_017_KEYS,
    write_diffusionsat_folder,
)
from tests.models.tiny_models import LATENT
from tests.tiny_models import TINY_UNET

WEIGHTS_BIN = "diffusion_pytorch_model.bin"


def unet_out(model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        return model(**inputs).sample


def controlnet_out(
    model: torch.nn.Module, inputs: dict[str, torch.Tensor], **kwargs: object
) -> list[torch.Tensor]:
    with torch.no_grad():
        out = model(**inputs, **kwargs)
    return [*out.down_block_res_samples, out.mid_block_res_sample]


def test_diffusionsat_unet_folder_loads_with_every_weight(sat_unet, inputs, tmp_path):
    folder = write_diffusionsat_folder(sat_unet, tmp_path / "unet", "SatUNet", UNET_017_KEYS)

    model, info = SatUNet.from_pretrained(folder, output_loading_info=True)
    loaded = load_unet(folder)

    assert {k: v for k, v in info.items() if v} == {}
    assert type(loaded) is SatUNet and loaded.config.num_metadata == 7
    assert torch.equal(unet_out(model, inputs), unet_out(sat_unet, inputs))
    assert torch.equal(unet_out(loaded, inputs), unet_out(sat_unet, inputs))


def test_safetensors_round_trip_keeps_class_and_config(sat_unet, inputs, tmp_path):
    sat_unet.save_pretrained(tmp_path / "unet")
    config = json.loads((tmp_path / "unet" / "config.json").read_text())
    loaded = load_unet(tmp_path / "unet")

    assert (tmp_path / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    assert (
        config["_class_name"] == "SatUNet" and config["use_metadata"] is True and config["num_metadata"] == 7
    )
    assert type(loaded) is SatUNet
    assert torch.equal(unet_out(loaded, inputs), unet_out(sat_unet, inputs))


def test_stock_unet_silently_drops_metadata_so_it_is_refused(sat_unet, tmp_path):
    folder = write_diffusionsat_folder(sat_unet, tmp_path / "unet", "SatUNet", UNET_017_KEYS)

    _, info = UNet2DConditionModel.from_pretrained(folder, output_loading_info=True)
    assert any(
        k.startswith("metadata_embedding.") for k in info["unexpected_keys"]
    )  # the pitfall: only a warning
    with pytest.raises(ModelError, match="DiffusionSat"):
        assert_not_diffusionsat(folder)


def test_metadata_weights_betray_a_relabelled_config(sat_unet, tmp_path):
    folder = write_diffusionsat_folder(
        sat_unet, tmp_path / "unet", "UNet2DConditionModel", UNET_017_KEYS[:-2]
    )

    assert is_diffusionsat(folder)
    assert type(load_unet(folder)) is SatUNet


def test_stock_unet_folder_stays_stock(inputs, tmp_path):
    torch.manual_seed(0)
    stock = UNet2DConditionModel(**TINY_UNET).eval()
    stock.save_pretrained(tmp_path / "unet")

    assert_not_diffusionsat(tmp_path / "unet")
    loaded = load_unet(tmp_path / "unet")
    plain = {k: v for k, v in inputs.items() if k != "metadata"}
    assert type(loaded) is UNet2DConditionModel
    assert torch.equal(unet_out(loaded, plain), unet_out(stock, plain))


def test_pickle_needing_code_execution_requires_trust(sat_unet, inputs, tmp_path):
    folder = write_diffusionsat_folder(sat_unet, tmp_path / "unet", "SatUNet", UNET_017_KEYS)
    torch.save({"state_dict": sat_unet.state_dict(), "epoch": fractions.Fraction(1, 3)}, folder / WEIGHTS_BIN)

    with pytest.raises(ModelError, match="trust-pickle"):
        load_unet(folder)
    with pytest.warns(UserWarning, match="arbitrary code"):
        trusted = load_unet(folder, trust_pickle=True)
    assert type(trusted) is SatUNet
    assert torch.equal(unet_out(trusted, inputs), unet_out(sat_unet, inputs))

    with pytest.warns(UserWarning, match="arbitrary code"):
        convert_file(folder / WEIGHTS_BIN, trust_pickle=True)
    assert torch.equal(unet_out(load_unet(folder), inputs), unet_out(sat_unet, inputs))


def test_missing_weight_is_an_error_not_a_random_init(sat_unet, tmp_path):
    folder = write_diffusionsat_folder(sat_unet, tmp_path / "unet", "SatUNet", UNET_017_KEYS)
    state = torch.load(folder / WEIGHTS_BIN, weights_only=True)
    del state["metadata_embedding.3.linear_2.bias"]
    torch.save(state, folder / WEIGHTS_BIN)

    with pytest.raises(ModelError, match=r"metadata_embedding\.3\.linear_2\.bias"):
        load_unet(folder)


def test_folder_without_config_or_weights_is_refused(sat_unet, tmp_path):
    with pytest.raises(ModelError, match=r"config\.json"):
        load_unet(tmp_path)
    folder = write_diffusionsat_folder(sat_unet, tmp_path / "unet", "SatUNet", UNET_017_KEYS)
    (folder / WEIGHTS_BIN).unlink()
    with pytest.raises(ModelError, match="No weights"):
        load_unet(folder)


def test_diffusionsat_2d_controlnet_folder(sat_controlnet, inputs, tmp_path):
    folder = write_diffusionsat_folder(
        sat_controlnet, tmp_path / "cn", "ControlNetModel", CONTROLNET_017_KEYS
    )
    cond = {"controlnet_cond": torch.rand(2, 10, 2 * LATENT, 2 * LATENT), "cond_metadata": inputs["metadata"]}

    loaded = load_controlnet(folder)

    assert type(loaded) is SatControlNetModel and loaded.config.conditioning_in_channels == 10
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            controlnet_out(loaded, inputs, **cond),
            controlnet_out(sat_controlnet, inputs, **cond),
            strict=True,
        )
    )
    with pytest.raises(ModelError, match="DiffusionSat"):
        assert_not_diffusionsat(folder)


def test_diffusionsat_3d_controlnet_folder(sat_controlnet_3d, inputs, tmp_path):
    with torch.no_grad():
        sat_controlnet_3d.mixing_attns[0].fill_(0.3)
    folder = write_diffusionsat_folder(
        sat_controlnet_3d, tmp_path / "cn3d", "ControlNetModel3D", CONTROLNET3D_017_KEYS
    )
    cond = {
        "controlnet_cond": torch.rand(2, 3, 3, 2 * LATENT, 2 * LATENT),
        "cond_metadata": torch.rand(2, 7, 3) * 900,
    }

    loaded = load_controlnet(folder)

    assert type(loaded) is SatControlNetModel3D and loaded.config.use_temporal_transformer is True
    assert loaded.mixing_attns[0].item() == pytest.approx(0.3)
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            controlnet_out(loaded, inputs, **cond),
            controlnet_out(sat_controlnet_3d, inputs, **cond),
            strict=True,
        )
    )
