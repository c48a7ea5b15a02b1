"""SatControlNetModel3D: DiffusionSat's temporal ControlNet (a sequence of T condition frames -> one target).

The condition video (B, C, T, H, W) is embedded by a Conv3d encoder; the 2-D UNet-encoder copy then runs on
the B*T frames, each frame's time embedding carrying the target metadata plus that frame's own metadata.
Zero-convs are Conv3d (kernel 1); at the stem and after each downsampler a diffusers
``TransformerTemporalModel`` attends across frames, mixed in by a learnable scalar clamped to [0, 1] (init 0).
Residuals and the mid output are summed over T. Module names follow DiffusionSat's ``ControlNetModel3D`` so
its checkpoints load key for key.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import register_to_config
from diffusers.models.controlnets.controlnet import ControlNetOutput, zero_module
from diffusers.models.transformers.transformer_temporal import TransformerTemporalModel
from torch import nn

from geogen.models.init_args import SD_DOWN_BLOCK_TYPES, init_arguments
from geogen.models.sat_controlnet import SatControlNetModel

STEM_TEMPORAL_HEADS = 8
STEM_TEMPORAL_HEAD_DIM = 64


class SatConditioningEmbedding3D(nn.Module):
    """Conv3d condition encoder: 3x3x3 convs, (1, 3, 3) stride-(1, 2, 2) downsamplers, SiLU, zeroed output."""

    def __init__(
        self,
        conditioning_embedding_channels: int,
        conditioning_channels: int = 3,
        block_out_channels: tuple[int, ...] = (16, 32, 96, 256),
    ) -> None:
        super().__init__()
        self.conv_in = nn.Conv3d(conditioning_channels, block_out_channels[0], kernel_size=3, padding=1)
        self.blocks = nn.ModuleList()
        for c_in, c_out in itertools.pairwise(block_out_channels):
            self.blocks.append(nn.Conv3d(c_in, c_in, kernel_size=3, padding=1))
            self.blocks.append(
                nn.Conv3d(c_in, c_out, kernel_size=(1, 3, 3), padding=(0, 1, 1), stride=(1, 2, 2))
            )
        self.conv_out = zero_module(
            nn.Conv3d(block_out_channels[-1], conditioning_embedding_channels, kernel_size=3, padding=1)
        )

    def forward(self, conditioning: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) -> (B, conditioning_embedding_channels, T, H / 2**k, W / 2**k)."""
        x = F.silu(self.conv_in(conditioning))
        for conv in self.blocks:
            x = F.silu(conv(x))
        return self.conv_out(x)


