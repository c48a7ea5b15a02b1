"""SatUNet reproduces DiffusionSat's metadata conditioning on top of the stock diffusers UNet."""

from __future__ import annotations

import pytest
import torch
from diffusers import UNet2DConditionModel

from geogen.models import SatUNet
from tests.models.diffusionsat_reference import field_mlp, metadata_embedding, sinusoid
from tests.models.tiny_models import TIME_PROJ_DIM
from tests.tiny_models import TINY_UNET


def run(model: torch.nn.Module, inputs: dict[str, torch.Tensor], **overrides: object) -> torch.Tensor:
    with torch.no_grad():
        return model(**{**inputs, **overrides}).sample


def test_equals_stock_unet_plus_independently_computed_metadata_embedding(sat_unet, inputs):
    state = sat_unet.state_dict()
    stock = UNet2DConditionModel(**TINY_UNET).eval()
    stock.load_state_dict(
        {k: v for k, v in state.items() if not k.startswith("metadata_embedding.")}, strict=True
    )
    extra = metadata_embedding(state, inputs["metadata"], TIME_PROJ_DIM)
    hook = stock.time_embedding.register_forward_hook(lambda module, args, out: out + extra)
    try:
        expected = run(stock, {k: v for k, v in inputs.items() if k != "metadata"})
    finally:
        hook.remove()

    actual = run(sat_unet, inputs)

    assert torch.allclose(actual, expected, atol=1e-5, rtol=0)
    assert not torch.allclose(
        actual, run(stock, {k: v for k, v in inputs.items() if k != "metadata"}), atol=1e-3
    )


def test_metadata_changes_the_output_and_none_means_all_unknown(sat_unet, inputs):
    zeros = torch.zeros_like(inputs["metadata"])
    known = run(sat_unet, inputs)
    unknown = run(sat_unet, inputs, metadata=zeros)

    assert (known - unknown).abs().max() > 1e-3
    assert torch.equal(run(sat_unet, inputs, metadata=None), unknown)


def test_each_field_has_its_own_mlp(sat_unet, inputs):
    swapped = inputs["metadata"].clone()
    swapped[:, [0, 1]] = swapped[:, [1, 0]]

    assert (run(sat_unet, inputs) - run(sat_unet, inputs, metadata=swapped)).abs().max() > 1e-4


def test_one_metadata_row_is_broadcast_to_the_batch(sat_unet, inputs):
    row = inputs["metadata"][:1]

    assert torch.equal(run(sat_unet, inputs, metadata=row), run(sat_unet, inputs, metadata=row.expand(2, 7)))


def test_half_precision_metadata_is_refused(sat_unet, inputs):
    with pytest.raises(ValueError, match="float32"):
        run(sat_unet, inputs, metadata=inputs["metadata"].half())


def test_fp16_rounding_is_what_float32_metadata_avoids():
    value = torch.tensor([925.88])

    assert value.half().float().item() == 926.0
    assert abs(value.item() - 925.88) < 1e-4


def test_wrong_metadata_shape_is_refused(sat_unet, inputs):
    with pytest.raises(ValueError, match=r"\(N, 7\)"):
        run(sat_unet, inputs, metadata=inputs["metadata"][:, :6])
    with pytest.raises(ValueError, match="batch"):
        run(sat_unet, inputs, metadata=torch.zeros(3, 7))


def test_without_metadata_it_is_the_stock_unet(inputs):
    torch.manual_seed(0)
    plain = SatUNet(**TINY_UNET, use_metadata=False).eval()
    stock = UNet2DConditionModel(**TINY_UNET).eval()
    stock.load_state_dict(plain.state_dict(), strict=True)
    no_md = {k: v for k, v in inputs.items() if k != "metadata"}

    assert not any(k.startswith("metadata_embedding") for k in plain.state_dict())
    assert torch.equal(run(plain, no_md), run(stock, no_md))
    with pytest.raises(ValueError, match="use_metadata=False"):
        run(plain, inputs)


def test_config_keeps_the_diffusionsat_keys(sat_unet):
    assert sat_unet.config.use_metadata is True
    assert sat_unet.config.num_metadata == 7
    rebuilt = SatUNet.from_config(sat_unet.config)
    assert len(rebuilt.metadata_embedding) == 7
    assert rebuilt.metadata_embedding[0].linear_1.weight.shape == (128, 32)


def test_sd21_sized_architecture_has_the_published_parameter_count():
    with torch.device("meta"):
        unet = SatUNet(
            attention_head_dim=[5, 10, 20, 20], cross_attention_dim=1024, use_linear_projection=True
        )
    state = unet.state_dict()

    assert round(sum(p.numel() for p in unet.parameters()) / 1e6, 1) == 880.3
    assert state["metadata_embedding.6.linear_1.weight"].shape == (1280, 320)
    assert state["metadata_embedding.6.linear_2.weight"].shape == (1280, 1280)
    assert "metadata_embedding.7.linear_1.weight" not in state


def test_half_model_projects_metadata_in_float32(sat_unet, inputs):
    """In a float16 model the sinusoid still sees 925.88, not float16's 926; only the MLP input is cast."""
    mlps = sat_unet.metadata_embedding.half()
    values = inputs["metadata"]
    state = {f"metadata_embedding.{k}": v for k, v in mlps.state_dict().items()}

    with torch.no_grad():
        actual = mlps(values, sat_unet.time_proj, torch.float16)
        expected = sum(
            field_mlp(state, f"metadata_embedding.{i}", sinusoid(values[:, i], TIME_PROJ_DIM).half())
            for i in range(7)
        )
        rounded_first = mlps(values.half().float(), sat_unet.time_proj, torch.float16)

    assert actual.dtype == torch.float16
    assert torch.equal(actual, expected)
    assert not torch.equal(actual, rounded_first)
