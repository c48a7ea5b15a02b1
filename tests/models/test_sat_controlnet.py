"""SatControlNetModel: stock 2-D ControlNet + DiffusionSat's metadata sums and condition-resolution rule."""

from __future__ import annotations

import pytest
import torch
from diffusers import ControlNetModel

from geogen.models import SatControlNetModel, SatUNet
from geogen.models.sat_controlnet import SatConditioningEmbedding, conditioning_strides
from tests.models.diffusionsat_reference import architecture_kwargs, conv_embedding_2d, metadata_embedding
from tests.models.tiny_models import LATENT, TIME_PROJ_DIM, randomize_


def run(
    model: torch.nn.Module, inputs: dict[str, torch.Tensor], **kwargs: object
) -> tuple[list, torch.Tensor]:
    with torch.no_grad():
        out = model(**inputs, **kwargs)
    return out.down_block_res_samples, out.mid_block_res_sample


def assert_outputs_close(
    a: tuple[list, torch.Tensor], b: tuple[list, torch.Tensor], atol: float = 1e-5
) -> None:
    assert len(a[0]) == len(b[0])
    for x, y in zip([*a[0], a[1]], [*b[0], b[1]], strict=True):
        assert x.shape == y.shape
        assert torch.allclose(x, y, atol=atol, rtol=0), (x - y).abs().max()


def stock_twin(model: SatControlNetModel) -> ControlNetModel:
    """The stock ControlNet with the same weights (valid when the stride rule leaves every stride at 2)."""
    cfg = model.config
    stock = ControlNetModel(
        conditioning_channels=cfg.conditioning_in_channels, **architecture_kwargs(cfg)
    ).eval()
    stock.load_state_dict(
        {k: v for k, v in model.state_dict().items() if not k.startswith("metadata_embedding.")}, strict=True
    )
    return stock


@pytest.mark.parametrize(
    ("scale", "expected"), [(1, [2, 2, 2]), (2, [2, 2, 1]), (4, [2, 1, 1]), (8, [1, 1, 1]), (3, [2, 2, 1])]
)
def test_stride_two_while_running_scale_below_eight(scale, expected):
    assert conditioning_strides(3, scale) == expected


@pytest.mark.parametrize(("scale", "size", "out"), [(1, 64, 8), (2, 64, 16), (4, 64, 32)])
def test_conditioning_embedding_lands_on_the_latent_grid(scale, size, out):
    embedding = randomize_(SatConditioningEmbedding(32, 10, (8, 8, 8, 16), scale=scale), seed=5)
    cond = torch.rand(1, 10, size, size)
    with torch.no_grad():
        actual = embedding(cond)
    expected = conv_embedding_2d(
        {f"controlnet_cond_embedding.{k}": v for k, v in embedding.state_dict().items()},
        cond,
        conditioning_strides(3, scale),
    )

    assert actual.shape == (1, 32, out, out)
    assert torch.allclose(actual, expected, atol=1e-6)


def test_equals_stock_controlnet_plus_independent_metadata_sums(sat_controlnet, inputs):
    cond = torch.rand(2, 10, 2 * LATENT, 2 * LATENT, generator=torch.Generator().manual_seed(6))
    cond_md = inputs["metadata"].flip(0) * 0.5 + 10.0
    state = sat_controlnet.state_dict()
    extra = metadata_embedding(state, inputs["metadata"], TIME_PROJ_DIM) + metadata_embedding(
        state, cond_md, TIME_PROJ_DIM
    )
    stock = stock_twin(sat_controlnet)
    plain = {k: v for k, v in inputs.items() if k != "metadata"}
    hook = stock.time_embedding.register_forward_hook(lambda module, args, out: out + extra)
    try:
        expected = run(stock, plain, controlnet_cond=cond)
    finally:
        hook.remove()

    assert_outputs_close(run(sat_controlnet, inputs, controlnet_cond=cond, cond_metadata=cond_md), expected)


