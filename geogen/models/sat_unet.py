"""SatUNet: diffusers' stock ``UNet2DConditionModel`` plus DiffusionSat's metadata conditioning.

Each of the ``num_metadata`` normalised metadata fields goes through the UNet's own timestep sinusoid and its
own MLP; the results are summed into the timestep embedding after the class embedding. Everything else is the
stock UNet, so a DiffusionSat checkpoint (SD-2.1 keys + ``metadata_embedding.*``) loads with no missing or
unexpected keys.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers.configuration_utils import register_to_config
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel, UNet2DConditionOutput

from geogen.models.embeddings import metadata_embedding_for, metadata_for_batch
from geogen.models.init_args import SD_DOWN_BLOCK_TYPES, SD_UP_BLOCK_TYPES, init_arguments

_METADATA_KEY = "geogen_sat_metadata"


class SatUNet(UNet2DConditionModel):
    """Stock conditional UNet + DiffusionSat's per-field metadata MLPs (config use_metadata, num_metadata)."""

    @register_to_config
    def __init__(
        self,
        sample_size: int | tuple[int, int] | None = None,
        in_channels: int = 4,
        out_channels: int = 4,
        center_input_sample: bool = False,
        flip_sin_to_cos: bool = True,
        freq_shift: int = 0,
        down_block_types: tuple[str, ...] = SD_DOWN_BLOCK_TYPES,
        mid_block_type: str | None = "UNetMidBlock2DCrossAttn",
        up_block_types: tuple[str, ...] = SD_UP_BLOCK_TYPES,
        only_cross_attention: bool | tuple[bool] = False,
        block_out_channels: tuple[int, ...] = (320, 640, 1280, 1280),
        layers_per_block: int | tuple[int] = 2,
        downsample_padding: int = 1,
        mid_block_scale_factor: float = 1,
        dropout: float = 0.0,
        act_fn: str = "silu",
        norm_num_groups: int | None = 32,
        norm_eps: float = 1e-5,
        cross_attention_dim: int | tuple[int] = 1280,
        transformer_layers_per_block: int | tuple[int] | tuple[tuple] = 1,
        reverse_transformer_layers_per_block: tuple[tuple[int]] | None = None,
        encoder_hid_dim: int | None = None,
        encoder_hid_dim_type: str | None = None,
        attention_head_dim: int | tuple[int] = 8,
        num_attention_heads: int | tuple[int] | None = None,
        dual_cross_attention: bool = False,
        use_linear_projection: bool = False,
        class_embed_type: str | None = None,
        addition_embed_type: str | None = None,
        addition_time_embed_dim: int | None = None,
        num_class_embeds: int | None = None,
        upcast_attention: bool = False,
        resnet_time_scale_shift: str = "default",
        resnet_skip_time_act: bool = False,
        resnet_out_scale_factor: float = 1.0,
        time_embedding_type: str = "positional",
        time_embedding_dim: int | None = None,
        time_embedding_act_fn: str | None = None,
        timestep_post_act: str | None = None,
        time_cond_proj_dim: int | None = None,
        conv_in_kernel: int = 3,
        conv_out_kernel: int = 3,
        projection_class_embeddings_input_dim: int | None = None,
        attention_type: str = "default",
        class_embeddings_concat: bool = False,
        mid_block_only_cross_attention: bool | None = None,
        cross_attention_norm: str | None = None,
        addition_embed_type_num_heads: int = 64,
        use_metadata: bool = True,
        num_metadata: int = 7,
    ):
        super().__init__(**init_arguments(locals(), "use_metadata", "num_metadata"))
        self.metadata_embedding = None
        if use_metadata:
            if class_embeddings_concat:
                raise ValueError(
                    "SatUNet sums metadata into the time embedding; class_embeddings_concat is not supported"
                )
            self.metadata_embedding = metadata_embedding_for(self.time_embedding, num_metadata)

    def get_aug_embed(
        self, emb: torch.Tensor, encoder_hidden_states: torch.Tensor, added_cond_kwargs: dict[str, Any]
    ) -> torch.Tensor | None:
        """The stock additional embedding plus the metadata embedding (summed after the class embedding)."""
        added_cond_kwargs = dict(added_cond_kwargs or {})
        metadata = added_cond_kwargs.pop(_METADATA_KEY, None)
        aug_emb = super().get_aug_embed(emb, encoder_hidden_states, added_cond_kwargs)
        if self.metadata_embedding is None:
            return aug_emb
        md_emb = self.metadata_embedding(metadata, self.time_proj, emb.dtype)
        return md_emb if aug_emb is None else aug_emb + md_emb

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float | int,
        encoder_hidden_states: torch.Tensor,
        metadata: torch.Tensor | None = None,
        class_labels: torch.Tensor | None = None,
        timestep_cond: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cross_attention_kwargs: dict[str, Any] | None = None,
        added_cond_kwargs: dict[str, torch.Tensor] | None = None,
        down_block_additional_residuals: tuple[torch.Tensor] | None = None,
        mid_block_additional_residual: torch.Tensor | None = None,
        down_intrablock_additional_residuals: tuple[torch.Tensor] | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        return_dict: bool = True,
    ) -> UNet2DConditionOutput | tuple:
        """The stock UNet forward with ``metadata``: (N, num_metadata) normalised float32, None = all unknown.

        Raises:
            ValueError: ``metadata`` given to a model built without metadata, or of a wrong shape or dtype.
        """
        if self.metadata_embedding is None:
            if metadata is not None:
                raise ValueError("This UNet was built with use_metadata=False; it cannot take metadata")
        else:
            metadata = metadata_for_batch(
                metadata, sample.shape[0], len(self.metadata_embedding), sample.device
            )
            added_cond_kwargs = {**(added_cond_kwargs or {}), _METADATA_KEY: metadata}
        return super().forward(
            sample,
            timestep,
            encoder_hidden_states,
            class_labels=class_labels,
            timestep_cond=timestep_cond,
            attention_mask=attention_mask,
            cross_attention_kwargs=cross_attention_kwargs,
            added_cond_kwargs=added_cond_kwargs,
            down_block_additional_residuals=down_block_additional_residuals,
            mid_block_additional_residual=mid_block_additional_residual,
            down_intrablock_additional_residuals=down_intrablock_additional_residuals,
            encoder_attention_mask=encoder_attention_mask,
            return_dict=return_dict,
        )
