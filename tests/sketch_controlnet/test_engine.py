"""The ControlNet sketch engine against diffusers' own ControlNet pipeline, and its per-window conditions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from geogen.diffusion.latent_tiling import initial_noise
from geogen.engines.sketch_controlnet.engine import ControlNetSketcher, SketchSettings, make_scheduler
from geogen.errors import EngineError
from geogen.landcover.vocab import FLAIR19, classes_from_condition, render_condition
from tests.sketch_controlnet.conftest import crop_codes

PALETTE = {tuple(c.colour) for c in FLAIR19.classes}


def _engine(models, **kw) -> ControlNetSketcher:
    settings = SketchSettings(**{"steps": 3, "scheduler": "ddim", "guidance_scale": 7.5, **kw})
    return ControlNetSketcher(models, settings)


@pytest.mark.parametrize("scheduler", ["ddim", "unipc"])
def test_one_window_matches_diffusers_controlnet_pipeline(
    sd_models, flair_crop: Path, scheduler: str
) -> None:
    from diffusers import StableDiffusionControlNetPipeline

    comps = sd_models.comps
    class_map = crop_codes(flair_crop)[16:48, 32:64]
    engine = _engine(sd_models, scheduler=scheduler, place="Rennes", prompt="summer")
    result = engine.denoise_area((16, 16), 16, 0, lambda win: class_map[win.slices], seed=5)
    assert result.prompts == [engine.prompt_for(class_map)]

    pipe = StableDiffusionControlNetPipeline(
        vae=comps.vae,
        text_encoder=comps.text_encoder,
        tokenizer=comps.tokenizer,
        unet=comps.unet,
        controlnet=sd_models.controlnet,
        scheduler=make_scheduler(scheduler, comps.scheduler.config),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    image = torch.from_numpy(render_condition(class_map)).float()[None] / 255
    reference = pipe(
        result.prompts[0],
        image=image,
        height=32,
        width=32,
        num_inference_steps=3,
        guidance_scale=7.5,
        negative_prompt="",
        latents=initial_noise((4, 16, 16), 5)[None],
        output_type="latent",
    ).images[0]
    torch.testing.assert_close(result.latents, reference, rtol=1e-4, atol=1e-5)
    assert result.stats.unet_calls == 3 and result.extra["controlnet_calls"] == 3


def _window_classes(path: Path, pixel_window) -> np.ndarray:
    """The window's class codes read straight from the file (independent of geogen's class sources)."""
    with rasterio.open(path) as ds:
        return ds.read(1, window=pixel_window.to_rasterio(), boundless=True, fill_value=0)


def test_each_window_gets_its_own_exact_condition_and_prompt(sd_models, flair_crop: Path) -> None:
    seen: list[torch.Tensor] = []
    handle = sd_models.controlnet.register_forward_pre_hook(
        lambda _m, _a, kw: seen.append(kw["controlnet_cond"].clone()), with_kwargs=True
    )
    codes = crop_codes(flair_crop)
    engine = _engine(sd_models, steps=1, place="Lannion")
    try:
        result = engine.denoise_area((32, 32), 16, 4, lambda win: codes[win.slices], seed=0)
    finally:
        handle.remove()
    assert len(result.windows) == 9 and len(seen) == 9  # one step, one window per call
    names = {c.code: c.name for c in FLAIR19.classes}
    for window, cond in zip(result.windows, seen, strict=True):
        pixel_window = window.tile.scaled(2).window
        expected_codes = _window_classes(flair_crop, pixel_window)
        assert cond.shape == (2, 3, 32, 32)  # both guidance halves see the condition
        rgb = torch.round(cond[1] * 255).to(torch.uint8).numpy()
        torch.testing.assert_close(cond[1] * 255, torch.from_numpy(rgb).float(), rtol=0, atol=1e-4)
        assert {tuple(p) for p in rgb.reshape(3, -1).T} <= PALETTE | {(0, 0, 0)}
        np.testing.assert_array_equal(rgb, render_condition(expected_codes))
        np.testing.assert_array_equal(
            classes_from_condition(rgb)[expected_codes != 0], expected_codes[expected_codes != 0]
        )
        present = [names[c] for c in sorted(set(np.unique(expected_codes).tolist()) - {0})]
        assert result.prompts[window.prompt] == f"Aerial view of Lannion. {', '.join(present)}."
    assert len(set(result.prompts)) == len(result.prompts) > 1


def test_condition_budget_changes_memory_not_pixels(sd_models, flair_crop: Path) -> None:
    codes = crop_codes(flair_crop)
    engine = _engine(sd_models, steps=2, guidance_scale=1.0)
    kept = engine.denoise_area((32, 32), 16, 4, lambda win: codes[win.slices], seed=3, cache_bytes=10**6)
    streamed = engine.denoise_area((32, 32), 16, 4, lambda win: codes[win.slices], seed=3, cache_bytes=0)
    assert torch.equal(kept.latents, streamed.latents)
    assert kept.conditions.reads == 9 and kept.conditions.kept_bytes == 9 * 32 * 32
    assert streamed.conditions.reads == 9 * 3 and streamed.conditions.kept_bytes == 0
    assert streamed.conditions.peak_bytes <= 32 * 32 * 2  # one window's class map (+ its batch copy)


def test_single_window_mode_is_deterministic_per_seed(sd_models, flair_crop: Path) -> None:
    engine = _engine(sd_models, steps=2)
    class_map = crop_codes(flair_crop)[:32, :32]
    a, prompt = engine.synthesize_window(class_map, seed=11)
    b, _ = engine.synthesize_window(class_map, seed=11)
    c, _ = engine.synthesize_window(class_map, seed=12)
    assert a.shape == (3, 32, 32) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert prompt == engine.prompt_for(class_map)
    with pytest.raises(EngineError, match="multiple of 4 px"):
        engine.synthesize_window(class_map[:30, :30], seed=0)


def test_controlnet_scale_zero_skips_the_controlnet(sd_models, flair_crop: Path) -> None:
    codes = crop_codes(flair_crop)[:32, :32]
    off = _engine(sd_models, steps=2, controlnet_scale=0.0).denoise_area(
        (16, 16), 16, 0, lambda w: codes[w.slices], seed=1
    )
    on = _engine(sd_models, steps=2).denoise_area((16, 16), 16, 0, lambda w: codes[w.slices], seed=1)
    assert off.extra["controlnet_calls"] == 0 and on.extra["controlnet_calls"] == 2
    assert not torch.allclose(off.latents, on.latents)


def test_batching_windows_keeps_each_windows_condition(sd_models, flair_crop: Path) -> None:
    codes = crop_codes(flair_crop)
    one = _engine(sd_models, steps=2, window_batch_size=1)
    four = _engine(sd_models, steps=2, window_batch_size=4)
    a = one.denoise_area((32, 32), 16, 4, lambda w: codes[w.slices], seed=9)
    b = four.denoise_area((32, 32), 16, 4, lambda w: codes[w.slices], seed=9)
    assert (a.stats.unet_calls, b.stats.unet_calls) == (2 * 9, 2 * 3)
    torch.testing.assert_close(a.latents, b.latents, rtol=1e-4, atol=1e-5)
