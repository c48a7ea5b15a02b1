"""The ``compile`` option: parsed with the other diffusion options, applied where the components are loaded
(the UNet, and the ControlNet an engine hands to ``adopt``), with the same pixels as without.

Inductor on this CPU takes 35-50 s for the tiny text job (max-autotune), too slow for the suite. So these
tests replace ``torch.compile`` with a recorder that compiles through dynamo's "eager" backend: every call of
the module really goes through the captured graph (attributes, hooks, guards), without Inductor's code
generation. The Inductor run itself is the ``slow`` test at the end (RUN_SLOW=1).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import torch

import geogen.pipelines.text as text_pipeline
from geogen.diffusion.compiling import COMPILE_MODE
from geogen.diffusion.components import load_components
from geogen.diffusion.options import DiffusionEngineOptions
from geogen.engines.registry import get_engine, list_engines
from geogen.engines.text_diffusionsat.contract import DiffusionSatTextEngine
from geogen.errors import OptionsError
from geogen.models import SatUNet
from geogen.progress import NullReporter
from geogen.spec import parse_job
from geogen.store import Store, resolve


class CompileRecorder:
    """Stands in for ``torch.compile``: records each call's mode and compiles with dynamo's eager backend,
    counting the calls of the compiled functions."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.modes: list[str | None] = []
        self.calls = 0
        real = torch.compile

        def record(fn: Any, **kwargs: Any) -> Any:
            self.modes.append(kwargs.get("mode"))
            compiled = real(fn, backend="eager")

            def call(*args: Any, **kw: Any) -> Any:
                self.calls += 1
                return compiled(*args, **kw)

            return call

        monkeypatch.setattr(torch, "compile", record)


def text_job(tmp_path: Path, model: Path, name: str, compile: bool):
    return parse_job(
        {
            "task": "text",
            "prompt": "a fmow satellite image of a farm",
            "model": str(model),
            "aoi": {"bounds": [14.5000, 46.0400, 14.5045, 46.0428], "crs": "EPSG:4326"},
            "gsd": 5.0,
            "date": "2020-06-15",
            "seed": 3,
            "steps": 2,
            "guidance_scale": 3.0,
            "options": {"device": "cpu", "compile": compile, "window_batch_size": 9},
            "output": {"dir": str(tmp_path), "name": name, "overwrite": True},
        }
    )


def text_pixels(tmp_path: Path, model: Path, name: str, compile: bool) -> np.ndarray:
    job = text_job(tmp_path, model, name, compile)
    engine = DiffusionSatTextEngine(DiffusionSatTextEngine.parse_options(job.options), seed=job.seed)
    out = text_pipeline.run_text(job, engine, NullReporter())
    with rasterio.open(out.outputs[0].path) as ds:
        return ds.read().astype(int)


# every diffusion engine, with the options it cannot run without
DIFFUSION_ENGINES = {
    ("superres", "diffusionsat-sr"): {},
    ("superres", "diffusionsat-3d"): {},
    ("sketch", "controlnet"): {"controlnet": "seg2sat"},
    ("text", "diffusionsat"): {},
    ("temporal", "diffusionsat-3d"): {},
}


def test_compile_is_a_diffusion_option_of_every_engine() -> None:
    found = {(e.task, e.name) for e in list_engines() if issubclass(e.options_model, DiffusionEngineOptions)}
    assert found == set(DIFFUSION_ENGINES)
    for (task, name), needed in DIFFUSION_ENGINES.items():
        engine = get_engine(task, name)
        assert engine.parse_options(needed).diffusion.compile is False
        assert engine.parse_options({**needed, "compile": True}).diffusion.compile is True
        for bad in ("yes", 1, "true"):
            with pytest.raises(OptionsError, match=r"options.compile: input should be a valid boolean, got"):
                engine.parse_options({**needed, "compile": bad})


def test_compiled_text_job_gives_the_same_pixels(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = text_pixels(tmp_path, tiny_model_dir, "plain", False)
    recorder = CompileRecorder(monkeypatch)
    compiled = text_pixels(tmp_path, tiny_model_dir, "compiled", True)
    assert recorder.modes == [COMPILE_MODE]  # the UNet only: the text engine has no ControlNet
    assert recorder.calls == 2  # 2 steps, the 9 windows in one batch: every UNet call went through it
    assert np.abs(plain - compiled).max() <= 1
    assert (plain == compiled).mean() > 0.999


def test_compiled_modules_keep_their_class_attributes_and_hooks(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = CompileRecorder(monkeypatch)
    entry = resolve(str(tiny_model_dir), store=Store(tiny_model_dir.parent / "unused_store"))
    comps = load_components(entry, device="cpu", dtype="fp32", compile=True)
    unet = comps.unet
    assert type(unet) is SatUNet and comps.compile and recorder.modes == [COMPILE_MODE]
    assert unet.dtype == torch.float32 and comps.unet_factor == 2 and comps.num_metadata == 7
    seen: list[int] = []
    unet.register_forward_pre_hook(lambda _m, args, _kw: seen.append(args[0].shape[0]), with_kwargs=True)
    gen = torch.Generator().manual_seed(0)
    sample = torch.randn((2, 4, 8, 8), generator=gen)
    inputs = {
        "encoder_hidden_states": torch.randn((2, 77, 32), generator=gen),
        "metadata": torch.rand((2, 7), generator=gen) * 1000,
        "return_dict": False,
    }
    with torch.no_grad():
        out = unet(sample, torch.tensor([500, 500]), **inputs)[0]
        ref = unet._call_impl(sample, torch.tensor([500, 500]), **inputs)[0]  # the uncompiled path
    assert recorder.calls == 1 and seen == [2, 2]
    torch.testing.assert_close(out, ref)

    controlnet = torch.nn.Linear(3, 3)
    assert comps.adopt(controlnet) is controlnet and recorder.modes == [COMPILE_MODE] * 2
    assert not any(p.requires_grad for p in controlnet.parameters())
    comps.compile = False
    other = torch.nn.Linear(3, 3)
    assert comps.adopt(other) is other and len(recorder.modes) == 2


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("RUN_SLOW") != "1", reason="Inductor compiles for ~50 s on a CPU; RUN_SLOW=1"
)
def test_inductor_compiled_text_job_gives_the_same_pixels(tmp_path: Path, tiny_model_dir: Path) -> None:
    plain = text_pixels(tmp_path, tiny_model_dir, "plain", False)
    compiled = text_pixels(tmp_path, tiny_model_dir, "compiled", True)
    assert np.abs(plain - compiled).max() <= 1
