"""Deterministic stand-ins with the real call signatures, for checks that need known maths.

``PositionalUNet`` predicts ``0.5 * sample + f(absolute latent position, t) + g(text)``: pointwise in the
sample and a smooth function of where each latent pixel lies on the canvas, so blending overlapping windows
whose weights sum to 1 must reproduce the untiled result exactly. The absolute positions reach it through a
conditioning hook (``position_hook``), the same path ControlNet residuals take.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from geogen.diffusion.latent_tiling import UNetCall


def positions(call: UNetCall, *, relative: bool = False) -> torch.Tensor:
    """(B, 2, h, w) row/column coordinates of each latent pixel of the call's windows (default absolute)."""
    out = []
    for w in call.windows:
        win = w.window
        r0, c0 = (0, 0) if relative else (win.row_off, win.col_off)
        rows = torch.arange(r0, r0 + win.height, dtype=torch.float32)[:, None].expand(win.height, win.width)
        cols = torch.arange(c0, c0 + win.width, dtype=torch.float32)[None, :].expand(win.height, win.width)
        out.append(torch.stack([rows, cols]))
    return torch.stack(out)


def position_hook(call: UNetCall) -> dict[str, Any]:
    return {"position": positions(call)}


def relative_position_hook(call: UNetCall) -> dict[str, Any]:
    """Positions inside each window: what independent tiles see, and why they show seams."""
    return {"position": positions(call, relative=True)}


class PositionalUNet(nn.Module):
    """A UNet stand-in (same call signature as SatUNet) that records every call's inputs."""

    def __init__(self, channels: int = 4) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(0.5))
        self.channels = channels
        self.calls: list[dict[str, Any]] = []

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        metadata: torch.Tensor | None = None,
        position: torch.Tensor | None = None,
        return_dict: bool = True,
        **kwargs: Any,
    ) -> Any:
        self.calls.append(
            {
                "batch": sample.shape[0],
                "metadata": None if metadata is None else metadata.clone(),
                "hidden": encoder_hidden_states.clone(),
                "timestep": float(timestep),
                "shape": tuple(sample.shape),
                "extra": sorted(kwargs),
            }
        )
        rows, cols = position[:, 0:1], position[:, 1:2]
        k = torch.arange(1, self.channels + 1, dtype=sample.dtype)[None, :, None, None]
        field = torch.sin(rows / (3.0 * k)) * torch.cos(cols / (5.0 + k)) * (1.0 + float(timestep) / 1000.0)
        text = encoder_hidden_states.float().mean(dim=(1, 2))[:, None, None, None]
        out = self.gain * sample + field + 0.3 * text
        return (out,) if not return_dict else SimpleNamespace(sample=out)


class PointwiseVAE(nn.Module):
    """An AutoencoderKL stand-in whose decoder is pointwise: nearest x2 upsampling of a channel mix, then
    tanh."""

    def __init__(self) -> None:
        super().__init__()
        self.mix = nn.Parameter(
            torch.tensor([[0.9, -0.4, 0.3, 0.2], [0.1, 0.8, -0.5, 0.3], [-0.3, 0.2, 0.7, 0.6]])
        )
        self.config = SimpleNamespace(block_out_channels=(8, 16), scaling_factor=0.5, latent_channels=4)
        self.decoded: list[tuple[int, ...]] = []

    def decode(self, z: torch.Tensor) -> SimpleNamespace:
        self.decoded.append(tuple(z.shape))
        rgb = torch.einsum("oc,bchw->bohw", self.mix, z)
        up = rgb.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
        return SimpleNamespace(sample=torch.tanh(up))
