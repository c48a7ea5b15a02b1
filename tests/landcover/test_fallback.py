"""Closest-class fallback rule: documented substitutes first, then transitively, then the largest class."""

from __future__ import annotations

import pytest

from geogen.errors import ClassMappingError
from geogen.landcover.fallback import FLAIR19_FALLBACKS, closest_available, similar_available, substitutions


def test_every_flair_class_has_substitutes_among_flair_classes():
    assert sorted(FLAIR19_FALLBACKS) == list(range(1, 20))
    for code, subs in FLAIR19_FALLBACKS.items():
        assert subs and code not in subs and set(subs) <= set(range(1, 20))


@pytest.mark.parametrize(
    ("code", "available", "expected"),
    [
        (6, {7: 10, 16: 10}, 16),  # coniferous -> mixed first
        (6, {7: 10, 10: 99}, 7),  # coniferous -> deciduous
        (16, {6: 10, 17: 10}, 6),  # mixed -> coniferous before ligneous
        (17, {16: 5, 8: 5}, 8),  # ligneous -> brushwood
        (12, {4: 1, 11: 1}, 4),  # plowed -> bare soil
        (12, {11: 1, 10: 1}, 11),  # plowed -> agricultural
        (4, {11: 1}, 11),  # bare soil -> agricultural
        (13, {5: 1, 3: 1}, 5),  # swimming pool -> water
    ],
)
def test_documented_substitutes(code, available, expected):
    assert closest_available(code, available) == expected


def test_available_class_stands_for_itself():
    assert closest_available(9, {9: 1, 17: 100}) == 9


def test_transitive_then_largest():
    # swimming pool -> water, impervious: neither; their own substitutes reach pervious surface.
    assert closest_available(13, {2: 10, 10: 1000}) == 2
    # vineyard's chain never reaches water or pools: the largest available class is the last resort.
    assert closest_available(9, {5: 10, 13: 50}) == 13


def test_min_pixels_passes_over_scarce_substitutes():
    assert closest_available(9, {8: 1500, 7: 40000}) == 8
    assert closest_available(9, {8: 1500, 7: 40000}, min_pixels=2048) == 7


def test_similar_available_only_borrows_from_the_two_closest():
    assert similar_available(1, {3: 5000}, min_pixels=2048) == 3
    assert similar_available(1, {2: 50000}, min_pixels=2048) is None
    assert similar_available(7, {16: 100, 6: 5000}, min_pixels=2048) == 6


def test_substitutions_warn_naming_both_classes():
    subs, warnings = substitutions([0, 6, 7, 13], {7: 100, 3: 10})
    assert subs == {6: 7, 13: 3}
    assert warnings == [
        "the exemplars have no 'coniferous' (6): using 'deciduous' (7) in its place",
        "the exemplars have no 'swimming pool' (13): using 'impervious surface' (3) in its place",
    ]


def test_nothing_available_is_an_error():
    with pytest.raises(ClassMappingError, match="no land-cover class"):
        closest_available(3, {0: 100})
