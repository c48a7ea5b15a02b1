"""The conditioning hook with a real (tiny, random) DiffusionSat ControlNet: per-window crops, residuals
used."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geogen.diffusion.control import ControlNetHook
from geogen.diffusion.latent_tiling import TextConditioning, denoise, initial_noise, plan_windows
from geogen.errors import EngineError
from geogen.models import SatControlNetModel
from tests.tiny_models import randomize_

CANVAS, WINDOW, OVERLAP = (32, 32), 16, 4  # latent pixels; the tiny VAE's factor is 2


@pytest.fixture(scope="module")
def controlnet(tiny_components) -> SatControlNetModel:
    """10-channel condition at the output resolution (one stride-2 stage to the tiny VAE's latents)."""
    model = SatControlNetModel.from_unet(
        tiny_components.unet,
        conditioning_in_channels=10,
        conditioning_scale=1,
        conditioning_embedding_out_channels=(8, 16),
    )
    return randomize_(model, seed=5).eval()


def metadata(tile) -> np.ndarray:
    i, j = tile.index
    return np.array([540 + j, 755 - i, 5000, 0, 333.3, 500, 32.3], dtype=np.float32)


def test_each_window_gets_its_crop_and_the_residuals_change_the_result(tiny_components, controlnet) -> None:
    comps = tiny_components
    condition = torch.rand(10, 64, 64, generator=torch.Generator().manual_seed(0))  # the 64 px canvas
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    handle = controlnet.register_forward_pre_hook(
        lambda m, args, kwargs: seen.append(
            (kwargs["controlnet_cond"].clone(), kwargs["cond_metadata"].clone())
        ),
        with_kwargs=True,
    )
    hook = ControlNetHook(
        controlnet,
        condition,
        vae_factor=2,
        pixels_per_cond_pixel=1,
        cond_metadata=lambda w, uncond: (
            np.zeros(7, np.float32)
            if uncond
            else np.array([*w.metadata[:2], 10000, *w.metadata[3:]], dtype=np.float32)
        ),
    )
    windows = plan_windows(CANVAS, WINDOW, OVERLAP, metadata=metadata)
    text = TextConditioning(comps.encode_prompts(["a satellite image"]), comps.encode_prompts([""]))
    try:
        with_cn = denoise(
            comps.unet,
            comps.scheduler,
            initial_noise((4, *CANVAS), 1),
            windows,
            text,
            steps=1,
            guidance_scale=2.0,
            window_batch_size=4,
            hook=hook,
        )
    finally:
        handle.remove()
    plain = denoise(
        comps.unet,
        comps.scheduler,
        initial_noise((4, *CANVAS), 1),
        windows,
        text,
        steps=1,
        guidance_scale=2.0,
        window_batch_size=4,
    )
    assert float((with_cn - plain).abs().mean()) > 1e-5  # identical runs differ by exactly 0 on the CPU
    crops = torch.cat([c[c.shape[0] // 2 :] for c, _ in seen])  # conditional rows, in plan order
    for w, crop in zip(windows, crops, strict=True):
        r, c = 2 * w.window.row_off, 2 * w.window.col_off  # pixel offsets: latent x the VAE factor
        assert torch.equal(crop, condition[:, r : r + 2 * WINDOW, c : c + 2 * WINDOW])
    cond_md = torch.cat([m for _, m in seen])
    assert (cond_md[:4] == 0).all() and (cond_md[4:8, 2] == 10000).all()


def test_crop_at_a_coarser_condition_resolution(controlnet) -> None:
    """SR layout: one condition pixel per 2 output pixels; windows off that grid are refused."""
    condition = torch.arange(10 * 16 * 16, dtype=torch.float32).reshape(10, 16, 16)
    hook = ControlNetHook(controlnet, condition, vae_factor=2, pixels_per_cond_pixel=2)
    window = plan_windows((16, 16), 8, 0)[1]  # latent columns 8..16 -> pixels 16..32 -> condition 8..16
    assert torch.equal(hook.crop(window), condition[:, 0:8, 8:16])
    odd = ControlNetHook(controlnet, condition, vae_factor=2, pixels_per_cond_pixel=4)
    with pytest.raises(EngineError, match="whole condition pixels"):
        odd.crop(plan_windows((15, 16), 8, 1)[-1])


def test_condition_must_cover_the_canvas(tiny_components, controlnet) -> None:
    hook = ControlNetHook(controlnet, torch.zeros(10, 40, 40), vae_factor=2)
    windows = plan_windows(CANVAS, WINDOW, OVERLAP, metadata=metadata)
    text = TextConditioning(tiny_components.encode_prompts(["x"]))
    with pytest.raises(EngineError, match="does not cover"):
        denoise(
            tiny_components.unet,
            tiny_components.scheduler,
            initial_noise((4, *CANVAS), 0),
            windows,
            text,
            steps=1,
            guidance_scale=1.0,
            hook=hook,
        )
