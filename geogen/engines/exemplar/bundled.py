"""Exemplar pairs as the engine takes them (bare arrays): a user's rasters, or the FLAIR pairs shipped with geogen.

Reading lives in ``geogen.io.exemplars`` (which also knows each pair's GSD, for the sketch pipeline); this module
only strips the pairs down to ``(image (3, h, w) uint8, codes (h, w))``.
"""

from __future__ import annotations

from pathlib import Path

from geogen.engines.exemplar.bank import Exemplar
from geogen.io.exemplars import EXEMPLAR_ROOT as EXEMPLAR_DIR
from geogen.io.exemplars import bundled_names, load_exemplars, read_exemplar
from geogen.landcover.mapping import ClassMapping
from geogen.landcover.vocab import FLAIR19, Vocabulary

__all__ = ["EXEMPLAR_DIR", "bundled_exemplars", "bundled_names", "load_exemplar"]


def load_exemplar(
    image: str | Path, mask: str | Path, mapping: ClassMapping | None = None, vocab: Vocabulary = FLAIR19
) -> Exemplar:
    """An exemplar pair from files (see ``geogen.io.exemplars.read_exemplar``)."""
    ex = read_exemplar(image, mask, mapping=mapping, vocab=vocab)
    return ex.image, ex.mask


def bundled_exemplars(names: list[str] | None = None) -> list[Exemplar]:
    """The shipped exemplar pairs (all of them by default), in FLAIR-1 codes.

    Raises:
        InputFileError: a named exemplar is not shipped.
    """
    return [(e.image, e.mask) for e in load_exemplars(names=names)]
