"""The 3-D ControlNet step: what reaches the model (frames as (B, C, T, H, W) in the order given, per-frame
metadata as (B, 7, T)), that the metadata matters, and the checks on models and frames."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from affine import Affine

from geogen.diffusion.components import load_components
from geogen.diffusion.latent_tiling import TextConditioning
from geogen.diffusion.layout import latent_layout
from geogen.engines.temporal_controlnet.generator import (
    ConditionFrame,
    FrameStack,
    TemporalGenerator,
    check_pair,
    filled,
)
from geogen.engines.temporal_controlnet.models import load_controlnet_3d
from geogen.errors import EngineError, ModelError
from geogen.metadata import Metadata
from geogen.store import Store, resolve
from tiles import Grid

GRID = Grid(40, 36, Affine(10, 0, 465400, 0, -10, 5080000), "EPSG:32633")  # 4 latent windows of 32 px
SMALL = Grid(32, 32, Affine(10, 0, 465400, 0, -10, 5080000), "EPSG:32633")  # one window
DATES = (dt.date(2015, 7, 11), dt.date(2015, 8, 1), dt.date(2015, 8, 30))
TARGET = dt.date(2015, 9, 15)


@pytest.fixture(scope="module")
def loaded(temporal_models: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """(components, 3-D ControlNet) loaded on the CPU through the store and geogen's checked loaders."""
    base, cn = temporal_models
    store = Store(tmp_path_factory.mktemp("store"))
    comps = load_components(resolve(str(base), store=store), device="cpu", dtype="fp32")
    controlnet = load_controlnet_3d(resolve(str(cn), store=store), comps.dtype)
    return comps, controlnet


def _frames(seed: int = 0, dates: tuple[dt.date, ...] = DATES, grid: Grid = GRID) -> list[ConditionFrame]:
    gen = np.random.default_rng(seed)
    frames = []
    for k, d in enumerate(dates):
        rgb = gen.integers(0, 256, (3, grid.height, grid.width), dtype=np.uint8)
        valid = np.ones(grid.shape, bool)
        if k == 1:
            valid[:5, :7] = False  # a frame with a nodata corner
        frames.append(ConditionFrame(d, rgb, valid, cloud_cover=0.1 * k or None))
    return frames


def _generator(comps: Any, controlnet: Any, guidance: float = 1.0, grid: Grid = GRID) -> TemporalGenerator:
    layout = latent_layout(grid, factor=2, unet_factor=2, window_px=32, overlap_px=8)
    with torch.no_grad():
        text = TextConditioning(
            comps.encode_prompts(["a satellite image"]), comps.encode_prompts([""]) if guidance > 1 else None
        )
    return TemporalGenerator(comps, controlnet, layout, text, steps=2, guidance_scale=guidance)


