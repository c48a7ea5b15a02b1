"""One step of a temporal sequence with DiffusionSat's 3-D ControlNet: T known frames + a date -> a new one.

What the ControlNet receives, per batch row (one latent window, ``ControlNetHook`` from
``geogen.diffusion``):
- ``controlnet_cond`` (B, C, T, H, W): C = 3 (red, green, blue in [0, 1], i.e. 8-bit / 255, as DiffusionSat's
  training fed its temporal frames), T = the conditioning frames **in the order given** (the sequence plan
  gives them oldest first), H x W = that window's pixels of each frame (the same window of every frame, on the
  generated canvas; pixels a frame has no data for are filled with that frame's mean colour);
- ``cond_metadata`` (7, T): each frame's metadata (the window's centre and GSD, the frame's cloud cover and
  date), column t for frame t; all zeros (DiffusionSat's "unknown") for the unconditional half of guidance;
- ``metadata`` (7,): the target's (the window's centre and GSD, the target cloud cover and date), shared with
  the UNet.
The first frame of a sequence without any known frame is drawn by the single-image model alone
(``controlnet`` None). Noise is drawn per target date (``frame_seed``), so a date's frame does not depend
on the order the dates were generated in beyond its conditioning.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch

from geogen.diffusion.components import DiffusionComponents
from geogen.diffusion.control import ControlNetHook
from geogen.diffusion.decode import decode_latents
from geogen.diffusion.latent_tiling import (
    DenoiseStats,
    LatentWindow,
    TextConditioning,
    denoise,
    initial_noise,
    plan_windows,
)
from geogen.diffusion.layout import LatentLayout
from geogen.diffusion.sat_controlnets import check_same_family, condition_downsampling
from geogen.errors import EngineError, ModelError
from geogen.metadata import FIELDS, Metadata
from geogen.timeseries.condition import ConditionFrame
from tiles import Tile, Window

CONDITION_CHANNELS = 3
Progress = Callable[[int, int, str], None]


def filled(frame: ConditionFrame) -> np.ndarray:
    """The frame's (3, H, W) uint8 colours with invalid pixels set to its mean valid colour."""
    if frame.valid is None or frame.valid.all():
        return frame.rgb
    if not frame.valid.any():
        raise EngineError(f"the frame of {frame.date} has no valid pixel on the canvas")
    mean = frame.rgb[:, frame.valid].mean(axis=1).round().astype(np.uint8)
    return np.where(frame.valid[None], frame.rgb, mean[:, None, None])


class FrameStack:
    """The conditioning frames as a (C, T, H, W) float condition in [0, 1], built crop by crop.

    The frames stay uint8 (a quarter of float32's memory); ``stack[..., rows, cols]`` returns the float32
    tensor of that crop of every frame, which is what ``ControlNetHook`` asks for each window.
    """

    def __init__(self, frames: Sequence[np.ndarray]) -> None:
        if not frames:
            raise EngineError("a 3-D ControlNet needs at least one conditioning frame")
        shapes = {f.shape for f in frames}
        if len(shapes) != 1 or len(frames[0].shape) != 3 or frames[0].shape[0] != CONDITION_CHANNELS:
            raise EngineError(
                f"conditioning frames must all be (3, H, W) on one canvas, got {sorted(shapes)}"
            )
        self.frames = [np.ascontiguousarray(f, np.uint8) for f in frames]
        c, h, w = frames[0].shape
        self.shape = (c, len(frames), h, w)
        self.ndim = 4

    def __getitem__(self, key: tuple) -> torch.Tensor:
        if not (isinstance(key, tuple) and len(key) == 3 and key[0] is Ellipsis):
            raise EngineError("FrameStack is indexed as stack[..., rows, cols]")
        rows, cols = key[1], key[2]
        crop = np.stack([f[:, rows, cols] for f in self.frames], axis=1)  # (C, T, h, w)
        return torch.from_numpy(crop.astype(np.float32) / 255.0)


