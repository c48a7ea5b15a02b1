"""Exemplar engine: texture-by-numbers (image quilting) from example image + class map pairs.

Public API: :func:`synthesize` (a map in memory), :func:`synthesize_window` (one window of a tiled run),
:func:`synthesize_tiled` (any size, streamed), :class:`ExemplarBank`, :class:`QuiltParams`, and
:func:`bundled_exemplars` (the FLAIR pairs shipped with geogen). The registry's view of the engine is
``contract``.

Names are imported on first use, so that importing ``geogen.engines.exemplar.contract`` (listing engines,
checking options) does not load the quilting code and its readers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from geogen.engines.exemplar.bank import Exemplar, ExemplarBank
    from geogen.engines.exemplar.bundled import bundled_exemplars, load_exemplar
    from geogen.engines.exemplar.engine import make_bank, synthesize, synthesize_window
    from geogen.engines.exemplar.params import QuiltParams
    from geogen.engines.exemplar.tiled import synthesize_tiled

_HOMES = {
    "Exemplar": "bank",
    "ExemplarBank": "bank",
    "bundled_exemplars": "bundled",
    "load_exemplar": "bundled",
    "make_bank": "engine",
    "synthesize": "engine",
    "synthesize_window": "engine",
    "QuiltParams": "params",
    "synthesize_tiled": "tiled",
}

__all__ = [
    "Exemplar",
    "ExemplarBank",
    "QuiltParams",
    "bundled_exemplars",
    "load_exemplar",
    "make_bank",
    "synthesize",
    "synthesize_tiled",
    "synthesize_window",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