class _Capture:
    """Forward pre-hook recording every ControlNet call's keyword inputs."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.calls: list[dict[str, Any]] = []
        self.handle = module.register_forward_pre_hook(self._record, with_kwargs=True)

    def _record(self, module: torch.nn.Module, args: tuple, kwargs: dict[str, Any]) -> None:
        self.calls.append({k: v.detach().clone() if torch.is_tensor(v) else v for k, v in kwargs.items()})

    def __enter__(self) -> _Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.remove()


def test_controlnet_receives_frames_in_order_and_their_metadata(loaded: tuple[Any, Any]) -> None:
    comps, controlnet = loaded
    gen = _generator(comps, controlnet)
    frames = _frames()
    with _Capture(controlnet) as cap:
        result = gen.generate(TARGET, frames, seed=5)
    windows = result.windows
    assert len(windows) == 4 and len(cap.calls) == 2 * len(windows)  # 2 steps, one window per call
    canvas = gen.layout.canvas
    for call, window in zip(cap.calls, windows + windows, strict=True):
        cond = call["controlnet_cond"]
        px = window.tile.scaled(2).window
        assert cond.shape == (1, 3, 3, px.height, px.width)  # (B, C, T, H, W)
        for t, frame in enumerate(frames):
            expected = filled(frame)[:, px.slices[0], px.slices[1]].astype(np.float32) / 255
            np.testing.assert_allclose(cond[0, :, t].numpy(), expected, atol=1e-7)
        cond_md = call["cond_metadata"]
        assert cond_md.shape == (1, 7, 3) and cond_md.dtype == torch.float32
        for t, frame in enumerate(frames):
            md = Metadata.from_grid(canvas, frame.date, frame.cloud_cover, window=px).normalize()
            np.testing.assert_allclose(cond_md[0, :, t].numpy(), md, rtol=1e-6)
        target_md = Metadata.from_grid(canvas, TARGET, None, window=px).normalize()
        np.testing.assert_allclose(call["metadata"][0].numpy(), target_md, rtol=1e-6)
    assert result.rgb.shape == (3, canvas.height, canvas.width) and result.rgb.dtype == np.uint8


def test_nodata_is_filled_with_the_frame_mean() -> None:
    frame = _frames()[1]
    out = filled(frame)
    mean = frame.rgb[:, frame.valid].mean(axis=1).round()
    np.testing.assert_array_equal(out[:, :5, :7], np.broadcast_to(mean[:, None, None], (3, 5, 7)))
    np.testing.assert_array_equal(out[:, 5:], frame.rgb[:, 5:])


def test_guidance_zeroes_the_unconditional_metadata(loaded: tuple[Any, Any]) -> None:
    comps, controlnet = loaded
    with _Capture(controlnet) as cap:
        _generator(comps, controlnet, guidance=3.0, grid=SMALL).generate(TARGET, _frames(grid=SMALL), seed=5)
    call = cap.calls[0]
    assert call["controlnet_cond"].shape[0] == 2  # unconditional half, then conditional
    torch.testing.assert_close(call["controlnet_cond"][0], call["controlnet_cond"][1])
    assert (call["cond_metadata"][0] == 0).all() and (call["cond_metadata"][1] != 0).any()
    assert (call["metadata"][0] == 0).all()


def test_frame_dates_reach_the_model(loaded: tuple[Any, Any]) -> None:
    comps, controlnet = loaded
    gen = _generator(comps, controlnet, grid=SMALL)
    base = gen.generate(TARGET, _frames(grid=SMALL), seed=5).rgb
    again = gen.generate(TARGET, _frames(grid=SMALL), seed=5).rgb
    moved = gen.generate(TARGET, _frames(dates=(dt.date(2015, 7, 12), *DATES[1:]), grid=SMALL), seed=5).rgb
    np.testing.assert_array_equal(base, again)
    assert (base != moved).mean() > 0.05  # one day earlier on one frame


def test_first_frame_without_controlnet(loaded: tuple[Any, Any]) -> None:
    comps, controlnet = loaded
    gen = _generator(comps, None, grid=SMALL)
    with _Capture(controlnet) as cap:
        rgb = gen.generate(TARGET, [], seed=1).rgb
    assert not cap.calls and rgb.shape == (3, 32, 32)
    with pytest.raises(EngineError, match="needs the 3-D ControlNet"):
        gen.generate(TARGET, _frames(grid=SMALL), seed=1)


def test_incompatible_controlnet_is_refused(loaded: tuple[Any, Any]) -> None:
    from geogen.models import SatControlNetModel3D

    comps, _ = loaded
    four = SatControlNetModel3D.from_unet(
        comps.unet, conditioning_in_channels=4, conditioning_embedding_out_channels=(8, 16)
    )
    with pytest.raises(ModelError, match="reads 4 channels per frame"):
        check_pair("four", four, comps)
    shrinks = SatControlNetModel3D.from_unet(
        comps.unet, conditioning_in_channels=3, conditioning_embedding_out_channels=(8, 16, 16)
    )
    with pytest.raises(ModelError, match="shrinks its frames 4 times"):
        check_pair("shrinks", shrinks, comps)


def test_frame_stack_shape_and_errors() -> None:
    frames = [np.full((3, 4, 5), k, np.uint8) for k in range(3)]
    stack = FrameStack(frames)
    assert stack.shape == (3, 3, 4, 5) and stack.ndim == 4
    crop = stack[..., 1:3, 2:5]
    assert crop.shape == (3, 3, 2, 3)
    np.testing.assert_allclose(
        [float(crop[0, t, 0, 0]) for t in range(3)], [0.0, 1 / 255, 2 / 255], rtol=1e-6
    )
    with pytest.raises(EngineError, match="on one canvas"):
        FrameStack([frames[0], np.zeros((3, 4, 6), np.uint8)])
    with pytest.raises(EngineError, match="at least one"):
        FrameStack([])
