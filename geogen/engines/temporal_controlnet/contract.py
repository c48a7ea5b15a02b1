"""The temporal engine ``diffusionsat-3d``: DiffusionSat's 3-D ControlNet drawing new dates of a place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from geogen.engines.base import EngineOptions, TemporalDiffusionEngine
from geogen.engines.registry import register_engine
from geogen.engines.temporal_controlnet.options import TemporalEngineOptions
from geogen.store.kinds import DIFFUSIONSAT, DIFFUSIONSAT_3D


@register_engine
class DiffusionSat3DEngine(TemporalDiffusionEngine):
    """Each new date generated from up to ``frames`` known frames plus its date's metadata.

    ``model`` is the DiffusionSat model (with ``options.controlnet``) or the 3-D ControlNet itself (its base
    found from ``options.base_model``, its folder or the store). The pipeline (``geogen.pipelines.temporal``)
    drives it through ``geogen.engines.temporal_controlnet.loading``.
    """

    name: ClassVar[str] = "diffusionsat-3d"
    description: ClassVar[str] = (
        "DiffusionSat's 3-D ControlNet: each new date generated from up to 3 known frames (observed, or "
        "generated before) plus its date's metadata, forward and backward in time; one co-registered GeoTIFF "
        "per date and a NetCDF datacube"
    )
    options_model: ClassVar[type[EngineOptions]] = TemporalEngineOptions
    model_kinds: ClassVar[tuple[str, ...]] = (DIFFUSIONSAT, DIFFUSIONSAT_3D)
    field_model_kinds: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "options.controlnet": (DIFFUSIONSAT_3D,),
        "options.base_model": (DIFFUSIONSAT,),
    }
    default: ClassVar[bool] = True
    model_optional: ClassVar[bool] = True  # a stack of observed dates only loads no model
    options: TemporalEngineOptions
