"""The FLAIR-1 land-cover classes with their official colours (the codes the sketch engines read).

Plain data on purpose: the plugin cannot import geogen. Source: FLAIR-1 nomenclature, as Seg2Sat was trained
on it. ``tests/landcover/test_palette_parity.py`` keeps it equal to the backend's ``geogen.landcover.vocab``.
"""

from __future__ import annotations

from typing import NamedTuple


class LandCoverClass(NamedTuple):
    """One class: its code in the engines' vocabulary, its name and its colour."""

    value: int
    name: str
    color: str  # "#rrggbb"


VOCABULARY = "flair19"

FLAIR19: tuple[LandCoverClass, ...] = (
    LandCoverClass(1, "building", "#db0e9a"),
    LandCoverClass(2, "pervious surface", "#938e7b"),
    LandCoverClass(3, "impervious surface", "#f80c00"),
    LandCoverClass(4, "bare soil", "#a97101"),
    LandCoverClass(5, "water", "#1553ae"),
    LandCoverClass(6, "coniferous", "#194a26"),
    LandCoverClass(7, "deciduous", "#46e483"),
    LandCoverClass(8, "brushwood", "#f3a60d"),
    LandCoverClass(9, "vineyard", "#660082"),
    LandCoverClass(10, "herbaceous vegetation", "#55ff00"),
    LandCoverClass(11, "agricultural land", "#fff30d"),
    LandCoverClass(12, "plowed land", "#e4df7c"),
    LandCoverClass(13, "swimming pool", "#3de6eb"),
    LandCoverClass(14, "snow", "#ffffff"),
    LandCoverClass(15, "clear cut", "#8ab3a0"),
    LandCoverClass(16, "mixed", "#6b714f"),
    LandCoverClass(17, "ligneous", "#c5dc42"),
    LandCoverClass(18, "greenhouse", "#9999ff"),
    LandCoverClass(19, "other", "#000000"),
)


def class_by_value(value: int) -> LandCoverClass:
    """The class with code ``value``.

    Raises:
        KeyError: no FLAIR-1 class has this code.
    """
    for c in FLAIR19:
        if c.value == value:
            return c
    raise KeyError(f"no FLAIR-1 class has code {value!r} (codes are 1-19)")
