"""The options of the temporal engine diffusionsat-3d: its own keys (defaults, ranges) beside the diffusion
ones."""

from __future__ import annotations

import pytest

from geogen.diffusion.options import DiffusionOptions
from geogen.engines.temporal_controlnet.contract import DiffusionSat3DEngine
from geogen.errors import OptionsError
from geogen.store.kinds import DIFFUSIONSAT, DIFFUSIONSAT_3D
from geogen.timeseries.sequence import DEFAULT_FRAMES


def test_defaults() -> None:
    opts = DiffusionSat3DEngine.parse_options({})
    assert (opts.controlnet, opts.base_model, opts.frames) == (None, None, DEFAULT_FRAMES)
    assert (opts.guidance_scale, opts.controlnet_scale, opts.cloud_cover) == (1.0, 1.0, None)
    assert opts.diffusion == DiffusionOptions()


def test_own_and_diffusion_keys_side_by_side() -> None:
    opts = DiffusionSat3DEngine.parse_options(
        {"controlnet": "cn", "frames": 16, "guidance_scale": 3, "cloud_cover": 0, "window": 128}
    )
    assert (opts.controlnet, opts.frames, opts.guidance_scale, opts.cloud_cover) == ("cn", 16, 3.0, 0.0)
    assert opts.diffusion.window == 128


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"frames": 0}, r"options\.frames: input should be greater than or equal to 1, got 0"),
        ({"frames": 17}, r"options\.frames: input should be less than or equal to 16, got 17"),
        ({"frames": 2.0}, r"options\.frames: input should be a valid integer"),
        ({"guidance_scale": 101}, r"options\.guidance_scale: input should be less than or equal to 100"),
        ({"guidance_scale": float("nan")}, r"options\.guidance_scale: input should be a finite number"),
        (
            {"controlnet_scale": -0.5},
            r"options\.controlnet_scale: input should be greater than or equal to 0",
        ),
        ({"cloud_cover": 1.5}, r"options\.cloud_cover: input should be less than or equal to 1"),
        ({"controlnet": " "}, r"options\.controlnet: must be a model name or folder, got ' '"),
        ({"base_model": 3}, r"options\.base_model: input should be a valid string, got 3"),
        ({"consistency": True}, r"options\.consistency: unknown option; valid options of temporal engine"),
    ],
)
def test_bad_values_are_refused(options: dict, message: str) -> None:
    with pytest.raises(OptionsError, match=message):
        DiffusionSat3DEngine.parse_options(options)


def test_contract() -> None:
    info = DiffusionSat3DEngine.info()
    assert (info["task"], info["name"], info["default"], info["needs_weights"]) == (
        "temporal",
        "diffusionsat-3d",
        True,
        True,
    )
    assert set(DiffusionSat3DEngine.model_kinds) == {DIFFUSIONSAT, DIFFUSIONSAT_3D}
    assert DiffusionSat3DEngine.model_optional  # a stack of observed dates only needs no model
