"""The superres engine "diffusionsat-sr": DiffusionSat's SR ControlNet on the engine contract.

The pipeline that drives it is ``geogen.pipelines.superres_diffusion`` (family ``DiffusionSREngine``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from geogen.engines.base import DiffusionSREngine, EngineOptions
from geogen.engines.registry import register_engine
from geogen.engines.sr_controlnet.options import SROptions
from geogen.store.kinds import DIFFUSIONSAT, DIFFUSIONSAT_SR


@register_engine
class DiffusionSatSREngine(DiffusionSREngine):
    """Sentinel-2 (10 bands) -> synthetic RGB at 10 m / scale, one output per input date.

    ``model`` is the SR ControlNet; its DiffusionSat base comes from ``options.base_model``, the ControlNet's
    folder or the store. "diffusionsat", its former name, is still accepted on input.
    """

    name: ClassVar[str] = "diffusionsat-sr"
    aliases: ClassVar[tuple[str, ...]] = ("diffusionsat",)
    description: ClassVar[str] = (
        "DiffusionSat's SR ControlNet: Sentinel-2 (10 bands) -> synthetic RGB at 10 m / scale, with a "
        "consistency step (on by default) so the output degrades back to the input"
    )
    options_model: ClassVar[type[EngineOptions]] = SROptions
    model_kinds: ClassVar[tuple[str, ...]] = (DIFFUSIONSAT_SR,)
    field_model_kinds: ClassVar[Mapping[str, tuple[str, ...]]] = {"options.base_model": (DIFFUSIONSAT,)}
    options: SROptions
