"""DiffusionSat's metadata embedding: one MLP per metadata field, fed the model's own timestep sinusoid.

Shared by the UNet and both ControlNets. The module is a ``ModuleList`` of diffusers ``TimestepEmbedding``s so
its state-dict keys (``metadata_embedding.{i}.linear_{1,2}.*``) match the published checkpoints.
"""

from __future__ import annotations

import torch
from diffusers.models.embeddings import TimestepEmbedding
from torch import nn

_HALF_DTYPES = (torch.float16, torch.bfloat16)


def metadata_for_batch(
    metadata: torch.Tensor | None, batch: int, num_metadata: int, device: torch.device
) -> torch.Tensor:
    """``metadata`` as an (N, num_metadata) tensor for a batch of N; ``None`` means all fields unknown (0).

    A batch of one is broadcast to N.

    Raises:
        ValueError: The leading size is neither N nor 1.
    """
    if metadata is None:
        return torch.zeros(batch, num_metadata, dtype=torch.float32, device=device)
    metadata = metadata.to(device)
    if metadata.ndim >= 1 and metadata.shape[0] == 1 and batch != 1:
        metadata = metadata.expand(batch, *metadata.shape[1:])
    if metadata.ndim < 1 or metadata.shape[0] != batch:
        raise ValueError(f"Metadata batch {tuple(metadata.shape)} does not match the sample batch of {batch}")
    return metadata


class MetadataEmbedding(nn.ModuleList):
    """``num_metadata`` MLPs (``in_dim`` -> ``out_dim``, SiLU, ``out_dim`` -> ``out_dim``), one per field."""

    def __init__(self, num_metadata: int, in_dim: int, out_dim: int) -> None:
        super().__init__([TimestepEmbedding(in_dim, out_dim) for _ in range(num_metadata)])

    def forward(self, values: torch.Tensor, time_proj: nn.Module, dtype: torch.dtype) -> torch.Tensor:
        """Sum over fields of each field's MLP applied to its sinusoidal projection.

        Args:
            values: Normalised metadata, (N, K) or (N, K, T) with K = number of MLPs; float32 or float64.
            time_proj: The owning model's ``Timesteps`` module (same frequencies as the timestep embedding).
            dtype: Dtype the MLPs run in; the sinusoid is computed in float32 and cast to it afterwards.

        Returns:
            (N, D) for (N, K) input, (N, T, D) for (N, K, T) input.

        Raises:
            ValueError: Wrong shape, or a half-precision tensor (fp16 rounds e.g. 925.88 to 926 before the
                sinusoid).
        """
        if values.dtype in _HALF_DTYPES:
            raise ValueError(
                f"Metadata must be float32 (got {values.dtype}): half precision rounds the normalised values "
                "(e.g. 925.88 -> 926) before the sinusoidal projection"
            )
        if values.ndim not in (2, 3) or values.shape[1] != len(self):
            raise ValueError(
                f"Metadata must be shaped (N, {len(self)}) or (N, {len(self)}, T), got {tuple(values.shape)}"
            )
        projected = time_proj(values.float().reshape(-1))
        projected = projected.reshape(*values.shape, -1).to(dtype)
        total = None
        for i, mlp in enumerate(self):
            field = mlp(projected[:, i])
            total = field if total is None else total + field
        # None only for an embedding built with zero fields (num_metadata=0); raising there would change behaviour.
        return total  # type: ignore[return-value]


def metadata_embedding_for(time_embedding: TimestepEmbedding, num_metadata: int) -> MetadataEmbedding:
    """``num_metadata`` MLPs shaped like ``time_embedding``: its sinusoid width in, embedding width out."""
    return MetadataEmbedding(
        num_metadata, time_embedding.linear_1.in_features, time_embedding.linear_2.out_features
    )
