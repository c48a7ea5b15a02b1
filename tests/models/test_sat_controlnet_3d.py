"""SatControlNetModel3D: per-frame 2-D ControlNet summed over time, plus clamped temporal-attention mixing."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from geogen.models import SatControlNetModel, SatControlNetModel3D, SatUNet
from tests.models.diffusionsat_reference import architecture_kwargs, conv_embedding_3d
from tests.models.tiny_models import LATENT

FRAMES = 3


def run(model: torch.nn.Module, inputs: dict[str, torch.Tensor], **kwargs: object) -> list[torch.Tensor]:
    with torch.no_grad():
        out = model(**inputs, **kwargs)
    return [*out.down_block_res_samples, out.mid_block_res_sample]


def frames_inputs(inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(8)
    frame_md = torch.stack([inputs["metadata"] * s for s in (0.8, 0.9, 1.1)], dim=2)
    frame_md[:, 4:] = inputs["metadata"][:, 4:, None] + torch.tensor([-20.0, 0.0, 30.0])  # three dates
    return {
        "controlnet_cond": torch.rand(2, 3, FRAMES, 2 * LATENT, 2 * LATENT, generator=gen),
        "cond_metadata": frame_md,
    }


def per_frame_twin(model: SatControlNetModel3D) -> SatControlNetModel:
    """A 2-D SatControlNet with the 3-D model's weights (1x1x1 zero-convs as 1x1) fed pre-embedded frames."""
    cfg = model.config
    twin = SatControlNetModel(
        conditioning_in_channels=cfg.conditioning_in_channels, **architecture_kwargs(cfg)
    ).eval()
    twin.controlnet_cond_embedding = nn.Identity()
    state = {
        k: (v[..., 0] if v.ndim == 5 else v)
        for k, v in model.state_dict().items()
        if not k.startswith(("controlnet_cond_embedding.", "temporal_blocks.", "mixing_attns."))
    }
    twin.load_state_dict(state, strict=True)
    return twin


def test_alpha_zero_equals_sum_over_frames_of_the_2d_computation(sat_controlnet_3d, inputs):
    extra = frames_inputs(inputs)
    embedded = conv_embedding_3d(sat_controlnet_3d.state_dict(), extra["controlnet_cond"], stages=1)
    twin = per_frame_twin(sat_controlnet_3d)
    per_frame = [
        run(twin, inputs, controlnet_cond=embedded[:, :, t], cond_metadata=extra["cond_metadata"][:, :, t])
        for t in range(FRAMES)
    ]
    expected = [sum(outs) for outs in zip(*per_frame, strict=True)]

    actual = run(sat_controlnet_3d, inputs, **extra)

    assert len(actual) == len(expected) == 5
    for a, e in zip(actual, expected, strict=True):
        assert a.shape == e.shape
        assert torch.allclose(a, e, atol=1e-5, rtol=0), (a - e).abs().max()


def test_each_frame_metadata_matters(sat_controlnet_3d, inputs):
    extra = frames_inputs(inputs)
    changed = extra["cond_metadata"].clone()
    changed[:, 4, 1] += 50.0  # the middle frame's year only

    base, moved = (
        run(sat_controlnet_3d, inputs, **extra),
        run(sat_controlnet_3d, inputs, **{**extra, "cond_metadata": changed}),
    )

    assert max((a - b).abs().max() for a, b in zip(base, moved, strict=True)) > 1e-4


def test_mixing_weight_is_clamped_to_one(sat_controlnet_3d, inputs):
    extra = frames_inputs(inputs)
    base = run(sat_controlnet_3d, inputs, **extra)
    with torch.no_grad():
        sat_controlnet_3d.mixing_attns[0].fill_(1.0)
    full = run(sat_controlnet_3d, inputs, **extra)
    with torch.no_grad():
        sat_controlnet_3d.mixing_attns[0].fill_(5.0)
    beyond = run(sat_controlnet_3d, inputs, **extra)

    assert (full[0] - base[0]).abs().max() > 1e-4  # the stem's temporal attention now contributes
    assert all(
        torch.equal(a, b) for a, b in zip(full[1:], base[1:], strict=True)
    )  # other indices are untouched
    assert all(torch.equal(a, b) for a, b in zip(beyond, full, strict=True))


def test_batch_items_stay_separate_through_temporal_attention(sat_controlnet_3d, inputs):
    """Frames are regrouped per item correctly: a batch of two equals each item run alone (all alphas 0.7)."""
    extra = frames_inputs(inputs)
    with torch.no_grad():
        for alpha in sat_controlnet_3d.mixing_attns:
            alpha.fill_(0.7)
    both = run(sat_controlnet_3d, inputs, **extra)
    for i in range(2):
        alone = run(
            sat_controlnet_3d,
            {k: (v[i : i + 1] if v.ndim > 1 or k == "timestep" else v) for k, v in inputs.items()},
            **{k: v[i : i + 1] for k, v in extra.items()},
        )
        for a, b in zip(alone, both, strict=True):
            assert torch.allclose(a[0], b[i], atol=1e-5, rtol=0), (a[0] - b[i]).abs().max()


def test_wrong_condition_layout_is_refused(sat_controlnet_3d, inputs):
    extra = frames_inputs(inputs)
    with pytest.raises(ValueError, match=r"\(B, C, T, H, W\)"):
        run(sat_controlnet_3d, inputs, **{**extra, "controlnet_cond": extra["controlnet_cond"][:, :, 0]})
    with pytest.raises(ValueError, match="frames"):
        run(sat_controlnet_3d, inputs, **{**extra, "cond_metadata": extra["cond_metadata"][:, :, :2]})


def test_sd21_sized_3d_controlnet_layout_and_parameter_count():
    with torch.device("meta"):
        unet = SatUNet(
            attention_head_dim=[5, 10, 20, 20], cross_attention_dim=1024, use_linear_projection=True
        )
        model = SatControlNetModel3D.from_unet(
            unet, conditioning_in_channels=3, use_temporal_transformer=True, load_weights_from_unet=False
        )
    state = model.state_dict()

    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 1) == 433.2
    assert sorted({int(k.split(".")[1]) for k in state if k.startswith("temporal_blocks.")}) == [0, 3, 6, 9]
    assert sorted(int(k.split(".")[1]) for k in state if k.startswith("mixing_attns.")) == list(range(12))
    assert state["controlnet_down_blocks.0.weight"].shape == (320, 320, 1, 1, 1)
    assert state["controlnet_cond_embedding.blocks.1.weight"].shape == (32, 16, 1, 3, 3)
    assert state["controlnet_cond_embedding.conv_in.weight"].shape == (16, 3, 3, 3, 3)
    assert [m.requires_grad for m in model.mixing_attns] == [i in (0, 3, 6, 9) for i in range(12)]
