"""A ControlNet as a per-window conditioning hook: each window's crop of a condition -> UNet residuals.

The condition (a land-cover render, Sentinel-2 bands, earlier frames) covers the whole generated canvas at
``pixels_per_cond_pixel`` output pixels per condition pixel (1 for sketch ControlNets, 2 for DiffusionSat's SR
model: 256 px of Sentinel-2 for 512 px of output). For every batched UNet call the hook crops each window's
    part
of the last two axes, so the same class serves 2-D conditions (C, H, W) and the 3-D ControlNet's (C, T, H, W).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from geogen.diffusion.latent_tiling import LatentWindow, UNetCall
from geogen.errors import EngineError

CondMetadata = Callable[[LatentWindow, bool], np.ndarray]
"""(window, unconditional) -> the ControlNet's ``cond_metadata`` for that batch row, (K,) or (K, T)."""


class ControlNetHook:
    """Conditioning hook running ``controlnet`` on each window's crop of ``condition``.

    Args:
        controlnet: a diffusers-style ControlNet returning (down residuals, mid residual) with
            return_dict=False (``geogen.models`` SatControlNetModel / SatControlNetModel3D, or diffusers'
            ControlNetModel).
        condition: (C, H, W) or (C, T, H, W) tensor covering the whole canvas, in the ControlNet's value
            range; or any object with ``ndim``, ``shape`` and ``[..., rows, cols]`` slicing that returns
            tensors (a condition computed crop by crop).
        vae_factor: output pixels per latent pixel.
        pixels_per_cond_pixel: output pixels per condition pixel (an integer: 1, 2, ...).
        scale: ControlNet output multiplier (diffusers' ``controlnet_conditioning_scale``).
        cond_metadata: per-row ``cond_metadata`` (DiffusionSat ControlNets); None to pass none.
        pass_metadata: give the ControlNet the UNet's per-row metadata (DiffusionSat ControlNets do; stock do
            not).
    """

    def __init__(
        self,
        controlnet: torch.nn.Module,
        condition: torch.Tensor,
        *,
        vae_factor: int,
        pixels_per_cond_pixel: int = 1,
        scale: float = 1.0,
        cond_metadata: CondMetadata | None = None,
        pass_metadata: bool = True,
    ) -> None:
        if condition.ndim not in (3, 4):
            raise EngineError(
                f"a ControlNet condition is (C, H, W) or (C, T, H, W), got {tuple(condition.shape)}"
            )
        self.controlnet = controlnet
        self.condition = condition
        self.vae_factor = int(vae_factor)
        self.ratio = int(pixels_per_cond_pixel)
        self.scale = float(scale)
        self.cond_metadata = cond_metadata
        self.pass_metadata = pass_metadata

    def crop(self, window: LatentWindow) -> torch.Tensor:
        """The condition under ``window`` (its pixel window divided by ``pixels_per_cond_pixel``).

        Raises:
            EngineError: the window does not fall on whole condition pixels inside the condition image.
        """
        px = window.tile.scaled(self.vae_factor).window
        if any(v % self.ratio for v in (px.row_off, px.col_off, px.height, px.width)):
            raise EngineError(f"window {px} does not fall on whole condition pixels ({self.ratio} px each)")
        r0, c0, h, w = (v // self.ratio for v in (px.row_off, px.col_off, px.height, px.width))
        if r0 + h > self.condition.shape[-2] or c0 + w > self.condition.shape[-1]:
            raise EngineError(
                f"the condition image {tuple(self.condition.shape[-2:])} does not cover window {px} "
                f"(at {self.ratio} px per condition pixel)"
            )
        return self.condition[..., r0 : r0 + h, c0 : c0 + w]

    def __call__(self, call: UNetCall) -> dict[str, Any]:
        crops = torch.stack([self.crop(w) for w in call.windows]).to(call.sample.device, call.sample.dtype)
        kwargs: dict[str, Any] = {"controlnet_cond": crops, "conditioning_scale": self.scale}
        if self.pass_metadata and call.metadata is not None:
            kwargs["metadata"] = call.metadata
        if self.cond_metadata is not None:
            rows = [
                self.cond_metadata(w, bool(u))
                for w, u in zip(call.windows, call.unconditional.tolist(), strict=True)
            ]
            kwargs["cond_metadata"] = torch.from_numpy(np.stack(rows)).to(call.sample.device, torch.float32)
        down, mid = self.controlnet(
            call.sample,
            call.timestep,
            encoder_hidden_states=call.encoder_hidden_states,
            return_dict=False,
            **kwargs,
        )
        return {"down_block_additional_residuals": down, "mid_block_additional_residual": mid}
