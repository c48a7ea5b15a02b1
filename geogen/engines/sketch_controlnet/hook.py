"""The ControlNet as a conditioning hook of the latent-window denoiser: residuals for each batch of windows.

For every UNet call, the ControlNet sees the same noisy window latents, timestep and text embeddings as the
UNet, plus each window's own condition crop (palette rendering in [0, 1], as diffusers' ControlNet pipelines
feed it); its down-block and mid-block residuals, scaled by ``scale``, go to the UNet as extra arguments.
With classifier-free guidance both halves get the condition (diffusers' behaviour without guess mode).

Unlike ``geogen.diffusion.ControlNetHook``, which crops one condition tensor covering the whole
canvas (3 floats per output pixel: 1.2 GB for 10 000 x 10 000 px), this hook renders each window's condition
from its class map when the window is evaluated, so memory stays bounded by the window batch and the budget
of ``WindowConditions``.
"""

from __future__ import annotations

from typing import Any

import torch

from geogen.diffusion.latent_tiling import UNetCall
from geogen.engines.sketch_controlnet.conditions import WindowConditions


class LandCoverControlHook:
    """``hook(call) -> {down_block_additional_residuals, mid_block_additional_residual}`` for ``denoise``."""

    def __init__(
        self,
        controlnet: torch.nn.Module,
        conditions: WindowConditions,
        *,
        scale: float = 1.0,
        channel_order: str = "rgb",
    ) -> None:
        self.controlnet = controlnet
        self.conditions = conditions
        self.scale = float(scale)
        palette = conditions.palette()
        self._palette = torch.from_numpy(palette[:, ::-1].copy() if channel_order == "bgr" else palette)
        self.calls = 0

    def condition(self, call: UNetCall) -> torch.Tensor:
        """(B, 3, H, W) legend-colour rendering of the call's windows in [0, 1], on the sample's device/dtype.

        The class maps travel as bytes and are coloured on the device (a table lookup, exact colours).
        """
        device = call.sample.device
        if self._palette.device != device:
            self._palette = self._palette.to(device)
        codes = torch.from_numpy(self.conditions.batch([w.tile for w in call.windows])).to(device)
        rgb = self._palette[codes.long()].permute(0, 3, 1, 2)
        return (rgb.float() / 255.0).to(call.sample.dtype)

    def __call__(self, call: UNetCall) -> dict[str, Any]:
        if self.scale == 0:
            return {}
        self.calls += 1
        down, mid = self.controlnet(
            call.sample,
            call.timestep,
            encoder_hidden_states=call.encoder_hidden_states,
            controlnet_cond=self.condition(call),
            conditioning_scale=self.scale,
            return_dict=False,
        )
        return {"down_block_additional_residuals": tuple(down), "mid_block_additional_residual": mid}
