"""Sketch to scene with a land-cover ControlNet: whole areas denoised as one latent canvas, or single windows.

Whole area (what seamless output needs): the latent canvas is cut into overlapping windows
(``geogen.diffusion.latent_tiling``); every window gets its own prompt (the classes present under it,
``geogen.landcover.prompts``), its own condition crop through the ControlNet hook, and on a DiffusionSat base
its own metadata (centre lon/lat, GSD, date); the windows' predictions are blended at every step, so
neighbouring windows agree. Single window (``synthesize_window``): one tile alone, for tile-by-tile executors
that blend in pixel space (faster to distribute, but independent tiles can show seams).

Noise comes from ``initial_noise`` (blocks seeded by job seed and position), so a job's pixels do not depend
on the window batch size or device. The scheduler is UniPC or DDIM, built ``from_config`` from the model's
own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from geogen.diffusion.decode import DecodeStats, decode_latents
from geogen.diffusion.latent_tiling import (
    DenoiseStats,
    LatentWindow,
    TextConditioning,
    denoise,
    initial_noise,
    plan_windows,
)
from geogen.engines.sketch_controlnet.conditions import ReadClasses, WindowConditions
from geogen.engines.sketch_controlnet.hook import LandCoverControlHook
from geogen.engines.sketch_controlnet.models import SketchModels
from geogen.errors import EngineError
from geogen.landcover.prompts import window_prompt
from geogen.landcover.vocab import FLAIR19, Vocabulary
from tiles import Sink, Tile, WeightKind, Window

Progress = Callable[[int, int], None]
MetadataFn = Callable[[Tile], np.ndarray]


def make_scheduler(name: str, config: Any) -> Any:
    """A fresh UniPC or DDIM scheduler from a scheduler ``config`` (prediction type and betas carried over).

    Raises:
        EngineError: unknown scheduler name.
    """
    from diffusers import DDIMScheduler, UniPCMultistepScheduler

    classes = {"unipc": UniPCMultistepScheduler, "ddim": DDIMScheduler}
    if name not in classes:
        raise EngineError(f"unknown scheduler {name!r}; use one of {', '.join(classes)}")
    return classes[name].from_config(config)


@dataclass(frozen=True)
class SketchSettings:
    """How to sample: steps, guidance, ControlNet weight, scheduler, prompt parts, batching and blending."""

    steps: int = 20
    guidance_scale: float = 7.5
    controlnet_scale: float = 1.0
    scheduler: str = "unipc"
    place: str | None = None
    prompt: str | None = None
    window_batch_size: int = 1
    weight_kind: WeightKind = "cosine"
    condition_style: str = "legend"


@dataclass
class AreaResult:
    """A denoised latent canvas, its windows and prompts, and what it cost."""

    latents: torch.Tensor
    windows: list[LatentWindow]
    prompts: list[str]
    stats: DenoiseStats
    conditions: WindowConditions
    extra: dict[str, Any] = field(default_factory=dict)


class ControlNetSketcher:
    """A loaded land-cover ControlNet generator (base + ControlNet + merged LoRAs) and its sampling settings."""

    def __init__(
        self,
        models: SketchModels,
        settings: SketchSettings,
        vocab: Vocabulary = FLAIR19,
        channel_order: str = "rgb",
    ) -> None:
        self.models = models
        self.settings = settings
        self.vocab = vocab
        self.channel_order = channel_order
        self.factor = models.comps.vae_scale_factor
        self.step = self.factor * models.comps.unet_factor

    @property
    def guided(self) -> bool:
        """Classifier-free guidance on (an unconditional half in every UNet call)."""
        return self.settings.guidance_scale > 1.0

    def prompt_for(self, class_map: np.ndarray) -> str:
        """The prompt of one window: "Aerial view of <place>. <classes present>." + the user's prompt."""
        return window_prompt(class_map, self.vocab, self.settings.place, self.settings.prompt)

    def plan(
        self,
        latent_shape: tuple[int, int],
        window: int,
        overlap: int,
        conditions: WindowConditions,
        metadata: MetadataFn | None = None,
    ) -> tuple[list[LatentWindow], list[str]]:
        """The latent windows, each with its prompt index (distinct prompts listed once) and metadata."""
        prompts: dict[str, int] = {}

        def prompt_of(tile: Tile) -> int:
            return prompts.setdefault(self.prompt_for(conditions.class_map(tile)), len(prompts))

        with_meta = metadata if self.models.comps.num_metadata else None
        windows = plan_windows(latent_shape, window, overlap, metadata=with_meta, prompt=prompt_of)
        return windows, list(prompts)

    def encode(self, prompts: list[str]) -> TextConditioning:
        """Embeddings of the window prompts (and of the empty prompt when guided)."""
        comps = self.models.comps
        return TextConditioning(
            comps.encode_prompts(prompts), comps.encode_prompts([""]) if self.guided else None
        )

    def denoise_area(
        self,
        latent_shape: tuple[int, int],
        window: int,
        overlap: int,
        read: ReadClasses,
        seed: int,
        *,
        metadata: MetadataFn | None = None,
        cache_bytes: int = 0,
        progress: Progress | None = None,
    ) -> AreaResult:
        """Denoise a latent canvas of ``latent_shape`` whose pixel class maps ``read`` gives (see module doc).

        Raises:
            EngineError: window sizes that do not fit the UNet, or inconsistent inputs to the denoiser.
        """
        comps, s = self.models.comps, self.settings
        if window % comps.unet_factor:
            raise EngineError(
                f"latent window {window} is not a multiple of the UNet's factor {comps.unet_factor}"
            )
        conditions = WindowConditions(read, self.factor, self.vocab, cache_bytes, s.condition_style)
        windows, prompts = self.plan(latent_shape, window, overlap, conditions, metadata)
        hook = LandCoverControlHook(
            self.models.controlnet, conditions, scale=s.controlnet_scale, channel_order=self.channel_order
        )
        stats = DenoiseStats()
        with torch.no_grad():
            text = self.encode(prompts)
            noise = initial_noise((comps.latent_channels, *latent_shape), seed)
            scheduler = make_scheduler(s.scheduler, comps.scheduler.config)
            with comps.placed(comps.unet) as unet, comps.placed(self.models.controlnet):
                latents = denoise(
                    unet,
                    scheduler,
                    noise,
                    windows,
                    text,
                    steps=s.steps,
                    guidance_scale=s.guidance_scale,
                    window_batch_size=s.window_batch_size,
                    weight_kind=s.weight_kind,
                    hook=hook,
                    progress=progress,
                    device=comps.device,
                    dtype=comps.dtype,
                    stats=stats,
                )
        return AreaResult(latents, windows, prompts, stats, conditions, {"controlnet_calls": hook.calls})

    def decode(
        self, latents: torch.Tensor, sink: Sink, *, tile: int, overlap: int, progress: Progress | None = None
    ) -> DecodeStats:
        """Decode the canvas tile by tile into ``sink(window, (3, h, w) uint8)``; holds about a tile band."""
        comps = self.models.comps
        with comps.placed(comps.vae) as vae:
            return decode_latents(
                vae,
                latents,
                sink,
                tile=tile,
                overlap=overlap,
                device=comps.device,
                dtype=comps.dtype,
                weight_kind=self.settings.weight_kind,
                progress=progress,
            )

    def synthesize_window(
        self, class_map: np.ndarray, seed: int, *, metadata: np.ndarray | None = None
    ) -> tuple[np.ndarray, str]:
        """One window on its own: (3, h, w) uint8 image and its prompt (for tile-by-tile executors).

        Raises:
            EngineError: sides that are not multiples of the VAE x UNet factor, or a DiffusionSat base
                without metadata.
        """
        arr = np.asarray(class_map)
        h, w = arr.shape
        if h % self.step or w % self.step:
            raise EngineError(
                f"a window must measure a multiple of {self.step} px on each side for this model, "
                f"got {w} x {h}"
            )
        if self.models.comps.num_metadata and metadata is None:
            raise EngineError("a DiffusionSat base needs the window's metadata vector")
        shape = (h // self.factor, w // self.factor)
        meta = (lambda _t: metadata) if metadata is not None else None
        result = self.denoise_area(
            shape, max(shape), 0, lambda win: arr[win.slices], seed, metadata=meta, cache_bytes=arr.size
        )
        image = np.zeros((3, h, w), np.uint8)

        def sink(win: Window, pixels: np.ndarray) -> None:
            image[:, win.slices[0], win.slices[1]] = pixels

        self.decode(result.latents, sink, tile=max(shape), overlap=0)
        return image, result.prompts[0]
