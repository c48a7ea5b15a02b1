"""FLAIR-1 vocabulary and colour-coded conditions: exact colours, lossless inversion, Seg2Sat parity."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from rasterio.errors import NotGeoreferencedWarning

from geogen.errors import ClassMappingError
from geogen.landcover import FLAIR19, class_names, classes_from_condition, get_vocabulary, render_condition

FLAIR_IDS = ("067998", "073879", "076201")


def _read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as src:
            return src.read()


@pytest.fixture(scope="module")
def flair(test_data):
    folder = test_data / "flair1_aerial_masks"
    return {i: _read(folder / f"MSK_{i}.tif")[0] for i in FLAIR_IDS}


def test_flair19_legend_matches_the_official_colours():
    assert len(FLAIR19.classes) == 19
    assert FLAIR19.codes == tuple(range(1, 20))
    assert FLAIR19[1].name == "building" and FLAIR19[1].hex == "#db0e9a"
    assert FLAIR19[10].hex == "#55ff00" and FLAIR19[13].hex == "#3de6eb"
    assert FLAIR19[19].name == "other" and FLAIR19[19].colour == (0, 0, 0)
    assert FLAIR19.name_of(12) == "plowed land" and FLAIR19.label(12) == "'plowed land' (12)"
    assert len({c.colour for c in FLAIR19.classes}) == 19


def test_class_lookup_by_name_or_code():
    assert FLAIR19.code("Herbaceous_Vegetation") == 10
    assert FLAIR19.code(" swimming-pool ") == 13
    assert FLAIR19.code("7") == 7 and FLAIR19.code(16) == 16
    with pytest.raises(ClassMappingError, match=r"'forest'.*1=building"):
        FLAIR19.code("forest")
    with pytest.raises(ClassMappingError, match="20"):
        FLAIR19.code(20)
    assert get_vocabulary("FLAIR1") is FLAIR19
    with pytest.raises(ClassMappingError, match="unknown land-cover vocabulary 'osm'"):
        get_vocabulary("osm")


def test_every_rendered_pixel_is_its_class_colour():
    rng = np.random.default_rng(0)
    class_map = rng.integers(0, 20, size=(64, 80)).astype(np.uint8)
    rgb = render_condition(class_map)
    assert rgb.shape == (3, 64, 80) and rgb.dtype == np.uint8
    palette = {c.code: c.colour for c in FLAIR19.classes} | {0: (0, 0, 0)}
    expected = np.array([palette[int(v)] for v in class_map.ravel()], dtype=np.uint8).T.reshape(3, 64, 80)
    np.testing.assert_array_equal(rgb, expected)


def test_render_rejects_codes_outside_the_vocabulary_listing_all():
    class_map = np.array([[1, 20], [25, 3]], dtype=np.uint16)
    with pytest.raises(ClassMappingError, match=r"\[20, 25\]"):
        render_condition(class_map)


@pytest.mark.parametrize("flair_id", FLAIR_IDS)
def test_real_flair_masks_round_trip(flair, flair_id):
    mask = flair[flair_id]
    rgb = render_condition(mask)
    colours = {tuple(c) for c in rgb.reshape(3, -1).T[::97].tolist()}
    assert colours <= {c.colour for c in FLAIR19.classes}
    np.testing.assert_array_equal(classes_from_condition(rgb), mask)


def test_rendering_matches_seg2sat_colour_png_exactly(flair, test_data):
    seg2sat = _read(test_data / "flair1_aerial_masks" / "original_png" / "MSK_067998_colour.png")
    np.testing.assert_array_equal(render_condition(flair["067998"]), seg2sat[:3])


def test_inverting_unknown_colours_lists_them():
    rgb = np.zeros((3, 2, 2), dtype=np.uint8)
    rgb[:, 0, 0] = (1, 2, 3)
    rgb[:, 1, 1] = (0xDB, 0x0E, 0x9A)
    with pytest.raises(ClassMappingError, match=r"1 condition pixels.*#010203"):
        classes_from_condition(rgb)


def test_class_names_follow_vocabulary_order():
    assert class_names([10, 1, 0, 99]) == ["building", "herbaceous vegetation"]
