"""SatControlNetModel: diffusers' stock 2-D ``ControlNetModel`` + DiffusionSat's metadata and resolution rule.

Differences from stock, all from DiffusionSat's code: config keys ``conditioning_in_channels`` (stock
``conditioning_channels``), ``conditioning_scale``, ``use_metadata`` and ``num_metadata``; a conditioning
encoder whose stride-2 convs become stride 1 once the running scale reaches 8 (so a condition image at 1/2 or
1/4 of the target resolution still lands on the latent grid); and target metadata plus per-condition
``cond_metadata`` summed into the time embedding through the shared per-field MLPs.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any, ClassVar, cast

import torch
from diffusers.configuration_utils import register_to_config
from diffusers.models.controlnets.controlnet import (
    ControlNetConditioningEmbedding,
    ControlNetModel,
    ControlNetOutput,
)
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel

from geogen.models.embeddings import metadata_embedding_for, metadata_for_batch
from geogen.models.init_args import SD_DOWN_BLOCK_TYPES, init_arguments

LATENT_SCALE = 8
"""Pixel-to-latent factor of the SD VAE: the encoder downsamples until the running scale reaches it."""

# UNet config keys a ControlNet built from that UNet copies.
_SHARED_UNET_KEYS = [
    "in_channels",
    "flip_sin_to_cos",
    "freq_shift",
    "down_block_types",
    "mid_block_type",
    "only_cross_attention",
    "block_out_channels",
    "layers_per_block",
    "downsample_padding",
    "mid_block_scale_factor",
    "act_fn",
    "norm_num_groups",
    "norm_eps",
    "cross_attention_dim",
    "transformer_layers_per_block",
    "attention_head_dim",
    "num_attention_heads",
    "use_linear_projection",
    "class_embed_type",
    "num_class_embeds",
    "upcast_attention",
    "resnet_time_scale_shift",
    "projection_class_embeddings_input_dim",
]


def conditioning_strides(num_downsamples: int, conditioning_scale: int) -> list[int]:
    """Strides of the encoder's downsampling convs: 2 while the running scale is below 8.

    ``conditioning_scale`` is target resolution / condition resolution; the scale doubles after each conv.
    """
    strides, scale = [], conditioning_scale
    for _ in range(num_downsamples):
        strides.append(2 if scale < LATENT_SCALE else 1)
        scale *= 2
    return strides


class SatConditioningEmbedding(ControlNetConditioningEmbedding):
    """Stock conditioning encoder (same modules and keys) with DiffusionSat's stride rule."""

    def __init__(
        self,
        conditioning_embedding_channels: int,
        conditioning_channels: int = 3,
        block_out_channels: tuple[int, ...] = (16, 32, 96, 256),
        scale: int = 1,
    ) -> None:
        super().__init__(conditioning_embedding_channels, conditioning_channels, block_out_channels)
        downsamplers = self.blocks[1::2]
        convs = cast("Iterable[torch.nn.Conv2d]", downsamplers)  # the stock encoder's blocks are Conv2d
        for conv, stride in zip(convs, conditioning_strides(len(downsamplers), scale), strict=True):
            conv.stride = (stride, stride)


