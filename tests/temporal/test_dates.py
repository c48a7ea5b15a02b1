"""Frame dates: given > date tags > an earlier job's result.json > file name > TIFF DateTime; clear errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from geogen.errors import JobSpecError
from geogen.io.dates import DatedFile, dates_in_name
from geogen.timeseries.dates import check_unique, frame_date


def _tif(path: Path, tags: dict[str, str] | None = None) -> Path:
    profile = {
        "driver": "GTiff",
        "width": 4,
        "height": 4,
        "count": 1,
        "dtype": "uint8",
        "crs": "EPSG:32633",
        "transform": Affine(10, 0, 465000, 0, -10, 5080000),
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.ones((1, 4, 4), np.uint8))
        if tags:
            ds.update_tags(**tags)
    return path


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("S2L1C_slovenia_20150711_13band_refl.tif", dt.date(2015, 7, 11)),
        ("m_4709963_se_14_1_20090818.tif", dt.date(2009, 8, 18)),
        (
            "m_3807503_ne_18_060_20181104_20190211.tif",
            dt.date(2018, 11, 4),
        ),  # NAIP: acquisition, then processing
        ("S2B_MSIL2A_20220105T103329_N0400_R108_T31TCJ_20220107T124012.SAFE", dt.date(2022, 1, 5)),
        ("LC08_L1TP_044034_20200101_20200113_02_T1_B4.TIF", dt.date(2020, 1, 1)),
        ("geogen_2015-07-31.tif", dt.date(2015, 7, 31)),
        ("scene_2019_09_04.tif", dt.date(2019, 9, 4)),
        ("T33UUB_20170527T100031_B04.jp2", dt.date(2017, 5, 27)),
    ],
)
def test_dates_in_names(name: str, expected: dt.date) -> None:
    assert dates_in_name(name) == [expected]


def test_names_without_a_date() -> None:
    assert dates_in_name("frame.tif") == []
    assert dates_in_name("tile_12345678.tif") == []  # not a valid date
    assert dates_in_name("m_4709963_se_14_1.tif") == []


def test_two_dates_in_an_ordinary_name_are_ambiguous(tmp_path: Path) -> None:
    path = _tif(tmp_path / "mosaic_20150711_20150830.tif")
    with pytest.raises(JobSpecError, match=r"mosaic_20150711_20150830\.tif.*2 different dates.*--dates"):
        frame_date(path)


def test_the_same_date_twice_is_not_ambiguous(tmp_path: Path) -> None:
    assert frame_date(_tif(tmp_path / "x_20150711_2015-07-11.tif")).date == dt.date(2015, 7, 11)


def test_acquisition_tag_of_the_real_series(slovenia_series: list[Path]) -> None:
    found = frame_date(slovenia_series[1])
    assert found.date == dt.date(2015, 7, 31) and found.source == "tag ACQUISITION_DATETIME_UTC"


def test_naip_date_from_its_name(naip_crop: Path) -> None:
    found = frame_date(naip_crop)
    assert found.date == dt.date(2009, 8, 18) and found.source == "file name"


def test_given_date_wins(slovenia_series: list[Path]) -> None:
    assert frame_date(slovenia_series[0], dt.date(2016, 1, 2)) == DatedFile(
        slovenia_series[0], dt.date(2016, 1, 2), "given"
    )


def test_geogen_date_tag_beats_the_name(tmp_path: Path) -> None:
    path = _tif(tmp_path / "frame_20190101.tif", {"GEOGEN_DATE": "2020-01-02"})
    assert frame_date(path).date == dt.date(2020, 1, 2)


def test_tiff_datetime_is_the_last_resort(tmp_path: Path) -> None:
    named = _tif(tmp_path / "frame_20190101.tif", {"TIFFTAG_DATETIME": "2024:03:05 12:00:00"})
    assert frame_date(named).date == dt.date(2019, 1, 1)
    unnamed = _tif(tmp_path / "frame.tif", {"TIFFTAG_DATETIME": "2024:03:05 12:00:00"})
    found = frame_date(unnamed)
    assert found.date == dt.date(2024, 3, 5) and found.source == "tag TIFFTAG_DATETIME"


def test_date_from_an_earlier_result_record(tmp_path: Path) -> None:
    path = _tif(tmp_path / "scene.tif")
    (tmp_path / "notes.json").write_text("[1, 2]", encoding="utf-8")  # not a record: ignored
    record = {
        "version": 1,
        "outputs": [{"path": "other.tif", "date": "2001-01-01"}, {"path": "scene.tif", "date": "2018-07-16"}],
    }
    (tmp_path / "result.json").write_text(json.dumps(record), encoding="utf-8")
    found = frame_date(path)
    assert found.date == dt.date(2018, 7, 16) and found.source == "result record result.json"


def test_missing_date_names_the_file(tmp_path: Path) -> None:
    path = _tif(tmp_path / "frame.tif")
    with pytest.raises(JobSpecError, match=r"no date for .*frame\.tif.*--dates"):
        frame_date(path)


def test_duplicate_dates_name_both_files(tmp_path: Path) -> None:
    a = DatedFile(tmp_path / "a.tif", dt.date(2015, 7, 11), "file name")
    b = DatedFile(tmp_path / "b.tif", dt.date(2015, 7, 11), "given")
    check_unique([a, DatedFile(tmp_path / "c.tif", dt.date(2015, 7, 12), "given")])
    with pytest.raises(JobSpecError, match=r"2015-07-11.*a\.tif.*b\.tif"):
        check_unique([a, b])
