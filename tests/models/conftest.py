"""Fixtures: tiny random-weight DiffusionSat models (about a million parameters) and a batch of inputs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import torch

from geogen.metadata import Metadata
from geogen.models import SatControlNetModel, SatControlNetModel3D, SatUNet
from tests.models.tiny_models import BATCH, LATENT, randomize_
from tests.tiny_models import TINY_UNET


@pytest.fixture
def sat_unet() -> SatUNet:
    torch.manual_seed(0)
    return randomize_(SatUNet(**TINY_UNET), seed=1).eval()


@pytest.fixture
def sat_controlnet(sat_unet: SatUNet) -> SatControlNetModel:
    """2-D ControlNet, condition at the latent's pixel size x2 (one stride-2 stage), 10 input channels."""
    model = SatControlNetModel.from_unet(
        sat_unet,
        conditioning_in_channels=10,
        conditioning_scale=1,
        conditioning_embedding_out_channels=(8, 16),
    )
    return randomize_(model, seed=2).eval()


@pytest.fixture
def sat_controlnet_3d(sat_unet: SatUNet) -> SatControlNetModel3D:
    """3-D ControlNet with temporal transformers; mixing weights left at their initial 0."""
    model = SatControlNetModel3D.from_unet(
        sat_unet,
        conditioning_in_channels=3,
        use_temporal_transformer=True,
        conditioning_embedding_out_channels=(8, 16),
    )
    randomize_(model, seed=3)
    with torch.no_grad():
        for alpha in model.mixing_attns:
            alpha.zero_()
    return model.eval()


@pytest.fixture
def inputs() -> dict[str, torch.Tensor]:
    """A batch of two: latents, timesteps, text embeddings and realistic normalised metadata."""
    gen = torch.Generator().manual_seed(4)
    metadata = np.stack(
        [
            Metadata(153.3167, -27.862, 0.41145, None, dt.date(2017, 2, 11)).normalize(),
            Metadata(2.35, 48.85, 10.0, 0.25, dt.date(2021, 7, 30)).normalize(),
        ]
    )
    return {
        "sample": torch.randn(BATCH, 4, LATENT, LATENT, generator=gen),
        "timestep": torch.tensor([10, 700]),
        "encoder_hidden_states": torch.randn(BATCH, 5, 32, generator=gen),
        "metadata": torch.from_numpy(metadata),
    }