def frame_seed(seed: int, date: dt.date) -> int:
    """The noise seed of the frame of ``date`` in a job seeded with ``seed`` (63 bits)."""
    digest = hashlib.sha256(f"geogen-temporal:{int(seed)}:{date.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def window_metadata(
    layout: LatentLayout, tile: Tile, date: dt.date | None, cloud: float | None
) -> np.ndarray:
    """The normalised (7,) metadata of the image on ``tile``'s pixels of the canvas at ``date``."""
    window = tile.scaled(layout.factor).window
    return Metadata.from_grid(layout.canvas, date, cloud, window=window).normalize()


def condition_metadata(layout: LatentLayout, tile: Tile, frames: Sequence[ConditionFrame]) -> np.ndarray:
    """(7, T) float32: column t is frame t's metadata on ``tile`` (its date and cloud cover)."""
    return np.stack([window_metadata(layout, tile, f.date, f.cloud_cover) for f in frames], axis=1)


def check_pair(name: str, controlnet: torch.nn.Module, comps: DiffusionComponents) -> None:
    """Refuse a 3-D ControlNet that cannot steer ``comps``' UNet on its VAE's latent grid.

    Raises:
        ModelError: different architecture, not 3 condition channels, no metadata, or a condition
            encoder whose downsampling differs from the VAE's factor.
    """
    check_same_family(controlnet, comps.unet, f"the 3-D ControlNet {name!r}", "the DiffusionSat UNet")
    cn = cast("Mapping[str, Any]", controlnet.config)
    channels = int(cn.get("conditioning_in_channels", 0))
    if channels != CONDITION_CHANNELS:
        raise ModelError(
            f"the 3-D ControlNet {name!r} reads {channels} channels per frame; temporal frames are RGB (3)"
        )
    if getattr(controlnet, "metadata_embedding", None) is None or comps.num_metadata != len(FIELDS):
        raise ModelError(
            f"the 3-D ControlNet {name!r} and its base model must both read DiffusionSat metadata"
        )
    down = condition_downsampling(controlnet)
    if down != comps.vae_scale_factor:
        raise ModelError(
            f"the 3-D ControlNet {name!r} shrinks its frames {down} times but the VAE's latent grid is "
            f"{comps.vae_scale_factor} times coarser than the pixels: they do not fit together"
        )


@dataclass
class StepResult:
    """A generated frame on the canvas and what it cost."""

    rgb: np.ndarray
    windows: list[LatentWindow]
    stats: DenoiseStats


