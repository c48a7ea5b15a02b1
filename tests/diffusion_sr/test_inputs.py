"""Inputs of an SR job: acquisition dates, one pixel grid for every date, output names, options."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from affine import Affine

from geogen.engines.sr_controlnet.dates import acquisition_date, date_from_name
from geogen.engines.sr_controlnet.inputs import aligned_window, output_paths, source_level
from geogen.engines.sr_controlnet.options import parse_sr_options, resolve_scale
from geogen.errors import JobSpecError, RasterError
from geogen.io.sentinel2 import S2Stack, open_s2
from geogen.job.spec import parse_job
from tiles import Grid, Window


def test_dates_from_product_names_and_tags(patch: Path, slovenia_dates: list[Path]) -> None:
    assert date_from_name("S2B_MSIL1C_20180204T094161_N0206_R036_T35VPK") == dt.date(2018, 2, 4)
    assert date_from_name("T33UUB_B02.jp2") is None and date_from_name("scene_20171340.tif") is None
    assert acquisition_date(patch) == dt.date(2017, 6, 13)  # folder name
    tagged = slovenia_dates[0]
    assert acquisition_date(tagged) == dt.date(2015, 7, 11)  # ACQUISITION_DATETIME_UTC tag
    assert acquisition_date(tagged, dt.date(2020, 1, 2)) == dt.date(2020, 1, 2)  # a given date wins


def stack_on(transform: Affine) -> S2Stack:
    grid = Grid(12, 12, transform, "EPSG:32633")
    return S2Stack.from_arrays({"B02": np.full((12, 12), 0.1, np.float32)}, grid)


def test_other_dates_must_share_the_pixel_grid() -> None:
    first = stack_on(Affine(10, 0, 500000, 0, -10, 5000000))
    footprint = first.grid[Window(2, 3, 6, 5)]
    later = stack_on(Affine(10, 0, 499980, 0, -10, 5000010))  # same grid, other extent
    assert aligned_window(footprint, later) == Window(4, 4, 6, 5)
    with pytest.raises(RasterError, match="not on the same 10 m pixel grid"):
        aligned_window(footprint, stack_on(Affine(10, 0, 499985, 0, -10, 5000000)))  # half a pixel off


def test_output_names_carry_the_dates(tmp_path: Path) -> None:
    job = parse_job(
        {"task": "superres", "input": str(tmp_path), "output": {"dir": str(tmp_path), "name": "x"}}
    )
    d1, d2 = dt.date(2021, 5, 1), dt.date(2021, 6, 1)
    assert [p.name for p in output_paths(job, [d1])] == ["x.tif"]
    names = [p.name for p in output_paths(job, [d1, d2, None, d1])]
    assert names == ["x_2021-05-01_1.tif", "x_2021-06-01.tif", "x_input3.tif", "x_2021-05-01_4.tif"]


def test_scale_from_options_or_target_gsd() -> None:
    opts = parse_sr_options({})
    assert resolve_scale(opts, None, 10.0) == 4 and resolve_scale(opts, 2.5, 10.0) == 4
    assert resolve_scale(opts, 2.5, 9.99479) == 4  # the Slovenian grid's pixels are not exactly 10 m
    assert resolve_scale(parse_sr_options({"scale": 8}), None, 10.0) == 8
    with pytest.raises(JobSpecError, match="options.scale is 2"):
        resolve_scale(parse_sr_options({"scale": 2}), 2.5, 10.0)
    with pytest.raises(JobSpecError, match="options.scale must be an integer"):
        parse_sr_options({"scale": 1.5})


def test_level_from_name_or_bands(patch: Path, slovenia_dates: list[Path]) -> None:
    with open_s2(patch) as stack:
        assert source_level(stack) == "L2A"
    with open_s2(slovenia_dates[0]) as stack:
        assert source_level(stack) == "L1C"  # it has B10, which only L1C has
