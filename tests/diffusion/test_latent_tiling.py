"""MultiDiffusion over latent windows: seamless blending, determinism, per-window metadata, guidance,
noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler

from geogen.diffusion.latent_tiling import (
    NOISE_BLOCK,
    DenoiseStats,
    TextConditioning,
    UNetCall,
    denoise,
    initial_noise,
    plan_windows,
)
from geogen.errors import EngineError
from tests.diffusion.standins import PositionalUNet, position_hook, relative_position_hook
from tests.tiny_models import SCHEDULER

CANVAS = (32, 32)  # four times the 16 x 16 window's area
WINDOW, OVERLAP = 16, 4


def scheduler() -> DDIMScheduler:
    return DDIMScheduler(**SCHEDULER)


def text(prompts: int = 1) -> TextConditioning:
    gen = torch.Generator().manual_seed(7)
    return TextConditioning(torch.randn(prompts, 6, 8, generator=gen), torch.zeros(1, 6, 8))


def fake_metadata(tile) -> np.ndarray:
    """A distinct vector per window, as DiffusionSat's would be (lon grows east, lat grows north)."""
    i, j = tile.index
    return np.array([500 + j, 700 - i, 5000, 0, 333.3, 500, 32.3], dtype=np.float32)


def run(
    unet,
    windows,
    *,
    seed: int = 0,
    guidance: float = 3.0,
    batch: int = 4,
    hook=position_hook,
    steps: int = 4,
    stats: DenoiseStats | None = None,
    kind: str = "cosine",
) -> torch.Tensor:
    noise = initial_noise((4, *CANVAS), seed)
    return denoise(
        unet,
        scheduler(),
        noise,
        windows,
        text(),
        steps=steps,
        guidance_scale=guidance,
        window_batch_size=batch,
        hook=hook,
        stats=stats,
        weight_kind=kind,
    )


@pytest.mark.parametrize("kind", ["cosine", "linear", "constant"])
def test_tiled_denoising_equals_untiled(kind: str) -> None:
    """A 4x-window area: overlapping windows blended per step give the single-window result (no seams)."""
    tiled = plan_windows(CANVAS, WINDOW, OVERLAP)
    assert len(tiled) == 9
    whole = plan_windows(CANVAS, CANVAS[0], 0)
    a = run(PositionalUNet(), tiled, kind=kind)
    b = run(PositionalUNet(), whole)
    assert a.shape == (4, *CANVAS)
    assert torch.allclose(a, b, atol=1e-5), float((a - b).abs().max())
    assert float(a.std()) > 0.1  # a real image-sized signal, not zeros


def test_window_relative_content_shows_seams() -> None:
    """The check above can fail: windows that each see only their own coordinates disagree in the overlaps."""
    tiled = run(PositionalUNet(), plan_windows(CANVAS, WINDOW, OVERLAP), hook=relative_position_hook)
    whole = run(PositionalUNet(), plan_windows(CANVAS, CANVAS[0], 0), hook=relative_position_hook)
    assert float((tiled - whole).abs().max()) > 0.1


def test_same_seed_same_latents_whatever_the_batch_size() -> None:
    windows = plan_windows(CANVAS, WINDOW, OVERLAP, metadata=fake_metadata)
    results = [run(PositionalUNet(), windows, batch=b) for b in (1, 2, 4, 9)]
    for other in results[1:]:
        assert torch.equal(results[0], other)
    assert not torch.allclose(results[0], run(PositionalUNet(), windows, seed=1), atol=1e-3)


def test_same_seed_same_latents_with_the_real_unet(tiny_components) -> None:
    """The tiny SatUNet, windows batched 1 or 3 at a time: the same latents to float precision."""
    comps = tiny_components
    windows = plan_windows(CANVAS, WINDOW, OVERLAP, metadata=fake_metadata)
    cond = TextConditioning(comps.encode_prompts(["a satellite image"]), comps.encode_prompts([""]))
    out = []
    for batch in (1, 3):
        noise = initial_noise((4, *CANVAS), 5)
        out.append(
            denoise(
                comps.unet,
                comps.scheduler,
                noise,
                windows,
                cond,
                steps=2,
                guidance_scale=4.0,
                window_batch_size=batch,
            )
        )
    assert torch.allclose(out[0], out[1], atol=1e-5), float((out[0] - out[1]).abs().max())


