"""The diffusion engines' common options: today's defaults, null as default, ranges, one error format."""

from __future__ import annotations

from typing import ClassVar

import pytest

from geogen.diffusion.options import DiffusionEngineOptions, DiffusionOptions
from geogen.engines.base import EngineOptions, TextDiffusionEngine
from geogen.errors import OptionsError


class Probe(TextDiffusionEngine):
    """A diffusion engine with the common options only (not registered)."""

    name: ClassVar[str] = "probe"
    options_model: ClassVar[type[EngineOptions]] = DiffusionEngineOptions


def test_defaults_are_the_diffusion_cores() -> None:
    assert Probe.parse_options({}).diffusion == DiffusionOptions()
    assert set(DiffusionEngineOptions.model_fields) == set(DiffusionOptions.__dataclass_fields__)


def test_values_reach_the_core_record() -> None:
    given = {
        "device": "cpu",
        "dtype": "fp32",
        "window_batch_size": 2,
        "window": 256,
        "overlap": 0,
        "decode_tile": 128,
        "weight_kind": "linear",
        "attention_slicing": True,
        "cpu_offload": True,
        "compile": True,
    }
    assert Probe.parse_options(given).diffusion == DiffusionOptions(**given)


def test_null_means_the_default() -> None:
    nulls = dict.fromkeys(DiffusionEngineOptions.model_fields)
    assert Probe.parse_options(nulls).diffusion == DiffusionOptions()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"window": 0}, r"options\.window: input should be greater than or equal to 1, got 0"),
        (
            {"window_batch_size": -1},
            r"options\.window_batch_size: input should be greater than or equal to 1",
        ),
        ({"decode_tile": 0}, r"options\.decode_tile: input should be greater than or equal to 1"),
        ({"overlap": -1}, r"options\.overlap: input should be greater than or equal to 0, got -1"),
        ({"window": 64.0}, r"options\.window: input should be a valid integer, got 64\.0"),
        ({"window": True}, r"options\.window: input should be a valid integer, got True"),
        ({"cpu_offload": "yes"}, r"options\.cpu_offload: input should be a valid boolean, got 'yes'"),
        ({"device": 0}, r"options\.device: input should be a valid string, got 0"),
        ({"weight_kind": "gauss"}, r"options\.weight_kind: input should be 'cosine', 'linear' or 'constant'"),
        ({"windwo": 64}, r"options\.windwo: unknown option; valid options of text engine 'probe': .*window"),
    ],
)
def test_bad_values_are_refused(options: dict, message: str) -> None:
    with pytest.raises(OptionsError, match=message):
        Probe.parse_options(options)


def test_every_option_is_described() -> None:
    schema = Probe.options_schema()
    assert schema["additionalProperties"] is False
    assert all(prop.get("description") for prop in schema["properties"].values())


def test_the_text_engine_takes_the_common_options_and_a_diffusionsat_model() -> None:
    from geogen.engines.text_diffusionsat.contract import DiffusionSatTextEngine
    from geogen.store.kinds import DIFFUSIONSAT

    info = DiffusionSatTextEngine.info()
    assert (info["task"], info["name"], info["default"], info["needs_weights"]) == (
        "text",
        "diffusionsat",
        True,
        True,
    )
    assert DiffusionSatTextEngine.options_model is DiffusionEngineOptions
    assert DiffusionSatTextEngine.model_kinds == (DIFFUSIONSAT,)
