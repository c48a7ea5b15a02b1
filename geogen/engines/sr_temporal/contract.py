"""The superres engine "diffusionsat-3d": one finer image of a date from Sentinel-2 frames of several dates,
drawn by DiffusionSat's 3-D ControlNet (``geogen.engines.temporal_controlnet.generator``).

The pipeline that drives it is ``geogen.pipelines.superres_temporal`` (family ``TemporalSREngine``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from geogen.engines.base import EngineOptions, TemporalSREngine
from geogen.engines.registry import register_engine
from geogen.engines.sr_temporal.options import SRTemporalOptions
from geogen.errors import OptionsError
from geogen.store.kinds import DIFFUSIONSAT, DIFFUSIONSAT_3D


@register_engine
class DiffusionSat3DSREngine(TemporalSREngine):
    """The first input's date drawn at a finer GSD, conditioned on the frames of the dates nearest to it.

    ``model`` is the 3-D ControlNet (its base from its folder, ``options.base_model`` or the store), or the
    DiffusionSat base with ``options.controlnet`` naming the 3-D ControlNet.
    """

    name: ClassVar[str] = "diffusionsat-3d"
    description: ClassVar[str] = (
        "DiffusionSat's 3-D ControlNet: one synthetic RGB image at the first input's date and 10 m / scale, "
        "conditioned on the frames of up to 3 dates nearest in time (the published Texas model's use)"
    )
    options_model: ClassVar[type[EngineOptions]] = SRTemporalOptions
    model_kinds: ClassVar[tuple[str, ...]] = (DIFFUSIONSAT_3D, DIFFUSIONSAT)
    field_model_kinds: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "options.controlnet": (DIFFUSIONSAT_3D,),
        "options.base_model": (DIFFUSIONSAT,),
    }
    options: SRTemporalOptions

    @classmethod
    def parse_options(cls, options: Mapping[str, Any] | None) -> Any:
        """``options`` checked by ``SRTemporalOptions``; a consistency step, which this engine lacks, is
        refused with a pointer to the engine that has one.

        Raises:
            OptionsError: ``consistency`` given, an unknown key, or a value of the wrong type or range.
        """
        if options and "consistency" in options:
            raise OptionsError(
                f"options.consistency: the {cls.name} engine has no consistency step (it writes the model's "
                "8-bit RGB); leave --consistency out, or use --engine diffusionsat-sr for one"
            )
        return super().parse_options(options)