class TemporalGenerator:
    """Generates frames on ``layout``'s canvas with loaded components and an optional 3-D ControlNet.

    Args:
        comps: the DiffusionSat single-image model's components.
        controlnet: the 3-D ControlNet (None: only first frames from scratch can be drawn).
        layout: the canvas and latent windows.
        text: prompt embeddings (``uncond`` needed when ``guidance_scale`` > 1).
        steps: denoising steps.
        guidance_scale: classifier-free guidance (<= 1: off).
        controlnet_scale: multiplier of the ControlNet residuals.
        cloud_cover: the target frames' cloud cover metadata (None: unknown).
        window_batch_size: latent windows per UNet call.
        weight_kind: blending ramp over window overlaps.
        decode_tile: VAE decode tile side in latent pixels (default: the window).
    """

    def __init__(
        self,
        comps: DiffusionComponents,
        controlnet: torch.nn.Module | None,
        layout: LatentLayout,
        text: TextConditioning,
        *,
        steps: int,
        guidance_scale: float = 1.0,
        controlnet_scale: float = 1.0,
        cloud_cover: float | None = None,
        window_batch_size: int = 1,
        weight_kind: str = "cosine",
        decode_tile: int | None = None,
    ) -> None:
        self.comps = comps
        self.controlnet = controlnet
        self.layout = layout
        self.text = text
        self.steps = steps
        self.guidance_scale = guidance_scale
        self.controlnet_scale = controlnet_scale
        self.cloud_cover = cloud_cover
        self.window_batch_size = window_batch_size
        self.weight_kind = weight_kind
        self.decode_tile = decode_tile or layout.window

    def hook(self, frames: Sequence[ConditionFrame]) -> ControlNetHook:
        """The conditioning hook feeding ``frames`` (in this order) to the 3-D ControlNet for every window."""
        if self.controlnet is None:
            raise EngineError("conditioning on earlier frames needs the 3-D ControlNet")
        stack = FrameStack([filled(f) for f in frames])
        if stack.shape[-2:] != (self.layout.canvas.height, self.layout.canvas.width):
            raise EngineError(
                f"conditioning frames are {stack.shape[-2:]} px, the canvas {self.layout.canvas.shape}"
            )
        per_tile: dict[tuple[int, int], np.ndarray] = {}
        unknown = np.zeros((len(FIELDS), len(frames)), np.float32)

        def cond_metadata(window: LatentWindow, unconditional: bool) -> np.ndarray:
            if unconditional:
                return unknown
            if window.tile.index not in per_tile:
                per_tile[window.tile.index] = condition_metadata(self.layout, window.tile, frames)
            return per_tile[window.tile.index]

        return ControlNetHook(
            self.controlnet,
            stack,  # type: ignore[arg-type]
            vae_factor=self.layout.factor,
            pixels_per_cond_pixel=1,
            scale=self.controlnet_scale,
            cond_metadata=cond_metadata,
        )

    def generate(
        self,
        target: dt.date,
        frames: Sequence[ConditionFrame],
        seed: int,
        progress: Progress | None = None,
    ) -> StepResult:
        """The frame of ``target`` conditioned on ``frames`` (empty: the single-image model alone).

        Raises:
            EngineError: frames without a ControlNet, or frames not on the canvas.
        """
        layout, comps = self.layout, self.comps
        windows = plan_windows(
            layout.latent_shape,
            layout.window,
            layout.overlap,
            metadata=lambda t: window_metadata(layout, t, target, self.cloud_cover),
        )
        hook = self.hook(frames) if frames else None
        noise = initial_noise((comps.latent_channels, *layout.latent_shape), frame_seed(seed, target))
        stats = DenoiseStats()
        label = f" {target.isoformat()}"
        with torch.no_grad(), comps.placed(comps.unet) as unet:
            if hook is not None and self.controlnet is not None:
                self.controlnet.to(comps.device)
            latents = denoise(
                unet,
                comps.scheduler,
                noise,
                windows,
                self.text,
                steps=self.steps,
                guidance_scale=self.guidance_scale,
                window_batch_size=self.window_batch_size,
                weight_kind=self.weight_kind,  # type: ignore[arg-type]
                hook=hook,
                progress=(lambda d, n: progress(d, n, f"denoise{label}")) if progress else None,
                device=comps.device,
                dtype=comps.dtype,
                stats=stats,
            )
            if comps.cpu_offload and self.controlnet is not None:
                self.controlnet.to("cpu")
        rgb = self.decode(latents, (lambda d, n: progress(d, n, f"decode{label}")) if progress else None)
        return StepResult(rgb, windows, stats)

    def decode(self, latents: torch.Tensor, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """The (3, H, W) uint8 pixels of a latent canvas."""
        canvas = self.layout.canvas
        out = np.zeros((3, canvas.height, canvas.width), np.uint8)

        def sink(window: Window, array: np.ndarray) -> None:
            out[:, window.slices[0], window.slices[1]] = array

        with self.comps.placed(self.comps.vae) as vae:
            decode_latents(
                vae,
                latents,
                sink,
                tile=self.decode_tile,
                overlap=self.decode_tile // 4,
                device=self.comps.device,
                dtype=self.comps.dtype,
                progress=progress,
            )
        return out