def test_each_window_gets_its_own_metadata_and_guidance_zeros() -> None:
    unet = PositionalUNet()
    windows = plan_windows(CANVAS, WINDOW, OVERLAP, metadata=fake_metadata)
    run(unet, windows, batch=4, steps=1, guidance=3.0)
    seen = []
    offset = 0
    for call in unet.calls:
        n = call["batch"] // 2
        md = call["metadata"]
        assert torch.equal(md[:n], torch.zeros(n, 7))  # unconditional half: all unknown
        seen.extend(md[n:].numpy())
        # unconditional rows get the empty prompt's embedding, conditional rows the prompt's
        assert torch.equal(call["hidden"][:n], torch.zeros(n, 6, 8))
        assert torch.equal(call["hidden"][n:], text().cond.expand(n, 6, 8))
        offset += n
    assert offset == len(windows)
    expected = [fake_metadata(w.tile) for w in windows]
    np.testing.assert_array_equal(np.stack(seen), np.stack(expected))
    assert len({tuple(v) for v in seen}) == len(windows)


def test_guidance_one_skips_the_unconditional_branch() -> None:
    windows = plan_windows(CANVAS, WINDOW, OVERLAP, metadata=fake_metadata)
    plain, guided = PositionalUNet(), PositionalUNet()
    s1, s2 = DenoiseStats(), DenoiseStats()
    run(plain, windows, guidance=1.0, batch=4, steps=3, stats=s1)
    run(guided, windows, guidance=7.5, batch=4, steps=3, stats=s2)
    calls_per_step = -(-len(windows) // 4)
    assert len(plain.calls) == len(guided.calls) == s1.unet_calls == 3 * calls_per_step
    assert sum(c["batch"] for c in plain.calls) == 3 * len(windows)
    assert sum(c["batch"] for c in guided.calls) == 2 * 3 * len(windows)
    assert s1.window_evaluations == s2.window_evaluations == 3 * len(windows)
    assert all(torch.equal(c["hidden"], text().cond.expand(c["batch"], 6, 8)) for c in plain.calls)


def test_guidance_changes_the_result() -> None:
    windows = plan_windows(CANVAS, WINDOW, OVERLAP)
    assert not torch.allclose(
        run(PositionalUNet(), windows, guidance=1.0), run(PositionalUNet(), windows, guidance=5.0), atol=1e-3
    )


def test_per_window_prompts() -> None:
    unet = PositionalUNet()
    windows = plan_windows(CANVAS, WINDOW, OVERLAP, prompt=lambda t: t.index[1] % 2)
    noise = initial_noise((4, *CANVAS), 0)
    denoise(
        unet,
        scheduler(),
        noise,
        windows,
        text(prompts=2),
        steps=1,
        guidance_scale=1.0,
        window_batch_size=len(windows),
        hook=position_hook,
    )
    hidden = unet.calls[0]["hidden"]
    for k, w in enumerate(windows):
        assert torch.equal(hidden[k], text(prompts=2).cond[w.prompt])


def test_hook_sees_the_call_and_may_not_override_core_inputs() -> None:
    seen: list[UNetCall] = []

    def hook(call: UNetCall) -> dict:
        seen.append(call)
        return position_hook(call)

    windows = plan_windows(CANVAS, WINDOW, OVERLAP)
    run(PositionalUNet(), windows, hook=hook, steps=1, batch=9, guidance=2.0)
    call = seen[0]
    assert call.sample.shape == (18, 4, WINDOW, WINDOW)
    assert call.unconditional.tolist() == [True] * 9 + [False] * 9
    assert [w.tile.index for w in call.windows] == [w.tile.index for w in windows] * 2
    with pytest.raises(EngineError, match="metadata"):
        run(PositionalUNet(), windows, hook=lambda c: {"metadata": None, **position_hook(c)}, steps=1)


def test_bad_inputs_are_refused() -> None:
    windows = plan_windows(CANVAS, WINDOW, OVERLAP)
    noise = initial_noise((4, *CANVAS), 0)
    with pytest.raises(EngineError, match="unconditional"):
        denoise(
            PositionalUNet(),
            scheduler(),
            noise,
            windows,
            TextConditioning(text().cond),
            steps=1,
            guidance_scale=2.0,
            hook=position_hook,
        )
    with pytest.raises(EngineError, match="cover"):
        denoise(
            PositionalUNet(),
            scheduler(),
            initial_noise((4, 40, 32), 0),
            windows,
            text(),
            steps=1,
            hook=position_hook,
        )
    with pytest.raises(EngineError, match="overlap"):
        plan_windows(CANVAS, WINDOW, WINDOW)


def test_noise_is_drawn_per_block_and_extends_with_the_canvas() -> None:
    small = initial_noise((4, 40, 24), 3)
    big = initial_noise((4, NOISE_BLOCK + 30, 2 * NOISE_BLOCK + 5), 3)
    assert torch.equal(big[:, :40, :24], small)
    assert not torch.equal(initial_noise((4, 40, 24), 4), small)
    assert not torch.equal(big[:, :, :NOISE_BLOCK][:, :30], big[:, :, NOISE_BLOCK : 2 * NOISE_BLOCK][:, :30])
    assert abs(float(big.mean())) < 0.05 and abs(float(big.std()) - 1) < 0.05
