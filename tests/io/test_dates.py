"""One date reader: given > tags > result record > file name > folder name > TIFF DateTime, on files whose
sources disagree, and the time series and SR engines reading the same date from the same file."""

from __future__ import annotations

import datetime as dt
import json
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from geogen.errors import JobSpecError
from geogen.io.dates import DATE_TAGS, DatedFile, acquisition_date
from geogen.pipelines.superres_inputs import input_date
from geogen.spec import DatedInput
from geogen.timeseries.dates import frame_date

NAME_DATE, TAG_DATE, RECORD_DATE, GIVEN = (
    dt.date(2020, 1, 1),
    dt.date(2021, 2, 2),
    dt.date(2022, 3, 3),
    dt.date(2023, 4, 4),
)


def _tif(path: Path, tags: dict[str, str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "GTiff",
        "width": 4,
        "height": 4,
        "count": 1,
        "dtype": "uint16",
        "crs": "EPSG:32633",
        "transform": Affine(10, 0, 465000, 0, -10, 5080000),
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.ones((1, 4, 4), np.uint16))
        if tags:
            ds.update_tags(**tags)
    return path


def _record(folder: Path, name: str, date: dt.date) -> None:
    """A geogen result record beside the file, listing it with ``date``."""
    record = {"version": 1, "outputs": [{"path": name, "date": date.isoformat()}]}
    (folder / "result.json").write_text(json.dumps(record), encoding="utf-8")


def _disagreeing(folder: Path, tags: dict[str, str] | None = None) -> Path:
    """A GeoTIFF whose name says NAME_DATE, beside a result record saying RECORD_DATE, with ``tags``."""
    path = _tif(folder / f"S2A_MSIL2A_{NAME_DATE:%Y%m%d}T101031_N0400_R022_T33UUP_20240101T000000.tif", tags)
    _record(folder, path.name, RECORD_DATE)
    return path


def _both_callers(path: Path) -> tuple[dt.date, dt.date | None]:
    """The date the time series engine (``frame_date``) and the SR engine (``input_date``) give ``path``."""
    return frame_date(path).date, input_date(DatedInput(path=str(path)))


def test_a_given_date_overrides_every_source(tmp_path: Path) -> None:
    path = _disagreeing(tmp_path, {"ACQUISITION_DATETIME_UTC": f"{TAG_DATE}T10:10:31Z"})
    assert acquisition_date(path, GIVEN) == DatedFile(path, GIVEN, "given")
    assert frame_date(path, GIVEN).date == input_date(DatedInput(path=str(path), date=GIVEN)) == GIVEN


def test_the_tag_beats_the_record_and_the_name(tmp_path: Path) -> None:
    path = _disagreeing(tmp_path, {"ACQUISITION_DATETIME_UTC": f"{TAG_DATE}T10:10:31Z"})
    assert acquisition_date(path) == DatedFile(path, TAG_DATE, "tag ACQUISITION_DATETIME_UTC")
    assert _both_callers(path) == (TAG_DATE, TAG_DATE)


def test_the_record_beats_the_name(tmp_path: Path) -> None:
    path = _disagreeing(tmp_path)
    assert acquisition_date(path) == DatedFile(path, RECORD_DATE, "result record result.json")
    assert _both_callers(path) == (RECORD_DATE, RECORD_DATE)


def test_the_name_beats_the_folder_and_tiff_datetime(tmp_path: Path) -> None:
    folder = tmp_path / "run_2019-05-05"
    path = _tif(folder / f"frame_{NAME_DATE:%Y%m%d}.tif", {"TIFFTAG_DATETIME": "2024:03:05 12:00:00"})
    assert acquisition_date(path) == DatedFile(path, NAME_DATE, "file name")
    assert _both_callers(path) == (NAME_DATE, NAME_DATE)


def test_the_folder_name_beats_tiff_datetime(tmp_path: Path) -> None:
    path = _tif(
        tmp_path / "S2B_MSIL1C_20180204T094161_N0206" / "stack.tif", {"TIFFTAG_DATETIME": "2024:03:05"}
    )
    assert acquisition_date(path) == DatedFile(path, dt.date(2018, 2, 4), "folder name")
    assert _both_callers(path) == (dt.date(2018, 2, 4), dt.date(2018, 2, 4))


def test_tiff_datetime_is_the_last_resort(tmp_path: Path) -> None:
    path = _tif(tmp_path / "frame.tif", {"TIFFTAG_DATETIME": "2024:03:05 12:00:00"})
    assert acquisition_date(path) == DatedFile(path, dt.date(2024, 3, 5), "tag TIFFTAG_DATETIME")
    assert _both_callers(path) == (dt.date(2024, 3, 5), dt.date(2024, 3, 5))


@pytest.mark.parametrize(("first", "second"), list(pairwise(DATE_TAGS)))
def test_tags_are_read_in_one_order(tmp_path: Path, first: str, second: str) -> None:
    path = _tif(tmp_path / "frame.tif", {second: "2001-01-01", first: "2002-02-02T00:00:00"})
    assert acquisition_date(path) == DatedFile(path, dt.date(2002, 2, 2), f"tag {first}")
    assert _both_callers(path) == (dt.date(2002, 2, 2), dt.date(2002, 2, 2))


def test_an_ambiguous_name_is_refused_by_both_callers(tmp_path: Path) -> None:
    path = _tif(tmp_path / "mosaic_20150711_20150830.tif")
    with pytest.raises(JobSpecError, match=r"mosaic_20150711_20150830\.tif.*2 different dates"):
        acquisition_date(path)
    with pytest.raises(JobSpecError, match="2 different dates"):
        input_date(DatedInput(path=str(path)))
    with pytest.raises(JobSpecError, match="2 different dates"):
        frame_date(path)


def test_nothing_dates_the_file(tmp_path: Path) -> None:
    path = _tif(tmp_path / "frame.tif")
    assert acquisition_date(path) is None and input_date(DatedInput(path=str(path))) is None
    with pytest.raises(JobSpecError, match="no date for"):
        frame_date(path)
