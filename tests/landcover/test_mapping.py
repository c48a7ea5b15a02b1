"""User class mappings: matching rules, nodata, and errors that list every unmapped value."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from geogen.errors import ClassMappingError, InputFileError
from geogen.landcover import ClassMapping, check_codes, code_lookup, load_mapping
from geogen.landcover.mapping import canonical_key

SLOVENIA_MAPPING = (
    Path(__file__).resolve().parents[2] / "geogen" / "data" / "mappings" / "slovenia_lulc_to_flair.json"
)


def test_keys_compare_as_numbers_or_trimmed_casefolded_text():
    assert (
        canonical_key(2)
        == canonical_key("2")
        == canonical_key("2.0")
        == canonical_key(np.float32(2.0))
        == "2"
    )
    assert canonical_key("  Urban  Area ") == canonical_key("urban area")
    assert canonical_key(None) == "null"
    assert canonical_key(2.5) == "2.5"


def test_targets_by_name_code_or_nodata():
    m = ClassMapping.from_dict(
        {"1": "agricultural land", "2": 16, "urban": "Impervious_Surface", "0": "nodata"}
    )
    assert m.map_values([1, "2", "URBAN", 0.0]) == [11, 16, 3, 0]


def test_bad_targets_are_all_listed():
    with pytest.raises(ClassMappingError) as err:
        ClassMapping.from_dict({"1": "forest", "2": 42, "3": "water"}, source="my.json")
    assert (
        "'1' -> 'forest'" in str(err.value) and "'2' -> 42" in str(err.value) and "my.json" in str(err.value)
    )


def test_equal_keys_are_rejected():
    with pytest.raises(ClassMappingError, match="both mean '2'"):
        ClassMapping.from_dict({"2": "water", "2.0": "building"})


def test_unmapped_attribute_values_are_all_listed():
    m = ClassMapping.from_dict({"forest": "deciduous"})
    with pytest.raises(ClassMappingError) as err:
        m.map_values(["forest", "lake", "road", "lake", None])
    msg = str(err.value)
    assert "3 input values" in msg and "'lake'" in msg and "'road'" in msg and "'null'" in msg


def test_map_array_with_nodata_and_floats():
    m = ClassMapping.from_dict({"1": 10, "2": "water"})
    arr = np.array([[1.0, 2.0], [np.nan, -9999.0]], dtype=np.float32)
    np.testing.assert_array_equal(m.map_array(arr, nodata=-9999.0), [[10, 5], [0, 0]])
    assert m.map_array(arr, nodata=-9999.0).dtype == np.uint8


def test_map_array_lists_every_unmapped_raster_value():
    m = ClassMapping.from_dict({"1": 10})
    arr = np.array([[1, 7, 7], [300, 1, 12]], dtype=np.int32)
    with pytest.raises(ClassMappingError, match=r"3 input values: '7', '12', '300'"):
        m.map_array(arr)


def test_mapping_files(tmp_path):
    good = tmp_path / "m.json"
    good.write_text(json.dumps({"a": "building"}), encoding="utf-8")
    assert load_mapping(good).map_value("A") == 1
    assert load_mapping("m.json", base=tmp_path).map_value("a") == 1
    assert load_mapping({"x": 5}).map_value("x") == 5
    assert load_mapping(None) is None
    with pytest.raises(InputFileError, match=r"missing\.json"):
        load_mapping(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ClassMappingError, match="not valid JSON"):
        load_mapping(bad)
    arr = tmp_path / "list.json"
    arr.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ClassMappingError, match="non-empty JSON object"):
        load_mapping(arr)


def test_check_codes_lists_values_outside_the_vocabulary():
    np.testing.assert_array_equal(check_codes(np.array([[0, 19]], dtype=np.int64)), [[0, 19]])
    with pytest.raises(ClassMappingError, match=r"2 values.*'20', '255'.*mapping"):
        check_codes(np.array([[1, 20, 255]]))


def test_slovenia_mapping_on_the_real_lulc_raster(slovenia):
    mapping = ClassMapping.from_file(SLOVENIA_MAPPING)
    assert sorted(mapping.table) == sorted(str(v) for v in range(11))
    with rasterio.open(slovenia / "LULC_mask_10m.tif") as src:
        lulc, nodata = src.read(1), src.nodata
    flair = mapping.map_array(lulc, nodata=nodata)
    counts = dict(zip(*np.unique(flair, return_counts=True), strict=True))
    # eo-learn's counts: 0 nodata 155, 1 cultivated 11, 2 forest 7601, 3 grassland 1777,
    # 4 shrubland 358, 8 artificial 198.
    assert counts == {0: 155, 11: 11, 16: 7601, 10: 1777, 8: 358, 3: 198}


def test_code_lookup_with_and_without_a_mapping(tmp_path):
    with_map = code_lookup({"Forest": "mixed", "7": "water"})
    assert [with_map(v) for v in ("forest", 7, 7.0, "lake")] == [16, 5, 5, None]
    direct = code_lookup(None)
    assert [direct(v) for v in (1, "3", 19.0, "Swimming Pool", 0, 20, "forest", None)] == [
        1,
        3,
        19,
        13,
        None,
        None,
        None,
        None,
    ]
    (tmp_path / "m.json").write_text('{"1": "building"}', encoding="utf-8")
    assert code_lookup("m.json", base=tmp_path)(1) == 1
