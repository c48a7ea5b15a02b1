"""Each engine's options are published in the job JSON Schema, so clients (the plugin, a web form) can check them."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from geogen.engines.registry import list_engines
from geogen.spec import json_schema

SR: dict[str, Any] = {"task": "superres", "input": "/d/S2.SAFE", "output": {"dir": "/o"}}
SKETCH: dict[str, Any] = {"task": "sketch", "landcover": "/d/m.tif", "output": {"dir": "/o"}}


def _valid(job: dict[str, Any]) -> bool:
    try:
        jsonschema.validate(job, json_schema())
    except jsonschema.ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    "job, ok",
    [
        ({**SR, "options": {"method": "glp", "tile": 512}}, True),  # the default engine, unnamed
        ({**SR, "engine": None, "options": {"method": "glp"}}, True),
        ({**SR, "options": {"method": "nearest"}}, False),
        ({**SR, "options": {"tile": 8}}, False),
        ({**SR, "options": {"bogus": 1}}, False),
        ({**SR, "engine": "bicubic", "options": {"method": "glp"}}, False),  # sharpen's key, not bicubic's
        ({**SR, "engine": "sharpen-cnn", "options": {"iterations": 50}}, True),
        ({**SR, "engine": "diffusionsat-sr", "options": {"scale": 4, "dtype": "fp16"}}, True),
        ({**SR, "engine": "diffusionsat", "options": {"scale": 4}}, True),  # the v1 alias
        ({**SKETCH, "engine": "controlnet", "options": {"controlnet": "seg2sat"}}, True),
        ({**SKETCH, "engine": "controlnet", "options": {}}, False),  # the ControlNet is required
        ({**SKETCH, "options": {"patch": 16}}, False),  # exemplar has no options
        # diffusion keys: null means "the default" to the validator, and so to the schema
        ({**SR, "engine": "diffusionsat-sr", "options": {"device": None, "window": None}}, True),
        ({**SR, "engine": "diffusionsat-sr", "options": {"device": "gpu"}}, False),
        ({**SR, "engine": "diffusionsat-sr", "options": {"dtype": "fp8"}}, False),
    ],
)
def test_options_are_checked_by_the_schema(job: dict[str, Any], ok: bool) -> None:
    assert _valid(job) is ok


@pytest.mark.parametrize(
    "options", [{"device": None, "window": None}, {"dtype": "bf16"}, {"device": "cuda:1"}]
)
def test_what_the_schema_accepts_the_engine_accepts(options: dict[str, Any]) -> None:
    from geogen.engines.registry import get_engine

    assert _valid({**SR, "engine": "diffusionsat-sr", "options": options})
    get_engine("superres", "diffusionsat-sr").parse_options(options)  # raises if it disagrees


def test_every_registered_engine_has_its_options_in_the_schema() -> None:
    defs = json_schema()["$defs"]
    titles = {d.get("title") for d in defs.values()}
    for cls in list_engines():
        assert f"options of the {cls.task} engine {cls.name}" in titles
        for key, field in cls.options_model.model_fields.items():
            assert field.description, f"{cls.task}/{cls.name} option {key} has no description"