class SatControlNetModel(ControlNetModel):
    """DiffusionSat's 2-D ControlNet (super-resolution); loads their ControlNetModel folders key for key."""

    # Stock keys DiffusionSat's config lacks (renamed or unused); kept out of the saved config.
    # diffusers' ConfigMixin declares this class attribute without ClassVar, hence the ignore.
    ignore_for_config: ClassVar[list[str]] = [  # type: ignore[misc]
        "conditioning_channels",
        "encoder_hid_dim",
        "encoder_hid_dim_type",
        "addition_embed_type",
        "addition_time_embed_dim",
        "addition_embed_type_num_heads",
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
        conditioning_scale: int = 1,
        use_metadata: bool = True,
        num_metadata: int = 7,
    ):
        super().__init__(
            **init_arguments(
                locals(), "conditioning_in_channels", "conditioning_scale", "use_metadata", "num_metadata"
            ),
            conditioning_channels=conditioning_in_channels,
            encoder_hid_dim=None,
            encoder_hid_dim_type=None,
            addition_embed_type=None,
            addition_time_embed_dim=None,
            addition_embed_type_num_heads=64,
        )
        self._build_conditioning_embedding()
        self.metadata_embedding = None
        if use_metadata:
            self.metadata_embedding = metadata_embedding_for(self.time_embedding, num_metadata)

    def _build_conditioning_embedding(self) -> None:
        """Swap the stock condition encoder for DiffusionSat's (stride rule); the 3-D model overrides this."""
        cfg = self.config
        self.controlnet_cond_embedding = SatConditioningEmbedding(
            conditioning_embedding_channels=cfg["block_out_channels"][0],
            conditioning_channels=cfg["conditioning_in_channels"],
            block_out_channels=tuple(cfg["conditioning_embedding_out_channels"]),
            scale=cfg["conditioning_scale"],
        )

    # DiffusionSat's condition parameters (conditioning_in_channels, conditioning_scale) replace the stock
    # conditioning_channels, so the signature differs from ControlNetModel.from_unet's on purpose.
    @classmethod
    def from_unet(  # type: ignore[override]
        cls,
        unet: UNet2DConditionModel,
        conditioning_in_channels: int = 3,
        conditioning_scale: int = 1,
        controlnet_conditioning_channel_order: str = "rgb",
        conditioning_embedding_out_channels: tuple[int, ...] = (16, 32, 96, 256),
        load_weights_from_unet: bool = True,
        **extra_config: Any,
    ) -> SatControlNetModel:
        """A ControlNet whose encoder copies ``unet`` (a SatUNet or stock UNet), metadata MLPs included.

        ``extra_config`` passes further config keys (the 3-D model's ``use_temporal_transformer``);
        ``conditioning_scale`` is ignored by classes without that key (the 3-D model).
        """
        md = getattr(unet, "metadata_embedding", None)
        config = {k: unet.config[k] for k in _SHARED_UNET_KEYS if k in unet.config}
        config.update(
            controlnet_conditioning_channel_order=controlnet_conditioning_channel_order,
            conditioning_embedding_out_channels=conditioning_embedding_out_channels,
            conditioning_in_channels=conditioning_in_channels,
            use_metadata=md is not None,
            num_metadata=len(md) if md is not None else 0,
            **extra_config,
        )
        if "conditioning_scale" in inspect.signature(cls.__init__).parameters:
            config["conditioning_scale"] = conditioning_scale
        controlnet = cls(**config)
        if load_weights_from_unet:
            for name in (
                "conv_in",
                "time_proj",
                "time_embedding",
                "class_embedding",
                "down_blocks",
                "mid_block",
            ):
                source = getattr(unet, name, None)
                if source is not None:
                    getattr(controlnet, name).load_state_dict(source.state_dict())
            if md is not None:
                controlnet.metadata_embedding.load_state_dict(md.state_dict())
        return controlnet

    def embed(
        self,
        batch: int,
        timestep: torch.Tensor | float | int,
        dtype: torch.dtype,
        device: torch.device,
        metadata: torch.Tensor | None = None,
        cond_metadata: torch.Tensor | None = None,
        class_labels: torch.Tensor | None = None,
        timestep_cond: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(batch, D) embedding: time + class + target metadata + condition metadata (summed over time).

        Raises:
            ValueError: Metadata for a model without metadata, wrong shapes or dtypes, missing class labels.
        """
        emb = self.time_embedding(self._time_features(timestep, batch, dtype, device), timestep_cond)
        if self.class_embedding is not None:
            if class_labels is None:
                raise ValueError("class_labels should be provided when num_class_embeds > 0")
            if self.config["class_embed_type"] == "timestep":
                class_labels = self.time_proj(class_labels)
            emb = emb + self.class_embedding(class_labels).to(dtype=emb.dtype)
        if self.metadata_embedding is None:
            if metadata is not None or cond_metadata is not None:
                raise ValueError("This ControlNet was built with use_metadata=False; it cannot take metadata")
            return emb
        emb = emb + self.embed_metadata(metadata, batch, emb.dtype, device)
        if cond_metadata is not None:
            cond = self.embed_metadata(cond_metadata, batch, emb.dtype, device)
            emb = emb + (cond.sum(dim=1) if cond.ndim == 3 else cond)
        return emb

    def _time_features(
        self, timestep: torch.Tensor | float | int, batch: int, dtype: torch.dtype, device: torch.device
    ) -> torch.Tensor:
        timesteps = timestep
        if not torch.is_tensor(timesteps):
            timesteps = torch.tensor(
                [timesteps], dtype=torch.float64 if isinstance(timestep, float) else torch.int64
            )
        timesteps = (
            timesteps.to(device).reshape(-1).expand(batch) if timesteps.numel() == 1 else timesteps.to(device)
        )
        return self.time_proj(timesteps).to(dtype=dtype)

    def embed_metadata(
        self, values: torch.Tensor | None, batch: int, dtype: torch.dtype, device: torch.device
    ) -> torch.Tensor:
        """Metadata (N, K) -> (N, D), or per-frame (N, K, T) -> (N, T, D); None means all fields unknown.

        Only for a model with metadata (``metadata_embedding`` not None): every caller checks that first.
        """
        assert self.metadata_embedding is not None  # invariant: every caller checks it first
        values = metadata_for_batch(values, batch, len(self.metadata_embedding), device)
        return self.metadata_embedding(values, self.time_proj, dtype)

    def encode(
        self,
        sample: torch.Tensor,
        emb: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        cross_attention_kwargs: dict[str, Any] | None = None,
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """The UNet-encoder copy run on ``sample`` (conv_in output + embedded condition): residuals, mid."""
        if attention_mask is not None:
            attention_mask = ((1 - attention_mask.to(sample.dtype)) * -10000.0).unsqueeze(1)
        residuals = (sample,)
        for block in self.down_blocks:
            if getattr(block, "has_cross_attention", False):
                sample, res = block(
                    hidden_states=sample,
                    temb=emb,
                    encoder_hidden_states=encoder_hidden_states,
                    attention_mask=attention_mask,
                    cross_attention_kwargs=cross_attention_kwargs,
                )
            else:
                sample, res = block(hidden_states=sample, temb=emb)
            residuals += res
        if self.mid_block is not None:
            if getattr(self.mid_block, "has_cross_attention", False):
                sample = self.mid_block(
                    sample,
                    emb,
                    encoder_hidden_states=encoder_hidden_states,
                    attention_mask=attention_mask,
                    cross_attention_kwargs=cross_attention_kwargs,
                )
            else:
                sample = self.mid_block(sample, emb)
        return residuals, sample

    def finish(
        self,
        down: list[torch.Tensor],
        mid: torch.Tensor,
        conditioning_scale: float,
        guess_mode: bool,
        return_dict: bool,
    ) -> ControlNetOutput | tuple:
        """Stock output scaling (plain or guess-mode ramp) and optional global pooling."""
        if guess_mode and not self.config["global_pool_conditions"]:
            scales = torch.logspace(-1, 0, len(down) + 1, device=mid.device) * conditioning_scale
            # scales has one entry more than down: the last one scales mid.
            down = [d * s for d, s in zip(down, scales, strict=False)]
            mid = mid * scales[-1]
        else:
            down = [d * conditioning_scale for d in down]
            mid = mid * conditioning_scale
        if self.config["global_pool_conditions"]:
            down = [torch.mean(d, dim=(2, 3), keepdim=True) for d in down]
            mid = torch.mean(mid, dim=(2, 3), keepdim=True)
        if not return_dict:
            return (down, mid)
        # diffusers annotates down_block_res_samples as a 1-tuple; its own ControlNetModel passes a list too.
        return ControlNetOutput(down_block_res_samples=down, mid_block_res_sample=mid)  # type: ignore[arg-type]

    def _cond_channels_in_order(self, controlnet_cond: torch.Tensor) -> torch.Tensor:
        order = self.config["controlnet_conditioning_channel_order"]
        if order == "bgr":
            return torch.flip(controlnet_cond, dims=[1])
        if order != "rgb":
            raise ValueError(f"unknown `controlnet_conditioning_channel_order`: {order}")
        return controlnet_cond

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
        """Residuals for the UNet from a (N, C, h, w) condition image at 1/conditioning_scale of the target.

        Args:
            sample: Noisy latents (N, 4, H, W).
            timestep: Diffusion timestep(s).
            encoder_hidden_states: Text embeddings (N, L, D).
            controlnet_cond: Condition image (N, conditioning_in_channels, h, w).
            conditioning_scale: Multiplier of the outputs (not the config's resolution ratio of that name).
            metadata: Target metadata (N, num_metadata), normalised float32; None = all unknown.
            cond_metadata: Condition metadata (N, num_metadata) or (N, num_metadata, T), summed over T;
                None = not used.
            class_labels: As in the stock ControlNet.
            timestep_cond: As in the stock ControlNet.
            attention_mask: As in the stock ControlNet.
            added_cond_kwargs: Unused (kept for call compatibility with stock pipelines).
            cross_attention_kwargs: Passed to the attention processors.
            guess_mode: Stock guess-mode output ramp.
            return_dict: Return a ``ControlNetOutput`` rather than a tuple.

        Raises:
            ValueError: Bad metadata (see ``embed``) or a condition image not landing on the latent grid.
        """
        controlnet_cond = self._cond_channels_in_order(controlnet_cond)
        batch = sample.shape[0]
        emb = self.embed(
            batch, timestep, sample.dtype, sample.device, metadata, cond_metadata, class_labels, timestep_cond
        )
        hidden = self.conv_in(sample)
        cond = self.controlnet_cond_embedding(controlnet_cond)
        if cond.shape[-2:] != hidden.shape[-2:]:
            raise ValueError(
                f"The condition image {tuple(controlnet_cond.shape[-2:])} embeds to "
                f"{tuple(cond.shape[-2:])}, not the latent size {tuple(hidden.shape[-2:])}: "
                f"check conditioning_scale={self.config.get('conditioning_scale')}"
            )
        residuals, mid = self.encode(
            hidden + cond, emb, encoder_hidden_states, attention_mask, cross_attention_kwargs
        )
        down = [zero_conv(r) for r, zero_conv in zip(residuals, self.controlnet_down_blocks, strict=True)]
        return self.finish(down, self.controlnet_mid_block(mid), conditioning_scale, guess_mode, return_dict)
