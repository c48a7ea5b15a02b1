"""Base + ControlNet resolution through the store: wrong, unknown and mismatched models are refused."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from geogen.engines.sketch_controlnet.contract import ConditionStyle, ControlNetSketch
from geogen.engines.sketch_controlnet.models import check_pair, resolve_models
from geogen.errors import ModelError, OptionsError
from geogen.landcover.renderers import RENDERERS
from geogen.store import Store


def test_tiny_pair_resolves_and_fits(sd_dir: Path, controlnet_dir: Path) -> None:
    base, net = resolve_models(str(sd_dir), str(controlnet_dir))
    assert (base.kind, net.kind) == ("sd-pipeline", "controlnet")
    facts = check_pair(base, net)
    assert facts["cross_attention_dim"] == 32 and facts["vae_factor"] == 2 and facts["channel_order"] == "rgb"


def test_installed_names_resolve(sd_dir: Path, controlnet_dir: Path) -> None:
    store = Store()
    store.add("sd21-tiny", sd_dir, link=True)
    store.add("seg2sat-tiny", controlnet_dir, link=True)
    base, net = resolve_models("sd21-tiny", "seg2sat-tiny")
    assert (base.name, net.name) == ("sd21-tiny", "seg2sat-tiny")


def test_controlnet_for_another_text_width_refused(sd_dir: Path, wide_controlnet_dir: Path) -> None:
    base, net = resolve_models(str(sd_dir), str(wide_controlnet_dir))
    with pytest.raises(ModelError, match=r"width 48 .* uses 32"):
        check_pair(base, net)


def test_condition_scale_must_match_the_vae(sd_dir: Path, coarse_controlnet_dir: Path) -> None:
    base, net = resolve_models(str(sd_dir), str(coarse_controlnet_dir))
    with pytest.raises(ModelError, match=r"shrinks its condition image 8x .* 2 pixels"):
        check_pair(base, net)


def test_diffusionsat_base_takes_the_sd2_shaped_controlnet(
    diffusionsat_dir: Path, controlnet_dir: Path
) -> None:
    base, net = resolve_models(str(diffusionsat_dir), str(controlnet_dir))
    assert base.kind == "diffusionsat"
    assert check_pair(base, net)["cross_attention_dim"] == 32


@pytest.mark.parametrize(
    "model, controlnet, message",
    [
        (None, "CN", "needs a base model"),
        ("no-such-model", "CN", "no-such-model"),
        ("SD", "no-such-controlnet", "no-such-controlnet"),
        ("CN", "CN", "is a ControlNet; this engine needs a Stable Diffusion pipeline"),
        ("SD", "SD", "is a Stable Diffusion pipeline; this engine needs a ControlNet"),
    ],
)
def test_unknown_or_wrong_kind_refused(
    sd_dir: Path, controlnet_dir: Path, model, controlnet, message
) -> None:
    paths = {"SD": str(sd_dir), "CN": str(controlnet_dir)}
    with pytest.raises(ModelError, match=message):
        resolve_models(paths.get(model, model), paths.get(controlnet, controlnet))


def test_options_typed_and_checked() -> None:
    opts = ControlNetSketch.parse_options(
        {"controlnet": " seg2sat ", "guidance_scale": 5, "scheduler": "DDIM", "window": 512, "device": "cpu"}
    )
    assert (opts.controlnet, opts.guidance_scale, opts.scheduler) == ("seg2sat", 5.0, "ddim")
    assert (opts.diffusion.window, opts.diffusion.device) == (512, "cpu")
    assert (opts.controlnet_scale, opts.condition_cache_mb, opts.condition_style) == (1.0, 256, "legend")
    nulls = ControlNetSketch.parse_options({"controlnet": "x", "guidance_scale": None, "scheduler": None})
    assert (nulls.guidance_scale, nulls.scheduler) == (7.5, None)  # null has always meant "the default"
    for missing in ({}, {"controlnet": None}, {"controlnet": "  "}):
        with pytest.raises(
            OptionsError, match=r"options\.controlnet: .*needs a ControlNet: pass --controlnet"
        ):
            ControlNetSketch.parse_options(missing)
    with pytest.raises(
        OptionsError, match=r"options\.scheduler: input should be 'unipc' or 'ddim', got 'euler'"
    ):
        ControlNetSketch.parse_options({"controlnet": "x", "scheduler": "euler"})
    with pytest.raises(
        OptionsError, match=r"options\.strenght: unknown option; valid options of .*controlnet_scale"
    ):
        ControlNetSketch.parse_options({"controlnet": "x", "strenght": 1})
    with pytest.raises(OptionsError, match=r"options\.guidance_scale: .*got True"):
        ControlNetSketch.parse_options({"controlnet": "x", "guidance_scale": True})
    with pytest.raises(
        OptionsError, match=r"options\.condition_cache_mb: input should be greater than or equal to 0, got -1"
    ):
        ControlNetSketch.parse_options({"controlnet": "x", "condition_cache_mb": -1})
    with pytest.raises(OptionsError, match=r"options\.condition_style: input should be 'legend' or 'osm'"):
        ControlNetSketch.parse_options({"controlnet": "x", "condition_style": "topo"})
    assert ControlNetSketch.options_schema()["required"] == ["controlnet"]


def test_condition_styles_are_the_renderers() -> None:
    assert set(get_args(ConditionStyle)) == set(RENDERERS)
