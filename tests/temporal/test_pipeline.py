"""The temporal pipeline end to end with tiny random-weight models on the CPU, on real Sentinel-2 and NAIP
data: outputs on exactly the requested grid, dates in order in result.json and the datacube, reruns identical,
frame dates reaching the model, and one clear error per bad input."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from pyproj import CRS
from rasterio.warp import Resampling, reproject

from geogen.errors import GeometryError, JobSpecError, ModelError
from geogen.job.runner import run_job
from geogen.progress import NullReporter
from geogen.spec import parse_job
from geogen.timeseries.render import S2_GAIN
from tests.temporal.conftest import CLEAR

D = dt.date
AOI = (465400.0, 5079760.0, 465640.0, 5080000.0)  # 24 x 24 px at 10 m inside the Slovenian footprint
GRID_TRANSFORM = Affine(10, 0, 465400, 0, -10, 5080000)
TARGETS = ["2015-07-01", "2015-07-31", "2015-08-20", "2015-09-15"]
SEQUENCE = [
    ("2015-07-01", "generated"),
    ("2015-07-11", "observed"),
    ("2015-07-31", "generated"),
    ("2015-08-20", "generated"),
    ("2015-08-30", "observed"),
    ("2015-09-15", "generated"),
]


def _job(out: Path, models: tuple[Path, Path], **fields: Any) -> dict[str, Any]:
    base, cn = models
    job: dict[str, Any] = {
        "task": "temporal",
        "target_dates": TARGETS,
        "model": str(base),
        "steps": 2,
        "seed": 3,
        "options": {"controlnet": str(cn)},
        "output": {"dir": str(out), "name": "slo"},
    }
    job.update(fields)
    return job


def _slovenian(series: list[Path], **fields: Any) -> dict[str, Any]:
    return {
        "inputs": [{"path": str(p)} for p in series],
        "cloud_max": 0.2,
        "aoi": {"bounds": list(AOI), "crs": "EPSG:32633"},
        "gsd": 10,
        **fields,
    }


def _run(job: dict[str, Any]) -> tuple[dict[str, Any], Path]:
    _, result_path = run_job(parse_job(job), NullReporter())
    return json.loads(result_path.read_text(encoding="utf-8")), result_path


def _pixels(path: str | Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read()


@pytest.fixture(scope="module")
def slovenia_run(
    slovenia_series: list[Path], temporal_models: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("slovenia_run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GEOGEN_HOME", str(out / "home"))
        return _run(_job(out / "out", temporal_models, **_slovenian(slovenia_series)))


def test_sequence_lists_every_date_in_order(slovenia_run: tuple[dict[str, Any], Path]) -> None:
    result, result_path = slovenia_run
    outputs = result["outputs"]
    assert [(o["date"], o["kind"]) for o in outputs] == SEQUENCE
    assert [o["synthetic"] for o in outputs] == [k == "generated" for _, k in SEQUENCE]
    assert [Path(o["path"]).name for o in outputs] == [f"slo_{d}.tif" for d, _ in SEQUENCE]
    assert result["task"] == "temporal" and result["engine"] == "diffusionsat-3d"
    excluded = {Path(e["path"]).name[15:23] for e in result["extra"]["excluded"]}
    assert excluded == {"20150731", "20150820"}  # the cloudy frames, regenerated instead
    observed_sources = [Path(o["extra"]["source"]).name for o in outputs if o["kind"] == "observed"]
    assert observed_sources == [f"S2L1C_slovenia_{d}_13band_refl.tif" for d in CLEAR]
    plan = result["extra"]["plan"]
    assert [p["date"] for p in plan] == ["2015-07-01", "2015-08-20", "2015-09-15", "2015-07-31"]
    assert plan[0]["conditioning"] == ["2015-07-11", "2015-07-11", "2015-08-30"]
    assert result_path.parent / "slo.nc" == Path(result["extra"]["datacube"])


def test_every_output_is_on_the_requested_grid(slovenia_run: tuple[dict[str, Any], Path]) -> None:
    result, _ = slovenia_run
    for o in result["outputs"]:
        with rasterio.open(o["path"]) as ds:
            assert ds.crs == rasterio.crs.CRS.from_epsg(32633)
            assert ds.transform == GRID_TRANSFORM and (ds.width, ds.height) == (24, 24)
            assert ds.count == 4 and ds.descriptions == ("red", "green", "blue", "alpha")
            assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            tags = ds.tags()
            assert tags["GEOGEN_DATE"] == o["date"]
            assert tags["GEOGEN_SYNTHETIC"] == ("YES" if o["kind"] == "generated" else "NO")
            assert (ds.read(4) == 255).all()
        assert tuple(o["bounds"]) == AOI


def test_observed_frames_are_the_resampled_observations(
    slovenia_run: tuple[dict[str, Any], Path], slovenia_series: list[Path]
) -> None:
    result, _ = slovenia_run
    observed = [o for o in result["outputs"] if o["kind"] == "observed"]
    for o in observed:
        with rasterio.open(o["extra"]["source"]) as src:
            rgb = np.clip(src.read([4, 3, 2]) * S2_GAIN, 0, 1).astype(np.float32)
            expected = np.zeros((3, 24, 24), np.float32)
            reproject(
                rgb,
                expected,
                src_transform=src.transform,
                src_crs=src.crs,
                dst_transform=GRID_TRANSFORM,
                dst_crs=src.crs,
                resampling=Resampling.bilinear,
            )
        got = _pixels(o["path"])[:3].astype(float)
        assert np.abs(got - expected * 255).max() <= 1.0


def test_generated_frames_record_their_provenance(slovenia_run: tuple[dict[str, Any], Path]) -> None:
    result, _ = slovenia_run
    first = next(o for o in result["outputs"] if o["date"] == "2015-07-01")
    with rasterio.open(first["path"]) as ds:
        tags = ds.tags()
    assert tags["GEOGEN_ENGINE"] == "diffusionsat-3d" and tags["GEOGEN_SEED"] == "3"
    assert json.loads(tags["GEOGEN_CONDITIONING_DATES"]) == ["2015-07-11", "2015-07-11", "2015-08-30"]
    metadata = json.loads(tags["GEOGEN_METADATA"])
    assert [c["date"] for c in metadata["conditioning"]] == ["2015-07-11", "2015-07-11", "2015-08-30"]
    assert metadata["conditioning"][0]["cloud_cover"] == 0.0
    assert "SYNTHETIC" in tags["GEOGEN_NOTICE"]


def test_datacube_holds_the_sequence(slovenia_run: tuple[dict[str, Any], Path]) -> None:
    result, _ = slovenia_run
    with xr.open_dataset(result["extra"]["datacube"]) as ds:
        expected = np.array([np.datetime64(d) for d, _ in SEQUENCE], "datetime64[ns]")
        np.testing.assert_array_equal(ds.time.values, expected)
        assert list(ds.kind.values) == [k for _, k in SEQUENCE]
        assert CRS.from_wkt(ds.spatial_ref.attrs["crs_wkt"]) == CRS.from_epsg(32633)
        np.testing.assert_allclose(ds.x.values, 465405 + 10 * np.arange(24))
        np.testing.assert_allclose(ds.y.values, 5079995 - 10 * np.arange(24))
        for k, o in enumerate(result["outputs"]):
            tif = _pixels(o["path"])
            for b, band in enumerate(("red", "green", "blue")):
                np.testing.assert_array_equal(ds[band].values[k], tif[b])


def test_rerun_with_the_same_seed_is_identical(
    slovenia_run: tuple[dict[str, Any], Path],
    slovenia_series: list[Path],
    temporal_models: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    first, _ = slovenia_run
    again, _ = _run(_job(tmp_path, temporal_models, **_slovenian(slovenia_series)))
    for a, b in zip(first["outputs"], again["outputs"], strict=True):
        np.testing.assert_array_equal(_pixels(a["path"]), _pixels(b["path"]))
    with xr.open_dataset(first["extra"]["datacube"]) as x, xr.open_dataset(again["extra"]["datacube"]) as y:
        np.testing.assert_array_equal(x.red.values, y.red.values)


def test_a_frame_date_changes_the_generated_frames(
    slovenia_run: tuple[dict[str, Any], Path],
    slovenia_series: list[Path],
    temporal_models: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    first, _ = slovenia_run
    fields = _slovenian(slovenia_series)
    fields["inputs"][0]["date"] = "2015-07-12"  # one day later than its tag says
    moved, _ = _run(_job(tmp_path, temporal_models, **fields))
    assert [o["date"] for o in moved["outputs"]][1] == "2015-07-12"
    before = {o["date"]: o for o in first["outputs"] if o["kind"] == "generated"}
    for o in moved["outputs"]:
        if o["kind"] == "generated":
            assert o["date"] in before
            changed = (_pixels(o["path"]) != _pixels(before[o["date"]]["path"])).mean()
            assert changed > 0.01, o["date"]
    np.testing.assert_array_equal(  # the observation itself is the same pixels under its new date
        _pixels(moved["outputs"][1]["path"]), _pixels(first["outputs"][1]["path"])
    )


def test_sequence_from_a_single_naip_seed_image(
    naip_crop: Path, temporal_models: tuple[Path, Path], tmp_path: Path
) -> None:
    targets = ["2016-08-16", "2010-06-29", "2012-07-31", "2014-07-20"]
    result, _ = _run(
        _job(tmp_path, temporal_models, target_dates=targets, seed_image={"path": str(naip_crop)})
    )
    assert [(o["date"], o["kind"]) for o in result["outputs"]] == [
        ("2009-08-18", "observed"),
        ("2010-06-29", "generated"),
        ("2012-07-31", "generated"),
        ("2014-07-20", "generated"),
        ("2016-08-16", "generated"),
    ]
    assert result["outputs"][0]["extra"]["role"] == "seed"
    assert [p["date"] for p in result["extra"]["plan"]] == [
        "2010-06-29",
        "2012-07-31",
        "2014-07-20",
        "2016-08-16",
    ]
    with rasterio.open(naip_crop) as src:
        original, crop_grid = src.read([1, 2, 3]), (src.transform, src.crs, src.width, src.height)
    for o in result["outputs"]:
        with rasterio.open(o["path"]) as ds:
            assert (ds.transform, ds.crs, ds.width, ds.height) == crop_grid
    np.testing.assert_array_equal(_pixels(result["outputs"][0]["path"])[:3], original)  # copied exactly
    with xr.open_dataset(result["extra"]["datacube"]) as ds:
        assert [str(t)[:10] for t in ds.time.values] == [o["date"] for o in result["outputs"]]
        assert CRS.from_wkt(ds.spatial_ref.attrs["crs_wkt"]) == CRS.from_epsg(26914)


def test_from_scratch_with_the_single_image_model(temporal_models: tuple[Path, Path], tmp_path: Path) -> None:
    result, _ = _run(
        _job(
            tmp_path,
            temporal_models,
            target_dates=["2021-06-01", "2021-05-01"],
            aoi={"bounds": list(AOI), "crs": "EPSG:32633"},
            gsd=10,
        )
    )
    assert [(o["date"], o["kind"]) for o in result["outputs"]] == [
        ("2021-05-01", "generated"),
        ("2021-06-01", "generated"),
    ]
    assert [p["conditioning"] for p in result["extra"]["plan"]] == [[], ["2021-05-01"] * 3]
    with rasterio.open(result["outputs"][0]["path"]) as ds:
        assert ds.transform == GRID_TRANSFORM and ds.tags()["GEOGEN_CONTROLNET"] == "null"


# --- one clear error per bad input (all raised before any model is loaded) ---------------------------------


def _fails(job: dict[str, Any], error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        _run(job)


def _undated(tmp_path: Path) -> Path:
    path = tmp_path / "frame.tif"
    profile = {
        "driver": "GTiff",
        "width": 8,
        "height": 8,
        "count": 3,
        "dtype": "uint8",
        "crs": "EPSG:32633",
        "transform": Affine(10, 0, 465400, 0, -10, 5080000),
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.full((3, 8, 8), 90, np.uint8))
    return path


def test_error_no_date(tmp_path: Path, temporal_models: tuple[Path, Path]) -> None:
    job = _job(tmp_path / "out", temporal_models, inputs=[{"path": str(_undated(tmp_path))}])
    _fails(job, JobSpecError, r"no date for .*frame\.tif")


def test_error_duplicate_dates(
    tmp_path: Path, slovenia_series: list[Path], temporal_models: tuple[Path, Path]
) -> None:
    inputs = [{"path": str(slovenia_series[0])}, {"path": str(slovenia_series[3]), "date": "2015-07-11"}]
    _fails(
        _job(tmp_path, temporal_models, inputs=inputs),
        JobSpecError,
        r"two frames have the date 2015-07-11: .*20150711.*20150830",
    )


def test_error_duplicate_target_dates(tmp_path: Path, temporal_models: tuple[Path, Path]) -> None:
    _fails(
        _job(tmp_path, temporal_models, target_dates=["2015-07-01", "2015-07-01"]),
        JobSpecError,
        "duplicate target dates: 2015-07-01",
    )


def test_observed_targets_need_no_model(
    tmp_path: Path, slovenia_series: list[Path], temporal_models: tuple[Path, Path]
) -> None:
    """Target dates that are all observed (and clear) make a co-registered stack without any model."""
    job = _job(tmp_path, temporal_models, **_slovenian(slovenia_series), target_dates=["2015-08-30"])
    del job["model"]
    job["options"] = {}
    result, _ = _run(job)
    assert [(o["date"], o["kind"]) for o in result["outputs"]] == [
        ("2015-07-11", "observed"),
        ("2015-08-30", "observed"),
    ]
    assert result["extra"]["plan"] == []
    with rasterio.open(result["outputs"][1]["path"]) as ds:
        assert ds.transform == GRID_TRANSFORM and ds.tags()["GEOGEN_SYNTHETIC"] == "NO"
    job["target_dates"] = ["2015-07-31"]  # observed, but too cloudy: it must be generated
    job["output"] = {
        **job["output"],
        "dir": str(tmp_path / "again"),
    }  # result.json is not replaced (issue 10)
    _fails(job, ModelError, r"2015-07-31 are cloudier than cloud_max.*--model")


def test_error_frame_outside_the_area(
    tmp_path: Path, slovenia_series: list[Path], naip_crop: Path, temporal_models: tuple[Path, Path]
) -> None:
    fields = _slovenian(slovenia_series[:1])
    fields["inputs"].append({"path": str(naip_crop)})
    _fails(
        _job(tmp_path, temporal_models, **fields),
        GeometryError,
        r"m_4709963_se_14_1_20090818\.tif does not overlap the area",
    )


def test_error_single_frame_without_model(
    tmp_path: Path, slovenia_series: list[Path], temporal_models: tuple[Path, Path]
) -> None:
    """One observed frame and a date to generate, but no model: the pipeline says what to pass."""
    from geogen.engines.temporal_controlnet.contract import DiffusionSat3DEngine
    from geogen.pipelines.temporal import run_temporal

    job = _job(tmp_path, temporal_models, **_slovenian(slovenia_series[:1]), target_dates=["2015-07-20"])
    del job["model"]
    with pytest.raises(
        ModelError, match=r"needs a DiffusionSat model: pass --model .* and the 3-D ControlNet"
    ):
        run_temporal(parse_job({**job, "options": {}}), DiffusionSat3DEngine(), NullReporter())
    job = _job(tmp_path, temporal_models, **_slovenian(slovenia_series[:1]), target_dates=["2015-07-20"])
    job["options"] = {}
    _fails(job, ModelError, r"3-D \(temporal\) ControlNet: pass --controlnet")


def test_error_nothing_to_generate_from(tmp_path: Path, temporal_models: tuple[Path, Path]) -> None:
    _fails(_job(tmp_path, temporal_models), JobSpecError, "nothing to generate from")


def test_error_every_frame_cloudy(
    tmp_path: Path, slovenia_series: list[Path], temporal_models: tuple[Path, Path]
) -> None:
    cloudy = [slovenia_series[1], slovenia_series[2]]
    _fails(
        _job(tmp_path, temporal_models, **_slovenian(cloudy)),
        JobSpecError,
        r"every frame is cloudier than cloud_max 20%.*20150731.*\(9\d%\).*20150820.*\(100%\)",
    )


def test_error_wrong_model_kind(
    tmp_path: Path, slovenia_series: list[Path], temporal_models: tuple[Path, Path]
) -> None:
    base, _ = temporal_models
    job = _job(tmp_path, temporal_models, **_slovenian(slovenia_series[:1]))
    job["options"] = {"controlnet": str(base)}
    _fails(job, ModelError, "is a DiffusionSat single-image model; this engine needs a DiffusionSat 3-D")


def test_controlnet_as_the_model_with_its_base_as_an_option(
    tmp_path: Path, slovenia_series: list[Path], temporal_models: tuple[Path, Path]
) -> None:
    """The QGIS plugin's single model field holds the 3-D ControlNet; its base comes from an option."""
    base, cn = temporal_models
    job = _job(tmp_path, temporal_models, **_slovenian(slovenia_series[:1]), target_dates=["2015-07-20"])
    job["model"], job["options"] = str(cn), {"base_model": str(base)}
    result, _ = _run(job)
    assert [(o["date"], o["kind"]) for o in result["outputs"]] == [
        ("2015-07-11", "observed"),
        ("2015-07-20", "generated"),
    ]
    assert result["outputs"][1]["extra"]["controlnet"] == cn.name
    job["options"] = {}
    job["output"] = {
        **job["output"],
        "dir": str(tmp_path / "again"),
    }  # result.json is not replaced (issue 10)
    _fails(job, ModelError, r"needs the DiffusionSat model it steers and none is installed")


def test_outputs_of_a_run_feed_the_next(
    slovenia_run: tuple[dict[str, Any], Path], temporal_models: tuple[Path, Path], tmp_path: Path
) -> None:
    """Earlier outputs as inputs: dated by their GEOGEN_DATE tag, a synthetic one stays flagged, pixels exact."""
    first, _ = slovenia_run
    earlier = [o for o in first["outputs"] if o["date"] in ("2015-07-01", "2015-07-11")]
    job = _job(tmp_path, temporal_models, inputs=[{"path": o["path"]} for o in earlier])
    job["target_dates"] = ["2015-07-05"]
    result, _ = _run(job)
    assert [(o["date"], o["kind"], o["synthetic"]) for o in result["outputs"]] == [
        ("2015-07-01", "generated", True),
        ("2015-07-05", "generated", True),
        ("2015-07-11", "observed", False),
    ]
    assert result["outputs"][0]["extra"]["date_source"] == "tag GEOGEN_DATE"
    for before, after in zip(earlier, result["outputs"][::2], strict=True):
        np.testing.assert_array_equal(_pixels(after["path"]), _pixels(before["path"]))
        assert after["extra"]["resampling"] == "exact copy"
