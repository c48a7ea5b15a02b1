"""Condition renderers: how a class map is coloured for a ControlNet, as the engine was trained.

- ``legend``: the vocabulary's official legend colours (FLAIR-1: what Seg2Sat's ControlNet saw).
- ``osm``: OpenStreetMap-Carto landuse fill colours (what GeoSynth-OSM's ControlNet saw, rendered from OSM
  tiles), so a land-cover sketch can drive an OSM-conditioned model. The FLAIR -> OSM tag choice is documented
  in ``OSM_CARTO_FLAIR19``; classes without a natural OSM fill get the Carto land background.

A renderer is a (256, 3) uint8 lookup table from class code to colour (code 0, outside, stays black).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from geogen.errors import JobSpecError
from geogen.landcover.vocab import Vocabulary

# FLAIR-1 class -> (OSM tag whose Carto fill is used, colour)
OSM_CARTO_FLAIR19: dict[str, tuple[str, str]] = {
    "building": ("building=yes", "#d9d0c9"),
    "pervious surface": ("land background", "#f2efe9"),
    "impervious surface": ("amenity=parking", "#eeeeee"),
    "bare soil": ("natural=bare_rock", "#eee5dc"),
    "water": ("natural=water", "#aad3df"),
    "coniferous": ("landuse=forest", "#add19e"),
    "deciduous": ("landuse=forest", "#add19e"),
    "brushwood": ("natural=scrub", "#c8d7ab"),
    "vineyard": ("landuse=vineyard", "#aedfa3"),
    "herbaceous vegetation": ("landuse=grass", "#cdebb0"),
    "agricultural land": ("landuse=farmland", "#eef0d5"),
    "plowed land": ("landuse=farmland", "#eef0d5"),
    "swimming pool": ("leisure=swimming_pool", "#aad3df"),
    "snow": ("natural=glacier", "#ddecec"),
    "clear cut": ("natural=scrub", "#c8d7ab"),
    "mixed": ("landuse=forest", "#add19e"),
    "ligneous": ("natural=scrub", "#c8d7ab"),
    "greenhouse": ("landuse=greenhouse_horticulture", "#eef0d5"),
    "other": ("land background", "#f2efe9"),
}


def _hex(colour: str) -> tuple[int, int, int]:
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def legend_table(vocab: Vocabulary) -> np.ndarray:
    return vocab.palette()


def osm_table(vocab: Vocabulary) -> np.ndarray:
    """OSM-Carto colours for the vocabulary's classes (FLAIR-1 names).

    Raises:
        JobSpecError: the vocabulary has a class with no OSM colour.
    """
    table = np.zeros((256, 3), np.uint8)
    for code in vocab.codes:
        name = vocab.name_of(code)
        if name not in OSM_CARTO_FLAIR19:
            raise JobSpecError(f"the osm condition style has no colour for class {name!r} of {vocab.name}")
        table[code] = _hex(OSM_CARTO_FLAIR19[name][1])
    return table


RENDERERS: dict[str, Callable[[Vocabulary], np.ndarray]] = {"legend": legend_table, "osm": osm_table}


def condition_table(style: str, vocab: Vocabulary) -> np.ndarray:
    """The (256, 3) lookup table of a condition style.

    Raises:
        JobSpecError: unknown style.
    """
    if style not in RENDERERS:
        raise JobSpecError(f"unknown condition style {style!r}; known: {', '.join(RENDERERS)}")
    return RENDERERS[style](vocab)
