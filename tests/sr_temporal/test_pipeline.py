"""Multi-date super-resolution with the 3-D ControlNet, end to end through the job runner with tiny random
models on the real Slovenian L1C series: what the ControlNet receives (frames in the documented order, each
with its own metadata), padding of a single date, the conditioning dates steering the output, reruns
identical, the warp to another CRS, and one clear error per bad job (raised before any model is loaded)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine

from geogen.diffusion.latent_tiling import plan_windows
from geogen.diffusion.layout import latent_layout
from geogen.engines.base import TemporalSREngine
from geogen.engines.registry import get_engine
from geogen.engines.temporal_controlnet.generator import ConditionFrame, filled
from geogen.errors import GeometryError, JobSpecError, ModelError
from geogen.job.runner import run_job
from geogen.metadata import Metadata
from geogen.progress import NullReporter
from geogen.spec import parse_job
from geogen.timeseries.coregister import coregister
from tests.sr_temporal.conftest import ControlNetCalls, spy_controlnet
from tiles import Grid

D = dt.date
TARGET = D(2015, 7, 31)
ORDER = [D(2015, 7, 11), D(2015, 7, 31), D(2015, 8, 20)]  # the 3 nearest to TARGET, oldest first
CRS = "EPSG:32633"


def _job(out: Path, models: tuple[Path, Path], files: list[tuple[Path, str | None]], **fields: Any) -> dict:
    base, cn = models
    job: dict[str, Any] = {
        "task": "superres",
        "engine": "diffusionsat-3d",
        "model": str(cn),
        "steps": 2,
        "seed": 7,
        "options": {"scale": 4, "base_model": str(base)},
        "output": {"dir": str(out), "name": "sr"},
    }
    if len(files) == 1:
        job["input"] = str(files[0][0])
    else:
        job["inputs"] = [{"path": str(p), **({"date": d} if d else {})} for p, d in files]
    job.update(fields)
    return job


def _run(job: dict) -> dict[str, Any]:
    _, result_path = run_job(parse_job(job), NullReporter())
    return json.loads(result_path.read_text(encoding="utf-8"))


def _pixels(path: str | Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read()


def _inputs(series: dict[dt.date, Path]) -> list[tuple[Path, str | None]]:
    """The target first, the other dates out of order (the frames must still reach the model sorted)."""
    return [(series[d], None) for d in (TARGET, D(2015, 8, 30), D(2015, 7, 11), D(2015, 8, 20))]


@pytest.fixture(scope="module")
def ordered_run(
    series: dict[dt.date, Path],
    sr_models: tuple[Path, Path],
    aoi: tuple[tuple[float, ...], Affine],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, Any], ControlNetCalls]:
    out = tmp_path_factory.mktemp("ordered")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GEOGEN_HOME", str(out / "home"))
        calls = spy_controlnet(mp)
        job = _job(out / "out", sr_models, _inputs(series), aoi={"bounds": list(aoi[0]), "crs": CRS})
        return _run(job), calls


def test_controlnet_receives_the_nearest_frames_oldest_first(
    ordered_run: tuple[dict[str, Any], ControlNetCalls],
    series: dict[dt.date, Path],
    aoi: tuple[tuple[float, ...], Affine],
) -> None:
    result, calls = ordered_run
    grid = Grid(48, 48, aoi[1], CRS)
    layout = latent_layout(grid, factor=2, unet_factor=2, window_px=32)  # the tiny model's layout
    assert layout.canvas == grid  # 48 px is a whole number of latent blocks: no margin around the area
    windows = plan_windows(layout.latent_shape, layout.window, layout.overlap)
    assert len(windows) == 4 and len(calls) == 2 * len(windows)  # 2 steps, one window per call on the CPU
    clouds = {c["date"]: c["cloud_fraction"] for c in result["extra"]["conditioning"]}
    assert list(clouds) == [d.isoformat() for d in ORDER]
    assert clouds["2015-07-11"] == 0.0 and clouds["2015-07-31"] > 0.5  # measured from the CLP band
    frames = [ConditionFrame(d, *_coregistered(series[d], grid)) for d in ORDER]
    for call, window in zip(calls, windows + windows, strict=True):
        px = window.tile.scaled(2).window
        cond = call["controlnet_cond"]
        assert cond.shape == (1, 3, 3, px.height, px.width)  # (B, C, T, H, W)
        for t, frame in enumerate(frames):
            expected = filled(frame)[:, px.slices[0], px.slices[1]].astype(np.float32) / 255
            np.testing.assert_allclose(cond[0, :, t].numpy(), expected, atol=1e-6)
            md = Metadata.from_grid(grid, frame.date, clouds[frame.date.isoformat()], window=px).normalize()
            np.testing.assert_allclose(call["cond_metadata"][0, :, t].numpy(), md, rtol=1e-6, atol=0.1)
        target_md = Metadata.from_grid(grid, TARGET, None, window=px).normalize()
        np.testing.assert_allclose(call["metadata"][0].numpy(), target_md, rtol=1e-6)
    assert result["extra"]["unused_dates"] == ["2015-08-30"]


def _coregistered(path: Path, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    pixels = coregister(path, grid)
    return pixels.rgb, pixels.valid


def test_output_records_the_target_date_and_its_conditioning(
    ordered_run: tuple[dict[str, Any], ControlNetCalls], aoi: tuple[tuple[float, ...], Affine]
) -> None:
    result, _ = ordered_run
    assert result["task"] == "superres" and result["engine"] == "diffusionsat-3d"
    (record,) = result["outputs"]
    assert record["date"] == "2015-07-31" and record["synthetic"] and record["kind"] == "generated"
    assert record["extra"]["conditioning"] == [d.isoformat() for d in ORDER]
    with rasterio.open(record["path"]) as ds:
        assert ds.transform.almost_equals(aoi[1]) and (ds.width, ds.height) == (48, 48)
        tags = ds.tags()
    assert tags["GEOGEN_DATE"] == "2015-07-31" and tags["GEOGEN_SYNTHETIC"] == "YES"
    assert json.loads(tags["GEOGEN_CONDITIONING_DATES"]) == [d.isoformat() for d in ORDER]
    assert tags["GEOGEN_SEED"] == "7" and tags["GEOGEN_STEPS"] == "2" and tags["GEOGEN_TASK"] == "superres"
    assert tags["GEOGEN_MODEL"] == "tiny-controlnet-3d" and tags["GEOGEN_BASE_MODEL"] == "tiny-diffusionsat"
    metadata = json.loads(tags["GEOGEN_METADATA"])
    assert [c["date"] for c in metadata["conditioning"]] == [d.isoformat() for d in ORDER]
    assert metadata["conditioning"][0]["gsd_m"] == pytest.approx(2.5, abs=0.01)  # as fed, not 10 m
    assert metadata["windows"] == 4 and len(metadata["per_window"]) == 4


def test_the_conditioning_dates_steer_the_output(
    ordered_run: tuple[dict[str, Any], ControlNetCalls],
    series: dict[dt.date, Path],
    sr_models: tuple[Path, Path],
    aoi: tuple[tuple[float, ...], Affine],
    tmp_path: Path,
) -> None:
    first = _pixels(ordered_run[0]["outputs"][0]["path"])
    area = {"aoi": {"bounds": list(aoi[0]), "crs": CRS}}
    again = _run(_job(tmp_path / "again", sr_models, _inputs(series), **area))
    np.testing.assert_array_equal(_pixels(again["outputs"][0]["path"]), first)
    moved_inputs = _inputs(series)
    moved_inputs[3] = (series[D(2015, 8, 20)], "2015-08-19")  # the same frame, one day earlier
    moved = _run(_job(tmp_path / "moved", sr_models, moved_inputs, **area))
    assert moved["outputs"][0]["extra"]["conditioning"] == ["2015-07-11", "2015-07-31", "2015-08-19"]
    assert (_pixels(moved["outputs"][0]["path"]) != first).mean() > 0.01


def test_a_single_date_is_padded_by_repetition(
    series: dict[dt.date, Path],
    sr_models: tuple[Path, Path],
    aoi: tuple[tuple[float, ...], Affine],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One input: its own frame three times; the models named the other way (base + options.controlnet)."""
    calls = spy_controlnet(monkeypatch)
    base, cn = sr_models
    job = _job(tmp_path, sr_models, [(series[TARGET], None)], aoi={"bounds": list(aoi[0]), "crs": CRS})
    job.update(model=str(base), options={"scale": 4, "controlnet": str(cn)})
    result = _run(job)
    assert result["outputs"][0]["extra"]["conditioning"] == ["2015-07-31"] * 3
    assert calls
    for call in calls:
        cond, md = call["controlnet_cond"], call["cond_metadata"]
        assert cond.shape[2] == 3
        for t in (1, 2):
            assert (cond[:, :, t] == cond[:, :, 0]).all() and (md[:, :, t] == md[:, :, 0]).all()


