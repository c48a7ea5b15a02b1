"""LoRA styles: kohya/A1111 and diffusers/PEFT files merged with a strength, by known maths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from geogen.diffusion.lora import apply_loras, merge_lora, read_lora
from geogen.errors import ModelError
from geogen.spec import LoraRef
from tests.sketch_controlnet.lora_files import TE_LINEAR, UNET_CONV, UNET_LINEAR, write_kohya_lora

RANK, ALPHA = 4, 2.0


def _models(sd_dir: Path) -> dict[str, torch.nn.Module]:
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextModel

    return {
        "unet": UNet2DConditionModel.from_pretrained(sd_dir / "unet"),
        "text_encoder": CLIPTextModel.from_pretrained(sd_dir / "text_encoder"),
    }


def _state(models: dict[str, torch.nn.Module]) -> dict[str, torch.Tensor]:
    return {f"{part}:{k}": v.clone() for part, m in models.items() for k, v in m.state_dict().items()}


def _weight_key(pair_key: str) -> str:
    """State-dict key of a LoRA layer "<part>:<module>" (transformers 5 has no ``text_model.`` level)."""
    part, module = pair_key.split(":")
    return f"{part}:{module.removeprefix('text_model.')}.weight"


def _expected_delta(down: torch.Tensor, up: torch.Tensor, shape: torch.Size, scale: float) -> torch.Tensor:
    return (up.reshape(up.shape[0], -1) @ down.reshape(down.shape[0], -1)).reshape(shape) * scale


def test_kohya_merge_adds_scaled_low_rank_update(sd_dir: Path, kohya_lora: Path, lora_pairs) -> None:
    models = _models(sd_dir)
    before = _state(models)
    lora = read_lora(kohya_lora)
    assert lora.format == "kohya" and lora.targets == ["text_encoder", "unet"]
    assert merge_lora(models, lora, 0.7) == 3
    after = _state(models)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {
        _weight_key(f"unet:{UNET_LINEAR}"),
        _weight_key(f"unet:{UNET_CONV}"),
        _weight_key(f"text_encoder:{TE_LINEAR}"),
    }
    for key, (down, up) in lora_pairs.items():
        name = _weight_key(key)
        delta = _expected_delta(down, up, before[name].shape, 0.7 * ALPHA / RANK)
        torch.testing.assert_close(after[name], before[name] + delta, rtol=0, atol=1e-6)


def test_strength_zero_leaves_every_weight_bit_identical(sd_dir: Path, kohya_lora: Path) -> None:
    models = _models(sd_dir)
    before = _state(models)
    assert merge_lora(models, read_lora(kohya_lora), 0.0) == 0
    after = _state(models)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_peft_file_with_adapter_config_equals_kohya(
    sd_dir: Path, kohya_lora: Path, peft_lora: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "peft"
    folder.mkdir()
    shutil.copy(peft_lora, folder / peft_lora.name)
    (folder / "adapter_config.json").write_text(
        json.dumps({"r": RANK, "lora_alpha": ALPHA}), encoding="utf-8"
    )
    peft = read_lora(folder / peft_lora.name)
    assert peft.format == "peft" and peft.scale == pytest.approx(ALPHA / RANK)
    a, b = _models(sd_dir), _models(sd_dir)
    merge_lora(a, read_lora(kohya_lora), 1.0)
    merge_lora(b, peft, 1.0)
    sa, sb = _state(a), _state(b)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_peft_file_without_config_scales_by_one(sd_dir: Path, peft_lora: Path, lora_pairs) -> None:
    models = _models(sd_dir)
    before = _state(models)
    merge_lora(models, read_lora(peft_lora), 1.0)
    down, up = lora_pairs[f"unet:{UNET_LINEAR}"]
    name = _weight_key(f"unet:{UNET_LINEAR}")
    torch.testing.assert_close(
        _state(models)[name],
        before[name] + _expected_delta(down, up, before[name].shape, 1.0),
        rtol=0,
        atol=1e-6,
    )


def test_attention_processor_names_map_to_projections(sd_dir: Path, lora_pairs, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    down, up = lora_pairs[f"unet:{UNET_LINEAR}"]
    attn = UNET_LINEAR.rsplit(".", 1)[0]
    path = tmp_path / "old_diffusers.safetensors"
    save_file(
        {f"{attn}.processor.to_k_lora.down.weight": down, f"{attn}.processor.to_k_lora.up.weight": up},
        str(path),
    )
    lora = read_lora(path)
    assert [(lay.target, lay.module) for lay in lora.layers] == [("unet", UNET_LINEAR)]
    assert merge_lora(_models(sd_dir), lora, 1.0) == 1


@pytest.mark.parametrize(
    "keys, message",
    [
        ({"lora_unet_x.hada_w1_a": (4, 4), "lora_unet_x.hada_w1_b": (4, 4)}, "LyCORIS"),
        (
            {
                "lora_te1_text_model_x.lora_down.weight": (4, 4),
                "lora_te1_text_model_x.lora_up.weight": (4, 4),
            },
            "SDXL",
        ),
        ({"lora_unet_x.lora_down.weight": (4, 4)}, "up and down"),
    ],
)
def test_unsupported_or_broken_files_refused(tmp_path: Path, keys, message) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "bad.safetensors"
    save_file({k: torch.zeros(s) for k, s in keys.items()}, str(path))
    with pytest.raises(ModelError, match=message):
        read_lora(path)


def test_lora_for_another_model_refused(sd_dir: Path, tmp_path: Path, lora_pairs) -> None:
    down, up = lora_pairs[f"unet:{UNET_LINEAR}"]
    absent = write_kohya_lora(
        tmp_path / "absent.safetensors", {"unet:input_blocks.1.1.proj_in": (down, up)}, 4.0
    )
    with pytest.raises(ModelError, match="does not have"):
        merge_lora(_models(sd_dir), read_lora(absent), 1.0)
    wide = write_kohya_lora(
        tmp_path / "wide.safetensors", {f"unet:{UNET_LINEAR}": (torch.ones(4, 768), up)}, 4.0
    )
    models = _models(sd_dir)
    before = _state(models)
    with pytest.raises(ModelError, match="does not fit"):
        merge_lora(models, read_lora(wide), 1.0)
    assert all(torch.equal(before[k], v) for k, v in _state(models).items())  # nothing half-merged


def test_apply_by_store_name_and_family_check(sd_dir: Path, kohya_lora: Path, tmp_path: Path) -> None:
    from geogen.store import Store

    Store().add("paris-style", kohya_lora)
    records = apply_loras([LoraRef(name="paris-style", strength=0.5)], _models(sd_dir))
    assert records == [{"name": "paris-style", "strength": 0.5, "format": "kohya", "layers": 3}]
    sd1 = write_kohya_lora(
        tmp_path / "sd1.safetensors", {f"unet:{UNET_LINEAR}": (torch.ones(4, 768), torch.ones(64, 4))}, 4.0
    )
    with pytest.raises(ModelError, match="SD1 models but the base model is SD2"):
        apply_loras([LoraRef(name=str(sd1))], _models(sd_dir), base_family="sd2")
    with pytest.raises(ModelError, match="no-such-lora"):
        apply_loras([LoraRef(name="no-such-lora")], _models(sd_dir))
