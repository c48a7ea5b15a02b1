"""``geogen.sketch`` end to end with the weight-free exemplar engine on a real FLAIR class map: a small area at a
coarse GSD, the Result against the file, the same job as the command line, and a bad argument."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

import geogen
from geogen.errors import JobSpecError
from geogen.spec import AreaOfInterest
from tests.api.helpers import EXEMPLARS, assert_matches_files, cli_error, invoke

# 40 x 40 m inside the mask (EPSG:2154), drawn at 1 m: 40 x 40 px
AOI = (1025680.0, 6747300.0, 1025720.0, 6747340.0)
EXEMPLAR = (EXEMPLARS / "flair_073879" / "IMG_073879_RGB.tif", EXEMPLARS / "flair_073879" / "MSK_073879.tif")


def test_sketch_result_matches_its_file(flair_mask: Path, tmp_path: Path) -> None:
    out = tmp_path / "scene.tif"
    calls: list[tuple[int, int, str]] = []
    result = geogen.sketch(
        flair_mask,
        out,
        gsd=1.0,
        aoi=AreaOfInterest(bounds=AOI, crs="EPSG:2154"),
        exemplar=EXEMPLAR,
        date=dt.date(2021, 6, 1),
        seed=4,
        progress=lambda d, t, s: calls.append((d, t, s)),
    )
    assert result.task == "sketch" and result.engine == "exemplar"
    assert result.paths == [out] and result.result_path == tmp_path / "scene.result.json"
    assert_matches_files(result)
    record = result.outputs[0]
    assert record.synthetic and record.kind == "generated" and record.date == dt.date(2021, 6, 1)
    with rasterio.open(out) as ds:
        assert ds.crs.to_epsg() == 2154 and ds.res == (1.0, 1.0) and ds.shape == (40, 40)
        assert tuple(ds.bounds) == pytest.approx(AOI)
        assert ds.count == 4 and ds.tags()["GEOGEN_SEED"] == "4"
        rgb = ds.read([1, 2, 3])
    assert rgb.std() > 1  # textured, not empty
    assert calls and calls[-1][0] == calls[-1][1]


def test_same_job_as_the_command_line(flair_mask: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.tif"
    result = geogen.sketch(
        flair_mask, out, gsd=2, aoi=AOI, aoi_crs="EPSG:2154", exemplar=EXEMPLAR, date="2021-06-01", seed=2
    )
    with rasterio.open(out) as ds:
        api_pixels = ds.read()
    r = invoke(
        "sketch", flair_mask, "-o", out, "--gsd", "2", "--aoi", ",".join(map(str, AOI)), "--aoi-crs", "EPSG:2154",
        "--exemplar-image", EXEMPLAR[0], "--exemplar-mask", EXEMPLAR[1], "--date", "2021-06-01", "--seed", "2",
        "--overwrite", "--progress", "none",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    cli_record = json.loads((tmp_path / "s.result.json").read_text())
    again = geogen.sketch(
        flair_mask,
        out,
        gsd=2.0,
        aoi=AOI,
        aoi_crs="EPSG:2154",
        exemplar=EXEMPLAR,
        date="2021-06-01",
        seed=2,
        overwrite=True,
    )
    assert again.spec_hash == cli_record["spec_hash"] != result.spec_hash  # only `overwrite` differs
    with rasterio.open(out) as ds:
        np.testing.assert_array_equal(ds.read(), api_pixels)


def test_bad_argument_raises_what_the_command_prints(flair_mask: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.tif"
    with pytest.raises(JobSpecError) as caught:
        geogen.sketch(flair_mask, out, gsd=-1)
    r = invoke("sketch", flair_mask, "-o", out, "--gsd", "-1", "--progress", "none")
    assert r.exit_code == 2 and cli_error(r) == str(caught.value)
    assert "gsd" in str(caught.value) and not out.exists()
