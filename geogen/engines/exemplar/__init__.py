"""Exemplar engine: texture-by-numbers (image quilting) from example image + class map pairs.

Public API: :func:`synthesize` (a map in memory), :func:`synthesize_window` (one window of a tiled run),
:func:`synthesize_tiled` (any size, streamed), :class:`ExemplarBank`, :class:`QuiltParams`, and
:func:`bundled_exemplars` (the FLAIR pairs shipped with geogen).
"""

from geogen.engines.exemplar.bank import Exemplar, ExemplarBank
from geogen.engines.exemplar.bundled import bundled_exemplars, load_exemplar
from geogen.engines.exemplar.engine import make_bank, synthesize, synthesize_window
from geogen.engines.exemplar.params import QuiltParams
from geogen.engines.exemplar.tiled import synthesize_tiled

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
