"""Inputs of an SR job: acquisition dates, one pixel grid for every date, output names, options."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from affine import Affine

from geogen.engines.sr_controlnet.contract import DiffusionSatSREngine
from geogen.engines.sr_controlnet.level import source_level
from geogen.engines.sr_controlnet.options import resolve_scale
from geogen.errors import JobSpecError, OptionsError, RasterError
from geogen.io.dates import dates_in_name
from geogen.io.sentinel2 import S2Stack, open_s2
from geogen.pipelines.superres_inputs import aligned_window, input_date, output_paths
from geogen.spec import DatedInput, parse_job
from tiles import Grid, Window


def test_dates_from_product_names_and_tags(patch: Path, slovenia_dates: list[Path]) -> None:
    assert dates_in_name("S2B_MSIL1C_20180204T094161_N0206_R036_T35VPK") == [dt.date(2018, 2, 4)]
    assert dates_in_name("T33UUB_B02.jp2") == [] and dates_in_name("scene_20171340.tif") == []
    assert input_date(DatedInput(path=str(patch))) == dt.date(2017, 6, 13)  # the product folder's name
    tagged = str(slovenia_dates[0])
    assert input_date(DatedInput(path=tagged)) == dt.date(2015, 7, 11)  # ACQUISITION_DATETIME_UTC tag
    assert input_date(DatedInput(path=tagged, date=dt.date(2020, 1, 2))) == dt.date(2020, 1, 2)  # given wins


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
    scale = DiffusionSatSREngine.parse_options({}).scale
    assert resolve_scale(scale, None, 10.0) == 4 and resolve_scale(scale, 2.5, 10.0) == 4
    assert resolve_scale(scale, 2.5, 9.99479) == 4  # the Slovenian grid's pixels are not exactly 10 m
    assert resolve_scale(DiffusionSatSREngine.parse_options({"scale": 8}).scale, None, 10.0) == 8
    with pytest.raises(JobSpecError, match=r"options.scale is 2"):
        resolve_scale(DiffusionSatSREngine.parse_options({"scale": 2}).scale, 2.5, 10.0)
    with pytest.raises(OptionsError, match=r"options.scale: input should be a valid integer, got 1.5"):
        DiffusionSatSREngine.parse_options({"scale": 1.5})
    with pytest.raises(
        OptionsError, match=r"options.scale: input should be greater than or equal to 2, got 1"
    ):
        DiffusionSatSREngine.parse_options({"scale": 1})


def test_options_defaults_and_consistency_values() -> None:
    opts = DiffusionSatSREngine.parse_options({})
    assert (opts.consistency_method, opts.normalisation, opts.prompt) == (
        "project",
        "fmow",
        "a fmow satellite image",
    )
    assert (opts.guidance_scale, opts.controlnet_scale, opts.cloud_cover, opts.base_model) == (
        1.0,
        1.0,
        None,
        None,
    )
    assert opts.diffusion.window is None and opts.diffusion.weight_kind == "cosine"
    for given, method in ((True, "project"), (None, "project"), (False, None), ("lowpass", "lowpass")):
        assert DiffusionSatSREngine.parse_options({"consistency": given}).consistency_method == method
    for bad, message in (
        ({"consistency": "sharpen"}, "options.consistency: must be true, false or one of histogram"),
        ({"normalisation": "l2a"}, "options.normalisation: input should be 'fmow' or 'scene'"),
        ({"prompt": "  "}, "options.prompt: must be a non-empty string"),
        ({"guidance_scale": 101}, "options.guidance_scale: input should be less than or equal to 100"),
        ({"cloud_cover": True}, "options.cloud_cover: input should be a valid number"),
    ):
        with pytest.raises(OptionsError, match=message):
            DiffusionSatSREngine.parse_options(bad)


def test_level_from_name_or_bands(patch: Path, slovenia_dates: list[Path]) -> None:
    with open_s2(patch) as stack:
        assert source_level(stack) == "L2A"
    with open_s2(slovenia_dates[0]) as stack:
        assert source_level(stack) == "L1C"  # it has B10, which only L1C has
