"""The text engine ``diffusionsat``: DiffusionSat's single-image model over latent windows of any area."""

from __future__ import annotations

from typing import ClassVar

from geogen.diffusion.options import DiffusionEngineOptions
from geogen.engines.base import EngineOptions, TextDiffusionEngine
from geogen.engines.registry import register_engine
from geogen.store.kinds import DIFFUSIONSAT


@register_engine
class DiffusionSatTextEngine(TextDiffusionEngine):
    """Prompt + metadata -> synthetic scene; every latent window gets the metadata of its own centre.

    Its options are the diffusion engines' own (device, precision, windows...); prompt, date, cloud cover,
    GSD, steps and guidance are fields of the text job itself. The pipeline is ``geogen.pipelines.text``.
    """

    name: ClassVar[str] = "diffusionsat"
    description: ClassVar[str] = (
        "DiffusionSat: prompt + place, date and GSD metadata -> synthetic image of any area (MultiDiffusion "
        "over latent windows, each with its own metadata)"
    )
    options_model: ClassVar[type[EngineOptions]] = DiffusionEngineOptions
    model_kinds: ClassVar[tuple[str, ...]] = (DIFFUSIONSAT,)
    default: ClassVar[bool] = True
    options: DiffusionEngineOptions