def test_output_crs_warps_the_image(
    series: dict[dt.date, Path],
    sr_models: tuple[Path, Path],
    aoi: tuple[tuple[float, ...], Affine],
    tmp_path: Path,
) -> None:
    job = _job(tmp_path, sr_models, [(series[TARGET], None)], aoi={"bounds": list(aoi[0]), "crs": CRS})
    job["output"]["crs"] = "EPSG:3857"
    (record,) = _run(job)["outputs"]
    with rasterio.open(record["path"]) as ds:
        assert ds.crs.to_epsg() == 3857 and ds.tags()["GEOGEN_DATE"] == "2015-07-31"
        assert [ds.width, ds.height] == [record["width"], record["height"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json", "sr.tif"]  # no temporary left


def test_engine_is_registered_for_superres() -> None:
    cls = get_engine("superres", "diffusionsat-3d")
    assert issubclass(cls, TemporalSREngine) and cls.needs_weights() and not cls.default


# --- one clear error per bad job, before any model is loaded ----------------------------------------------


@pytest.mark.parametrize(
    "change, error, pattern",
    [
        ({"model": None}, ModelError, "diffusionsat-3d engine needs a model: pass --model"),
        ({"model": "BASE"}, ModelError, "is a DiffusionSat single-image model.*3-D"),
        (
            {"options": {"scale": 1}},
            JobSpecError,
            "options.scale: input should be greater than or equal to 2, got 1",
        ),
        ({"target_gsd": 3.0}, JobSpecError, "target_gsd 3 m is not the input's"),
        ({"target_gsd": 2.5, "options": {"scale": 2}}, JobSpecError, "means scale 4, but options.scale is 2"),
        ({"options": {"consistency": True}}, JobSpecError, "no consistency step"),
        (
            {"options": {"frames": 0}},
            JobSpecError,
            "options.frames: input should be greater than or equal to 1, got 0",
        ),
        ({"bands": ["B08"]}, JobSpecError, "writes one RGB image"),
        ({"aoi": {"bounds": [500000, 5000000, 500100, 5000100], "crs": CRS}}, GeometryError, "not overlap"),
        ({"inputs": "DUPLICATE"}, JobSpecError, "two frames have the date 2015-07-31"),
    ],
)
def test_errors(
    change: dict[str, Any],
    error: type[Exception],
    pattern: str,
    series: dict[dt.date, Path],
    sr_models: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = spy_controlnet(monkeypatch)
    job = _job(tmp_path / "out", sr_models, [(series[TARGET], None), (series[D(2015, 7, 11)], None)])
    change = dict(change)
    if change.get("model") == "BASE":
        change["model"] = str(sr_models[0])
    if change.get("inputs") == "DUPLICATE":
        other = {"path": str(series[D(2015, 7, 11)]), "date": "2015-07-31"}
        change["inputs"] = [{"path": str(series[TARGET])}, other]
    if "options" in change:
        change["options"] = {"base_model": str(sr_models[0]), **change["options"]}
    job.update(change)
    with pytest.raises(error, match=pattern):
        run_job(parse_job(job), NullReporter())
    assert calls.loaded == 0 and not (tmp_path / "out" / "sr.tif").exists()