def test_temporal_cond_metadata_is_summed_over_time(sat_controlnet, inputs):
    cond = torch.rand(2, 10, 2 * LATENT, 2 * LATENT)
    frames = torch.stack([inputs["metadata"], inputs["metadata"] * 0.9, inputs["metadata"].flip(0)], dim=2)
    state = sat_controlnet.state_dict()
    extra = metadata_embedding(state, inputs["metadata"], TIME_PROJ_DIM) + sum(
        metadata_embedding(state, frames[:, :, t], TIME_PROJ_DIM) for t in range(3)
    )
    stock = stock_twin(sat_controlnet)
    hook = stock.time_embedding.register_forward_hook(lambda module, args, out: out + extra)
    try:
        expected = run(stock, {k: v for k, v in inputs.items() if k != "metadata"}, controlnet_cond=cond)
    finally:
        hook.remove()

    assert_outputs_close(run(sat_controlnet, inputs, controlnet_cond=cond, cond_metadata=frames), expected)


def test_condition_at_half_the_target_resolution(sat_unet, inputs):
    model = randomize_(
        SatControlNetModel.from_unet(
            sat_unet,
            conditioning_in_channels=10,
            conditioning_scale=2,
            conditioning_embedding_out_channels=(8, 8, 8, 16),
        ),
        seed=7,
    ).eval()
    # Target pixels are 8 x the latent; a condition at half the target's resolution is 4 x the latent.
    down, mid = run(model, inputs, controlnet_cond=torch.rand(2, 10, 4 * LATENT, 4 * LATENT))

    assert [d.shape[-1] for d in down] == [LATENT, LATENT, LATENT // 2, LATENT // 2]
    assert mid.shape == (2, 64, LATENT // 2, LATENT // 2)
    with pytest.raises(ValueError, match="latent size"):
        run(model, inputs, controlnet_cond=torch.rand(2, 10, 8 * LATENT, 8 * LATENT))


def test_from_unet_copies_the_encoder_and_metadata_mlps(sat_unet):
    model = SatControlNetModel.from_unet(sat_unet, conditioning_in_channels=10, conditioning_scale=2)
    unet_state, state = sat_unet.state_dict(), model.state_dict()
    shared = [
        k
        for k in state
        if k.split(".")[0] in {"conv_in", "time_embedding", "metadata_embedding", "down_blocks", "mid_block"}
    ]

    assert len([k for k in shared if k.startswith("metadata_embedding.")]) == 28
    assert all(torch.equal(state[k], unet_state[k]) for k in shared)
    assert model.config.conditioning_in_channels == 10 and model.config.conditioning_scale == 2
    assert "conditioning_channels" not in model.config


def test_metadata_refused_without_metadata_mlps(inputs):
    unet = SatUNet(
        block_out_channels=(32, 64),
        layers_per_block=1,
        cross_attention_dim=32,
        norm_num_groups=8,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        use_metadata=False,
    )
    model = SatControlNetModel.from_unet(
        unet, conditioning_in_channels=10, conditioning_embedding_out_channels=(8, 16)
    )

    assert model.metadata_embedding is None
    with pytest.raises(ValueError, match="use_metadata=False"):
        run(model, inputs, controlnet_cond=torch.rand(2, 10, 2 * LATENT, 2 * LATENT))


def test_sd21_sized_sr_controlnet_has_the_published_parameter_count():
    with torch.device("meta"):
        unet = SatUNet(
            attention_head_dim=[5, 10, 20, 20], cross_attention_dim=1024, use_linear_projection=True
        )
        model = SatControlNetModel.from_unet(
            unet, conditioning_in_channels=10, conditioning_scale=2, load_weights_from_unet=False
        )

    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 1) == 378.6
    assert [conv.stride for conv in model.controlnet_cond_embedding.blocks[1::2]] == [(2, 2), (2, 2), (1, 1)]
