"""Closest-class fallback: which class stands in when the exemplars (or a model) lack one the map uses.

The rule, in order:

1. the substitutes listed for the class below, first one available wins (hand-ordered by how alike the
   classes look from above at 0.2 m: canopy with canopy, bare ground with bare ground, sealed with sealed);
2. otherwise the same lists followed transitively, breadth first (a substitute's substitutes, and so on);
   callers may pass over substitutes with fewer than ``min_pixels`` pixels in these two steps;
3. otherwise the available class with the most pixels (``available`` given as a {code: pixels} dict), or
   the lowest available code.

Every substitution is reported as a warning naming both classes, never silently.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

from geogen.errors import ClassMappingError
from geogen.landcover.vocab import FLAIR19, NODATA, Vocabulary

# FLAIR-1 codes: 1 building, 2 pervious surface, 3 impervious surface, 4 bare soil, 5 water, 6 coniferous,
# 7 deciduous, 8 brushwood, 9 vineyard, 10 herbaceous vegetation, 11 agricultural land, 12 plowed land,
# 13 swimming pool, 14 snow, 15 clear cut, 16 mixed, 17 ligneous, 18 greenhouse, 19 other.
FLAIR19_FALLBACKS: dict[int, tuple[int, ...]] = {
    1: (3, 18, 2, 19),  # building -> impervious, greenhouse, pervious, other
    2: (4, 3, 10, 12),  # pervious surface -> bare soil, impervious, herbaceous, plowed
    3: (2, 1, 19, 4),  # impervious surface -> pervious, building, other, bare soil
    4: (12, 2, 11, 15),  # bare soil -> plowed, pervious, agricultural, clear cut
    5: (13, 19, 3),  # water -> swimming pool, other, impervious
    6: (16, 7, 17, 8),  # coniferous -> mixed, deciduous, ligneous, brushwood
    7: (16, 6, 17, 8),  # deciduous -> mixed, coniferous, ligneous, brushwood
    8: (17, 15, 7, 10),  # brushwood -> ligneous, clear cut, deciduous, herbaceous
    9: (17, 11, 8, 12),  # vineyard -> ligneous, agricultural, brushwood, plowed
    10: (11, 2, 8, 15),  # herbaceous vegetation -> agricultural, pervious, brushwood, clear cut
    11: (10, 12, 4, 9),  # agricultural land -> herbaceous, plowed, bare soil, vineyard
    12: (4, 11, 10),  # plowed land -> bare soil, agricultural, herbaceous
    13: (5, 3),  # swimming pool -> water, impervious
    14: (2, 4, 3),  # snow -> pervious, bare soil, impervious (the brightest open ground)
    15: (8, 4, 10, 17),  # clear cut -> brushwood, bare soil, herbaceous, ligneous
    16: (7, 6, 17, 8),  # mixed -> deciduous, coniferous, ligneous, brushwood
    17: (8, 9, 7, 16),  # ligneous -> brushwood, vineyard, deciduous, mixed
    18: (1, 3),  # greenhouse -> building, impervious
    19: (3, 2, 1),  # other -> impervious, pervious, building
}
"""Ordered substitutes per FLAIR-1 class (see the module docstring for how they are used)."""

FALLBACK_TABLES: dict[str, dict[int, tuple[int, ...]]] = {FLAIR19.name: FLAIR19_FALLBACKS}


def closest_available(
    code: int,
    available: Mapping[int, int] | Iterable[int],
    vocab: Vocabulary = FLAIR19,
    min_pixels: int = 0,
) -> int:
    """The class standing in for ``code`` given the ``available`` classes (itself if available).

    Substitutes with fewer than ``min_pixels`` pixels in ``available`` (a {code: pixels} dict) are passed over
    in steps 1 and 2 of the rule, so a scarce class is not stretched over a large area.

    Raises:
        ClassMappingError: nothing is available at all.
    """
    counts = dict(available) if isinstance(available, Mapping) else {int(c): 0 for c in available}
    counts = {int(c): n for c, n in counts.items() if int(c) != NODATA}
    if not counts:
        raise ClassMappingError("the exemplars hold no land-cover class at all (every pixel is nodata)")
    if code in counts:
        return code
    table = FALLBACK_TABLES.get(vocab.name, {})
    seen = {code}
    queue = deque(table.get(code, ()))
    while queue:
        cand = queue.popleft()
        if cand in seen:
            continue
        if cand in counts and counts[cand] >= min_pixels:
            return cand
        seen.add(cand)
        queue.extend(table.get(cand, ()))
    return max(sorted(counts), key=lambda c: counts[c])


def similar_available(
    code: int, available: Mapping[int, int], vocab: Vocabulary = FLAIR19, min_pixels: int = 0
) -> int | None:
    """The first of the two closest substitutes of ``code`` with ``min_pixels`` pixels available, or None.

    Used to borrow texture for a scarce class: only its two closest listed classes qualify.
    """
    for cand in FALLBACK_TABLES.get(vocab.name, {}).get(code, ())[:2]:
        if available.get(cand, 0) >= max(min_pixels, 1):
            return cand
    return None


def substitutions(
    needed: Iterable[int],
    available: Mapping[int, int] | Iterable[int],
    vocab: Vocabulary = FLAIR19,
    source: str = "exemplars",
    min_pixels: int = 0,
) -> tuple[dict[int, int], list[str]]:
    """{needed code -> stand-in code} for every needed class the ``source`` lacks, plus one warning each.

    ``min_pixels``: see :func:`closest_available`.

    Raises:
        ClassMappingError: nothing is available at all.
    """
    subs: dict[int, int] = {}
    warnings: list[str] = []
    for code in sorted({int(c) for c in needed} - {NODATA}):
        sub = closest_available(code, available, vocab, min_pixels)
        if sub != code:
            subs[code] = sub
            warnings.append(
                f"the {source} have no {vocab.label(code)}: using {vocab.label(sub)} in its place"
            )
    return subs, warnings
