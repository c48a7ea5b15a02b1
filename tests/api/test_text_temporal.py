"""``geogen.text`` and ``geogen.temporal`` end to end with tiny random-weight models on the CPU."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import rasterio

import geogen
import geogen.api
from tests.api.helpers import assert_matches_files

TEXT_AOI = (14.5, 46.04, 14.5045, 46.0428)  # lon/lat
SLOVENIA_AOI = (465400.0, 5079760.0, 465640.0, 5080000.0)  # EPSG:32633, 24 x 24 px at 10 m


def test_text_writes_the_scene(tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "scene.tif"
    calls: list[tuple[int, int, str]] = []
    result = geogen.text(
        "a fmow satellite image of a river",
        TEXT_AOI,
        5,
        out,
        date="2021-07-30",
        cloud_cover=0.1,
        model=tiny_model_dir,
        steps=2,
        guidance_scale=2,
        seed=9,
        options={"device": "cpu"},
        progress=lambda d, t, s: calls.append((d, t, s)),
    )
    assert result.task == "text" and result.engine == "diffusionsat"
    assert result.paths == [out] and result.result_path == tmp_path / "scene.result.json"
    assert_matches_files(result)
    with rasterio.open(out) as ds:
        assert ds.crs.to_epsg() == 32633 and ds.res == (5.0, 5.0) and ds.count == 4
        assert ds.tags()["GEOGEN_SEED"] == "9" and ds.tags()["GEOGEN_DATE"] == "2021-07-30"
    assert result.outputs[0].synthetic and calls


def test_temporal_writes_the_stack(
    tmp_path: Path, slovenia: Path, temporal_models: tuple[Path, Path]
) -> None:
    base, cn = temporal_models
    first = slovenia / "S2L1C_slovenia_20150711_13band_refl.tif"
    last = slovenia / "S2L1C_slovenia_20150830_13band_refl.tif"
    out = tmp_path / "stack"
    result = geogen.temporal(
        [first, (last, dt.date(2015, 8, 31))],
        out,
        target_dates=["2015-07-21"],
        aoi=SLOVENIA_AOI,
        aoi_crs="EPSG:32633",
        gsd=10,
        model=base,
        steps=2,
        seed=4,
        options={"controlnet": str(cn), "frames": 2},
        name="slo",
    )
    assert result.task == "temporal" and result.engine == "diffusionsat-3d"
    assert [(o.date, o.kind) for o in result.outputs] == [
        (dt.date(2015, 7, 11), "observed"),
        (dt.date(2015, 7, 21), "generated"),
        (dt.date(2015, 8, 31), "observed"),
    ]
    assert result.paths == [out / f"slo_{d}.tif" for d in ("2015-07-11", "2015-07-21", "2015-08-31")]
    assert result.result_path == out / "result.json" and (out / "slo.nc").is_file()
    assert result.extra["plan"][0]["conditioning"] == ["2015-07-11", "2015-08-31"]
    assert_matches_files(result)
