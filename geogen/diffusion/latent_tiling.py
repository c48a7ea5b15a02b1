"""Denoising a latent canvas of any size as overlapping windows (MultiDiffusion / Mixture of Diffusers).

At every denoising step the UNet runs on every latent window of a ``tiles.plan`` plan (``window_batch_size``
windows per call), each window with its own metadata (DiffusionSat: the window's centre in WGS84), its own
prompt and any extra UNet inputs a conditioning hook gives it (ControlNet residuals); the windows' predictions
are blended with ``tiles.blend`` weights (they sum to 1 over every latent pixel) and one scheduler step moves
the whole canvas. DDIM with eta = 0 is linear in the prediction, so blending predictions equals blending the
windows' denoised latents (MultiDiffusion's update), at one scheduler step per canvas.

Classifier-free guidance (guidance_scale > 1) runs each window twice in the same UNet call: the unconditional
half with the empty-prompt embedding and all-zero metadata (DiffusionSat's learned "unknown"), the conditional
half with the window's own. With guidance_scale <= 1 the unconditional half is skipped.

Initial noise is drawn block by block (``NOISE_BLOCK`` latent pixels square, aligned to the canvas origin),
each block from its own CPU generator seeded by (seed, block row, block column): the same job gives the same
noise, hence the same pixels, whatever the window size, overlap, batch size or device.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from geogen.errors import EngineError
from tiles import Tile, TileWeights, WeightKind, Window, plan

NOISE_BLOCK = 64
"""Side, in latent pixels, of the square blocks the initial noise is drawn in (one generator per block)."""

RESERVED_KWARGS = frozenset({"sample", "timestep", "encoder_hidden_states", "metadata", "return_dict"})

Progress = Callable[[int, int], None]


def block_seed(seed: int, row: int, col: int) -> int:
    """A 63-bit generator seed for noise block (row, col) of a job seeded with ``seed``."""
    digest = hashlib.sha256(f"geogen-noise:{int(seed)}:{int(row)}:{int(col)}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def initial_noise(shape: tuple[int, int, int], seed: int, *, block: int = NOISE_BLOCK) -> torch.Tensor:
    """Standard normal (channels, rows, cols) float32 noise on the CPU, drawn block by block (see module doc).

    A block cut by the canvas edge is drawn whole and cropped, so a larger canvas extends the noise of a
    smaller one instead of changing it.
    """
    channels, rows, cols = (int(s) for s in shape)
    noise = torch.empty(channels, rows, cols, dtype=torch.float32)
    for i in range(-(-rows // block)):
        for j in range(-(-cols // block)):
            gen = torch.Generator(device="cpu").manual_seed(block_seed(seed, i, j))
            values = torch.randn(channels, block, block, generator=gen, dtype=torch.float32)
            r0, c0 = i * block, j * block
            h, w = min(block, rows - r0), min(block, cols - c0)
            noise[:, r0 : r0 + h, c0 : c0 + w] = values[:, :h, :w]
    return noise


@dataclass(frozen=True)
class LatentWindow:
    """One window of the latent plan and what conditions it.

    Attributes:
        tile: the window in latent pixels of the canvas (``tile.scaled(vae_factor)`` is its pixel window).
        metadata: the window's normalised metadata vector (float32), or None for a UNet without metadata.
        prompt: index of the window's prompt among ``TextConditioning.cond``'s rows.
    """

    tile: Tile
    metadata: np.ndarray | None = None
    prompt: int = 0

    @property
    def window(self) -> Window:
        return self.tile.window


def plan_windows(
    shape: tuple[int, int],
    window: int | tuple[int, int],
    overlap: int,
    *,
    metadata: Callable[[Tile], np.ndarray | None] | None = None,
    prompt: Callable[[Tile], int] | None = None,
) -> list[LatentWindow]:
    """The latent windows over a canvas of ``shape`` = (rows, cols), each with its metadata and prompt index.

    Args:
        shape: latent canvas (rows, cols).
        window: window size in latent pixels (int or (rows, cols)); ``tiles.plan``'s edge policy applies.
        overlap: overlap between neighbouring windows, latent pixels.
        metadata: called once per tile for its normalised metadata vector (None: no metadata).
        prompt: called once per tile for its prompt index (None: prompt 0 everywhere).

    Raises:
        EngineError: a non-positive size, or an overlap outside [0, window).
    """
    try:
        tiles = plan(shape, window, overlap)
    except ValueError as exc:
        raise EngineError(f"cannot plan latent windows: {exc}") from None
    return [
        LatentWindow(
            tile,
            None if metadata is None else _as_vector(metadata(tile)),
            0 if prompt is None else int(prompt(tile)),
        )
        for tile in tiles
    ]


def _as_vector(value: np.ndarray | None) -> np.ndarray | None:
    return None if value is None else np.asarray(value, dtype=np.float32).reshape(-1)


@dataclass(frozen=True)
class TextConditioning:
    """Text embeddings: ``cond`` (P, tokens, width), a row per prompt; ``uncond`` (1, tokens, width) or None.

    ``uncond`` (the empty prompt's embedding) is needed only for classifier-free guidance.
    """

    cond: torch.Tensor
    uncond: torch.Tensor | None = None


@dataclass
class UNetCall:
    """One batched UNet evaluation as a conditioning hook sees it (B = windows in the call, x2 if guided).

    Attributes:
        step: denoising step index, 0-based.
        timestep: the scheduler's timestep (0-d tensor).
        sample: latent model input (B, C, h, w) in the compute dtype, on the device.
        encoder_hidden_states: text embeddings (B, tokens, width).
        metadata: (B, K) float32 metadata (all-zero rows for the unconditional half), or None.
        windows: the LatentWindow of each batch row (with guidance: the batch's windows, then the same again).
        unconditional: (B,) bool, True for the rows of the unconditional half.
    """

    step: int
    timestep: torch.Tensor
    sample: torch.Tensor
    encoder_hidden_states: torch.Tensor
    metadata: torch.Tensor | None
    windows: list[LatentWindow]
    unconditional: torch.Tensor


class ConditioningHook(Protocol):
    """Extra UNet keyword arguments for one batched call, e.g. a ControlNet's residuals for these windows.

    Called once per UNet call, before it; everything it returns is passed to the UNet as keyword arguments
    (batched along B like ``call.sample``). It may not return ``sample``, ``timestep``,
    ``encoder_hidden_states``, ``metadata`` or ``return_dict``.
    """

    def __call__(self, call: UNetCall) -> Mapping[str, Any]: ...


@dataclass
class DenoiseStats:
    """What a denoising run cost: UNet calls, window evaluations (a window's two guidance halves count
    once)."""

    unet_calls: int = 0
    window_evaluations: int = 0


class _Batch:
    """A group of windows evaluated in one UNet call, with its per-call inputs built once."""

    def __init__(
        self,
        windows: list[LatentWindow],
        text: TextConditioning,
        guided: bool,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        self.windows = windows
        n = len(windows)
        cond = text.cond[[w.prompt for w in windows]].to(device=device, dtype=dtype)
        meta = None
        if windows[0].metadata is not None:
            # every window has metadata when the first has (_check_inputs); mypy cannot see that
            meta = torch.from_numpy(np.stack([w.metadata for w in windows])).to(  # type: ignore[misc]
                device=device, dtype=torch.float32
            )
        if guided:
            assert text.uncond is not None  # invariant: _check_inputs requires it when guided
            uncond = text.uncond.to(device=device, dtype=dtype).expand(n, *text.uncond.shape[1:])
            self.hidden = torch.cat([uncond, cond])
            self.metadata = None if meta is None else torch.cat([torch.zeros_like(meta), meta])
            self.call_windows = windows + windows
            self.unconditional = torch.tensor([True] * n + [False] * n, device=device)
        else:
            self.hidden = cond
            self.metadata = meta
            self.call_windows = list(windows)
            self.unconditional = torch.zeros(n, dtype=torch.bool, device=device)


def _check_inputs(
    noise: torch.Tensor,
    windows: Sequence[LatentWindow],
    text: TextConditioning,
    guided: bool,
    window_batch_size: int,
) -> None:
    if noise.ndim != 3:
        raise EngineError(f"the latent canvas must be (channels, rows, cols), got shape {tuple(noise.shape)}")
    if not windows:
        raise EngineError("no latent windows to denoise")
    if window_batch_size < 1:
        raise EngineError(f"window_batch_size must be at least 1, got {window_batch_size}")
    with_meta = {w.metadata is not None for w in windows}
    if len(with_meta) != 1:
        raise EngineError("either every latent window has metadata or none has")
    if any(not 0 <= w.prompt < text.cond.shape[0] for w in windows):
        raise EngineError(f"a window's prompt index is outside the {text.cond.shape[0]} prompt embedding(s)")
    if guided and text.uncond is None:
        raise EngineError("guidance_scale > 1 needs the unconditional (empty prompt) embedding")


@torch.no_grad()
def denoise(
    unet: torch.nn.Module,
    scheduler: Any,
    noise: torch.Tensor,
    windows: Sequence[LatentWindow],
    text: TextConditioning,
    *,
    steps: int,
    guidance_scale: float = 7.5,
    window_batch_size: int = 4,
    weight_kind: WeightKind = "cosine",
    hook: ConditioningHook | None = None,
    progress: Progress | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    stats: DenoiseStats | None = None,
) -> torch.Tensor:
    """Denoise the latent canvas ``noise`` (C, rows, cols) over ``windows``; returns the clean latents.

    Args:
        unet: called as ``unet(sample, t, encoder_hidden_states=..., [metadata=...], **hook(call))``; returns
            an object with ``.sample`` or a tuple whose first item is the prediction.
        scheduler: a diffusers scheduler (DDIM); ``set_timesteps(steps)`` is called here.
        noise: initial noise (``initial_noise``), any device; it is scaled by ``init_noise_sigma``.
        windows: the plan's windows (``plan_windows``); they must cover the canvas.
        text: prompt embeddings (``uncond`` needed when guidance_scale > 1).
        steps: number of denoising steps.
        guidance_scale: classifier-free guidance weight; <= 1 skips the unconditional branch.
        window_batch_size: windows per UNet call (with guidance each call holds twice as many rows).
        weight_kind: blending ramp over window overlaps (``tiles.blend``).
        hook: per-call extra UNet inputs (see ``ConditioningHook``).
        progress: called as ``progress(done, total)`` after every UNet call (a cancellation point).
        device: where the UNet runs (default: the noise's device).
        dtype: the UNet's input dtype (default: the UNet's parameters' dtype); the canvas stays float32.
        stats: filled with the number of UNet calls and window evaluations when given.

    Returns:
        The denoised latent canvas (C, rows, cols), float32, on ``device``.

    Raises:
        EngineError: inconsistent inputs (no windows, windows outside or not covering the canvas, missing
            unconditional embedding, a hook returning reserved arguments).
    """
    guided = guidance_scale > 1.0
    _check_inputs(noise, windows, text, guided, window_batch_size)
    device = torch.device(device) if device is not None else noise.device
    if dtype is None:
        dtype = next(unet.parameters()).dtype if any(True for _ in unet.parameters()) else torch.float32
    canvas = (noise.shape[1], noise.shape[2])
    try:
        weights = TileWeights([w.tile for w in windows], weight_kind, canvas)
    except ValueError as exc:
        raise EngineError(f"the latent windows do not form a plan over the {canvas} canvas: {exc}") from None
    for axis, size in ((weights.rows, canvas[0]), (weights.cols, canvas[1])):
        reach = 0
        for k in range(len(axis)):
            reach = max(reach, axis.end(k)) if axis.offsets[k] <= reach else -1
        if reach != size:
            raise EngineError(f"the latent windows do not cover the {canvas} canvas")
    single = len(windows) == 1 and (windows[0].window.height, windows[0].window.width) == canvas
    row_w = {i: torch.from_numpy(weights.row_weights(i)).float().to(device) for i in range(len(weights.rows))}
    col_w = {j: torch.from_numpy(weights.col_weights(j)).float().to(device) for j in range(len(weights.cols))}
    batches = [
        _Batch(list(windows[k : k + window_batch_size]), text, guided, device, dtype)
        for k in range(0, len(windows), window_batch_size)
    ]
    stats = stats if stats is not None else DenoiseStats()

    scheduler.set_timesteps(steps, device=device)
    latents = (noise.to(device=device, dtype=torch.float32) * scheduler.init_noise_sigma)[None]
    total, done = len(scheduler.timesteps) * len(batches), 0
    for step, t in enumerate(scheduler.timesteps):
        prediction = None if single else torch.zeros_like(latents)
        for batch in batches:
            crops = torch.cat([latents[:, :, w.window.slices[0], w.window.slices[1]] for w in batch.windows])
            out = _evaluate(unet, scheduler, crops, t, step, batch, guidance_scale, guided, hook, dtype)
            stats.unet_calls += 1
            stats.window_evaluations += len(batch.windows)
            if single:
                prediction = out
            else:
                assert prediction is not None  # invariant: allocated above whenever not single
                for k, w in enumerate(batch.windows):
                    i, j = w.tile.index
                    rows, cols = w.window.slices
                    prediction[:, :, rows, cols] += out[k : k + 1] * (row_w[i][:, None] * col_w[j][None, :])
            done += 1
            if progress is not None:
                progress(done, total)
        latents = scheduler.step(prediction, t, latents, return_dict=False)[0]
    return latents[0]


def _evaluate(
    unet: torch.nn.Module,
    scheduler: Any,
    crops: torch.Tensor,
    t: torch.Tensor,
    step: int,
    batch: _Batch,
    guidance_scale: float,
    guided: bool,
    hook: ConditioningHook | None,
    dtype: torch.dtype,
) -> torch.Tensor:
    """The (guided) float32 prediction for one batch of window crops."""
    sample = scheduler.scale_model_input(crops, t).to(dtype)
    if guided:
        sample = torch.cat([sample, sample])
    kwargs: dict[str, Any] = {"encoder_hidden_states": batch.hidden}
    if batch.metadata is not None:
        kwargs["metadata"] = batch.metadata
    if hook is not None:
        call = UNetCall(
            step, t, sample, batch.hidden, batch.metadata, batch.call_windows, batch.unconditional
        )
        extra = dict(hook(call) or {})
        clash = RESERVED_KWARGS & set(extra)
        if clash:
            raise EngineError(f"a conditioning hook may not set {', '.join(sorted(clash))}")
        kwargs.update(extra)
    out = unet(sample, t, return_dict=False, **kwargs)
    pred = (out[0] if isinstance(out, (tuple, list)) else getattr(out, "sample", out)).float()
    if guided:
        uncond, cond = pred.chunk(2)
        pred = uncond + guidance_scale * (cond - uncond)
    return pred
