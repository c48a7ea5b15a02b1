"""The typed options of the sharpening engines (pydantic models; cheap to import, no numerical code).

Every model extends ``SharpenOptions`` (the pipeline's ``tile``). The defaults are the engines' measured
defaults (bench/results/sharpen.md); the implementations in ``classical`` and ``cnn`` take their defaults from
here so that a value is written once.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from geogen.engines.base import SharpenOptions

Method = Literal["hpm", "glp", "bicubic"]
DEFAULT_METHOD: Method = "hpm"
DEFAULT_CONSISTENCY_REG = 0.1


class ClassicalOptions(SharpenOptions):
    """Options of the engine "sharpen": the detail-injection method and the consistency projection."""

    method: Method = Field(
        default=DEFAULT_METHOD,
        description='"hpm": high-pass modulation (multiplicative detail); "glp": additive detail (GLP-Reg); '
        '"bicubic": interpolation only',
    )
    consistency: bool = Field(
        default=True,
        description="project the result towards images whose degradation by the sensor model reproduces "
        "the input band",
    )
    consistency_reg: float = Field(
        default=DEFAULT_CONSISTENCY_REG,
        ge=0,
        le=10,
        description="regularisation of the consistency projection: 0 makes it exact, larger values softer "
        "(robust to a sensor blur unlike the model's)",
    )


class CNNOptions(SharpenOptions):
    """Options of the engine "sharpen-cnn": the size of the scene-trained network and of its training."""

    iterations: int = Field(
        default=500, ge=1, description="training steps (Adam, cosine learning-rate decay)"
    )
    blocks: int = Field(default=6, ge=1, description="residual blocks of the network")
    channels: int = Field(default=48, ge=1, description="feature channels of the network")
    patch: int = Field(default=32, ge=1, description="side of a training patch, in 20 m pixels")
    batch: int = Field(default=16, ge=1, description="training patches per step")
    lr: float = Field(default=1e-3, gt=0, lt=1, description="learning rate")
    train_size: int = Field(
        default=1536,
        ge=1,
        description="side of the central crop of the scene the network trains on, in 10 m pixels "
        "(bounds memory on full tiles)",
    )