def frames_to_video(x: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(B*T, C, H, W), frame-minor, -> (B, C, T, H, W)."""
    bt, c, h, w = x.shape
    return x.reshape(bt // num_frames, num_frames, c, h, w).permute(0, 2, 1, 3, 4)


def video_to_frames(x: torch.Tensor) -> torch.Tensor:
    """(B, C, T, H, W) -> (B*T, C, H, W), frame-minor."""
    b, c, t, h, w = x.shape
    return x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)


def clamp_straight_through(alpha: torch.Tensor) -> torch.Tensor:
    """``alpha`` clamped to [0, 1] going forward, with an identity gradient (as DiffusionSat trains it)."""
    return alpha + (alpha.clamp(0.0, 1.0) - alpha).detach()


class SatControlNetModel3D(SatControlNetModel):
    """DiffusionSat's 3-D (temporal) ControlNet; loads their ``ControlNetModel3D`` folders key for key."""

    # diffusers' ConfigMixin declares this class attribute without ClassVar, hence the ignore.
    ignore_for_config: ClassVar[list[str]] = [  # type: ignore[misc]
        *SatControlNetModel.ignore_for_config,
        "conditioning_scale",
    ]

    @register_to_config
    def __init__(
        self,
        in_channels: int = 4,
        flip_sin_to_cos: bool = True,
        freq_shift: int = 0,
        down_block_types: tuple[str, ...] = SD_DOWN_BLOCK_TYPES,
        mid_block_type: str | None = "UNetMidBlock2DCrossAttn",
        only_cross_attention: bool | tuple[bool] = False,
        block_out_channels: tuple[int, ...] = (320, 640, 1280, 1280),
        layers_per_block: int = 2,
        downsample_padding: int = 1,
        mid_block_scale_factor: float = 1,
        act_fn: str = "silu",
        norm_num_groups: int | None = 32,
        norm_eps: float = 1e-5,
        cross_attention_dim: int = 1280,
        transformer_layers_per_block: int | tuple[int, ...] = 1,
        attention_head_dim: int | tuple[int, ...] = 8,
        num_attention_heads: int | tuple[int, ...] | None = None,
        use_linear_projection: bool = False,
        class_embed_type: str | None = None,
        num_class_embeds: int | None = None,
        upcast_attention: bool = False,
        resnet_time_scale_shift: str = "default",
        projection_class_embeddings_input_dim: int | None = None,
        controlnet_conditioning_channel_order: str = "rgb",
        conditioning_embedding_out_channels: tuple[int, ...] = (16, 32, 96, 256),
        global_pool_conditions: bool = False,
        conditioning_in_channels: int = 3,
        use_temporal_transformer: bool = False,
        use_metadata: bool = True,
        num_metadata: int = 7,
    ):
        super().__init__(**init_arguments(locals(), "use_temporal_transformer"), conditioning_scale=1)
        head_dims = (
            attention_head_dim
            if not isinstance(attention_head_dim, int)
            else (attention_head_dim,) * len(block_out_channels)
        )
        zero_convs, temporal = [], []

        def add(channels: int, transformer: nn.Module | None) -> None:
            zero_convs.append(zero_module(nn.Conv3d(channels, channels, kernel_size=1)))
            temporal.append(transformer)

        add(
            block_out_channels[0],
            TransformerTemporalModel(
                num_attention_heads=STEM_TEMPORAL_HEADS,
                attention_head_dim=STEM_TEMPORAL_HEAD_DIM,
                in_channels=block_out_channels[0],
                num_layers=1,
            ),
        )
        for i, channels in enumerate(block_out_channels):
            for _ in range(layers_per_block):
                add(channels, None)
            if i < len(block_out_channels) - 1:
                add(
                    channels,
                    TransformerTemporalModel(
                        num_attention_heads=channels // head_dims[i],
                        attention_head_dim=head_dims[i],
                        in_channels=channels,
                        num_layers=1,
                        cross_attention_dim=cross_attention_dim,
                        norm_num_groups=norm_num_groups,
                    ),
                )
        self.controlnet_down_blocks = nn.ModuleList(zero_convs)
        self.controlnet_mid_block = zero_module(
            nn.Conv3d(block_out_channels[-1], block_out_channels[-1], kernel_size=1)
        )
        self.temporal_blocks = None
        if use_temporal_transformer:
            self.temporal_blocks = nn.ModuleList(t if t is not None else nn.Identity() for t in temporal)
            self.mixing_attns = nn.ParameterList(
                nn.Parameter(torch.tensor(0.0), requires_grad=t is not None) for t in temporal
            )

    def _build_conditioning_embedding(self) -> None:
        cfg = self.config
        # The 3-D encoder is its own nn.Module (same keys as the stock 2-D one, Conv3d layers), not a subclass.
        self.controlnet_cond_embedding = SatConditioningEmbedding3D(  # type: ignore[assignment]
            conditioning_embedding_channels=cfg["block_out_channels"][0],
            conditioning_channels=cfg["conditioning_in_channels"],
            block_out_channels=tuple(cfg["conditioning_embedding_out_channels"]),
        )

    def _mix_temporal(
        self, index: int, video: torch.Tensor, cross_attention_kwargs: dict[str, Any] | None
    ) -> torch.Tensor:
        """At transformer indices alpha * TemporalTransformer(video) + (1 - alpha) * video, else video."""
        if self.temporal_blocks is None or isinstance(self.temporal_blocks[index], nn.Identity):
            return video
        alpha = clamp_straight_through(self.mixing_attns[index]).to(video.dtype)
        num_frames = video.shape[2]
        attended = self.temporal_blocks[index](
            video_to_frames(video), num_frames=num_frames, cross_attention_kwargs=cross_attention_kwargs
        ).sample
        return alpha * frames_to_video(attended, num_frames) + (1 - alpha) * video

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float | int,
        encoder_hidden_states: torch.Tensor,
        controlnet_cond: torch.Tensor,
        conditioning_scale: float = 1.0,
        metadata: torch.Tensor | None = None,
        cond_metadata: torch.Tensor | None = None,
        class_labels: torch.Tensor | None = None,
        timestep_cond: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        added_cond_kwargs: dict[str, torch.Tensor] | None = None,
        cross_attention_kwargs: dict[str, Any] | None = None,
        guess_mode: bool = False,
        return_dict: bool = True,
    ) -> ControlNetOutput | tuple:
        """Residuals for the UNet from T condition frames ``controlnet_cond`` (B, C, T, h, w).

        Args:
            sample: Noisy latents (B, 4, H, W) of the target.
            timestep: Diffusion timestep(s).
            encoder_hidden_states: Text embeddings (B, L, D).
            controlnet_cond: Condition frames (B, conditioning_in_channels, T, h, w), h = H * 2**downsamplers.
            conditioning_scale: Multiplier of the outputs.
            metadata: Target metadata (B, num_metadata), normalised float32; None = all unknown.
            cond_metadata: Per-frame metadata (B, num_metadata, T), or (B, num_metadata) shared by all frames.
            class_labels: As in the stock ControlNet.
            timestep_cond: As in the stock ControlNet.
            attention_mask: As in the stock ControlNet.
            added_cond_kwargs: Unused (kept for call compatibility with stock pipelines).
            cross_attention_kwargs: Passed to the attention processors.
            guess_mode: Stock guess-mode output ramp.
            return_dict: Return a ``ControlNetOutput`` rather than a tuple.

        Raises:
            ValueError: Condition not 5-D, metadata of a wrong shape or dtype, frames off the latent grid.
        """
        if controlnet_cond.ndim != 5:
            raise ValueError(f"controlnet_cond must be (B, C, T, H, W), got {tuple(controlnet_cond.shape)}")
        controlnet_cond = self._cond_channels_in_order(controlnet_cond)
        batch, num_frames = sample.shape[0], controlnet_cond.shape[2]
        emb = self.embed(
            batch, timestep, sample.dtype, sample.device, metadata, None, class_labels, timestep_cond
        )
        emb = emb.repeat_interleave(num_frames, dim=0)
        if cond_metadata is not None and self.metadata_embedding is not None:
            cond = self.embed_metadata(cond_metadata, batch, emb.dtype, sample.device)
            if cond.ndim == 3:
                if cond.shape[1] != num_frames:
                    raise ValueError(
                        f"cond_metadata has {cond.shape[1]} frames, controlnet_cond has {num_frames}"
                    )
                emb = emb + cond.reshape(batch * num_frames, -1)
            else:
                emb = emb + cond.repeat_interleave(num_frames, dim=0)
        elif cond_metadata is not None:
            raise ValueError("This ControlNet was built with use_metadata=False; it cannot take metadata")

        hidden = self.conv_in(sample).repeat_interleave(num_frames, dim=0)
        cond_features = video_to_frames(self.controlnet_cond_embedding(controlnet_cond))
        if cond_features.shape[-2:] != hidden.shape[-2:]:
            raise ValueError(
                f"Condition frames {tuple(controlnet_cond.shape[-2:])} embed to "
                f"{tuple(cond_features.shape[-2:])}, "
                f"not the latent size {tuple(hidden.shape[-2:])}"
            )
        if attention_mask is not None:
            attention_mask = attention_mask.repeat_interleave(num_frames, dim=0)
        residuals, mid = self.encode(
            hidden + cond_features,
            emb,
            encoder_hidden_states.repeat_interleave(num_frames, dim=0),
            attention_mask,
            cross_attention_kwargs,
        )
        down = []
        for i, (res, zero_conv) in enumerate(zip(residuals, self.controlnet_down_blocks, strict=True)):
            video = zero_conv(frames_to_video(res, num_frames))
            down.append(self._mix_temporal(i, video, cross_attention_kwargs).sum(dim=2))
        mid_out = self.controlnet_mid_block(frames_to_video(mid, num_frames)).sum(dim=2)
        return self.finish(down, mid_out, conditioning_scale, guess_mode, return_dict)
