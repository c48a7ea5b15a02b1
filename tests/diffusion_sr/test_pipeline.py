"""The diffusionsat-sr engine end to end: tiny random models loaded from disk, real Sentinel-2 inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import CRS

from geogen.errors import JobSpecError, ModelError
from geogen.io.raster import read_grid
from geogen.io.sentinel2 import open_s2
from geogen.job.runner import build_engine
from geogen.pipelines.superres_diffusion import run_diffusionsat_sr as run_pipeline
from geogen.progress import NullReporter, Reporter
from geogen.records import PipelineOutput
from geogen.sensors import mtf
from geogen.spec import DatedInput, SuperresJob, parse_job
from tests.tiny_models import build_sr_controlnet

# A 16 x 12 px (160 m x 120 m) area inside the BigEarthNet patch: 64 x 48 px at 2.5 m.
AOI = [404600.0, 5341500.0, 404760.0, 5341620.0]


def run_diffusionsat_sr(job: SuperresJob, reporter: Reporter) -> PipelineOutput:
    """The job's engine built from its options (as the runner builds it), then the diffusion SR pipeline."""
    return run_pipeline(job, build_engine(job), reporter)  # type: ignore[arg-type]


def make_job(
    inp: Path,
    out: Path,
    model: Path,
    base: Path | None,
    *,
    seed: int = 1,
    aoi: list | None = AOI,
    name: str = "sr",
    **options: Any,
) -> SuperresJob:
    opts = {"scale": 4, "window": 32, "overlap": 8, **options}
    if base is not None:
        opts["base_model"] = str(base)
    spec = {
        "task": "superres",
        "input": str(inp),
        "engine": "diffusionsat-sr",
        "model": str(model),
        "steps": 2,
        "seed": seed,
        "options": opts,
        "output": {"dir": str(out), "name": name},
    }
    if aoi is not None:
        spec["aoi"] = {"bounds": aoi, "crs": "EPSG:32633"}
    return parse_job(spec)


def read(path: str | Path) -> tuple[np.ndarray, dict[str, str], rasterio.profiles.Profile]:
    with rasterio.open(path) as ds:
        return ds.read(), ds.tags(), ds.profile


def rgb_input(patch: Path, bounds: list[float]) -> np.ndarray:
    with open_s2(patch) as stack:
        window = stack.grid.window(tuple(bounds))
        return np.stack([stack.read(b, window)[0] for b in ("B04", "B03", "B02")])


def test_output_is_on_the_zoomed_input_grid_with_its_provenance(sr_models, patch, tmp_path) -> None:
    base, cn = sr_models
    result = run_diffusionsat_sr(make_job(patch, tmp_path, cn, base), NullReporter())
    (record,) = result.outputs
    with open_s2(patch) as stack:
        expected = stack.grid[stack.grid.window(tuple(AOI))].zoom(4)
    grid = read_grid(record.path)
    assert (grid.width, grid.height) == (64, 48) == (expected.width, expected.height)
    assert grid.transform.almost_equals(expected.transform, precision=1e-9)
    assert CRS.from_user_input(grid.crs) == CRS.from_user_input(expected.crs)
    assert record.bounds == pytest.approx(expected.bounds) and record.synthetic and record.kind == "generated"
    pixels, tags, profile = read(record.path)
    assert profile["dtype"] == "uint16" and profile["nodata"] == 0 and pixels.shape == (3, 48, 64)
    assert tags["GEOGEN_SYNTHETIC"] == "YES" and tags["GEOGEN_ENGINE"] == "diffusionsat-sr" == result.engine
    assert (
        tags["GEOGEN_MODEL"] == "tiny-sr-controlnet"
        and tags["GEOGEN_SEED"] == "1"
        and tags["GEOGEN_STEPS"] == "2"
    )
    assert tags["GEOGEN_DATE"] == "2017-06-13" and tags["GEOGEN_CONSISTENCY"] == "project"
    meta = json.loads(tags["GEOGEN_METADATA"])
    assert meta["condition_gsd_m"] == 10.0 and meta["windows"] == len(meta["per_window"]) == 6
    for vector in meta["per_window"].values():  # each window: its own centre, 2.5 m, the acquisition date
        assert 2500 < vector[2] < 2502 and vector[4:] == pytest.approx([308.333, 500.0, 419.355], abs=1e-3)
    pw = meta["per_window"]  # 2 rows x 3 columns of windows 40-60 m apart: east grows lon', south lowers lat'
    assert pw["0,0"][0] < pw["0,2"][0] and pw["1,0"][0] < pw["1,2"][0]
    assert pw["0,0"][1] > pw["1,0"][1] and pw["0,2"][1] > pw["1,2"][1]
    assert record.date.isoformat() == "2017-06-13" and result.extra["per_date"][0]["unet_calls"] == 12
    assert [p.name for p in tmp_path.iterdir()] == ["sr.tif"]  # no scratch or partial file left


def crop_patch(patch: Path, folder: Path, col: int, row: int, width: int, height: int) -> Path:
    """The patch's band files cut to a window of its 10 m grid (a multiple of 6 px: 60 m bands stay whole)."""
    folder.mkdir(parents=True)
    for src in patch.glob("*_B*.tif"):
        with rasterio.open(src) as ds:
            f = round(ds.res[0] / 10)
            window = rasterio.windows.Window(col // f, row // f, width // f, height // f)
            profile = {
                **ds.profile,
                "width": width // f,
                "height": height // f,
                "transform": ds.transform @ Affine.translation(col // f, row // f),
            }
            with rasterio.open(folder / src.name, "w", **profile) as dst:
                dst.write(ds.read(window=window))
    return folder


def test_whole_input_without_an_area_keeps_the_input_grid(sr_models, patch, tmp_path) -> None:
    base, cn = sr_models
    small = crop_patch(patch, tmp_path / patch.name, 30, 42, 24, 18)
    (record,) = run_diffusionsat_sr(make_job(small, tmp_path, cn, base, aoi=None), NullReporter()).outputs
    with open_s2(small) as stack:
        expected = stack.grid.zoom(4)
    grid = read_grid(record.path)
    assert (grid.width, grid.height) == (96, 72)
    assert grid.transform.almost_equals(expected.transform, precision=1e-9)
    assert record.bounds == pytest.approx(expected.bounds)


def test_same_seed_same_pixels_other_seed_other_pixels(sr_models, patch, tmp_path) -> None:
    base, cn = sr_models
    runs = [
        run_diffusionsat_sr(make_job(patch, tmp_path / str(k), cn, base, seed=s), NullReporter()).outputs[0]
        for k, s in enumerate((5, 5, 6))
    ]
    a, b, c = (read(r.path)[0] for r in runs)
    assert np.array_equal(a, b)
    assert np.abs(a.astype(int) - c.astype(int)).mean() > 5


def test_consistency_step_tightens_the_match_with_the_input(sr_models, patch, tmp_path) -> None:
    base, cn = sr_models
    lr = rgb_input(patch, AOI)
    off = run_diffusionsat_sr(make_job(patch, tmp_path / "off", cn, base, consistency=False), NullReporter())
    raw, _, profile = read(off.outputs[0].path)
    assert profile["dtype"] == "uint8" and raw.shape == (4, 48, 64)  # the model's own RGB + alpha
    x = raw[:3].astype(
        np.float32
    )  # without the step, in reflectance units: each band's mean and spread matched
    matched = np.stack([(x[b] - x[b].mean()) / x[b].std() * lr[b].std() + lr[b].mean() for b in range(3)])
    error_off = np.abs(mtf.degrade(matched, 4) - lr).mean()
    for method, bound in (("project", 0.1), ("lowpass", 0.3)):
        on = run_diffusionsat_sr(
            make_job(patch, tmp_path / method, cn, base, consistency=method), NullReporter()
        )
        sr = read(on.outputs[0].path)[0].astype(np.float32) / 10000
        error_on = np.abs(mtf.degrade(sr, 4) - lr).mean()
        assert error_on < bound * error_off, (method, error_on, error_off)


def test_multi_date_writes_one_co_registered_file_per_date(sr_models, slovenia_dates, tmp_path) -> None:
    base, cn = sr_models
    clear = [p for p in slovenia_dates if "20150711" in p.name or "20150830" in p.name]
    aoi = [465300.0, 5079500.0, 465440.0, 5079620.0]
    job = make_job(clear[0], tmp_path, cn, base, aoi=aoi).model_copy(
        update={"input": None, "inputs": [DatedInput(path=str(p)) for p in clear]}
    )
    result = run_diffusionsat_sr(job, NullReporter())
    assert [r.date.isoformat() for r in result.outputs] == ["2015-07-11", "2015-08-30"]
    assert [Path(r.path).name for r in result.outputs] == ["sr_2015-07-11.tif", "sr_2015-08-30.tif"]
    grids = [read_grid(r.path) for r in result.outputs]
    assert grids[0] == grids[1] and grids[0].res[0] == pytest.approx(9.99479 / 4, rel=1e-5)
    first, tags1, _ = read(result.outputs[0].path)
    second, tags2, _ = read(result.outputs[1].path)
    assert (tags1["GEOGEN_DATE"], tags2["GEOGEN_DATE"]) == ("2015-07-11", "2015-08-30")
    assert not np.array_equal(first, second)
    assert [d["date"] for d in result.extra["per_date"]] == ["2015-07-11", "2015-08-30"]


def test_base_model_found_in_the_controlnet_folder(sr_models, patch, tmp_path) -> None:
    base, cn = sr_models
    both = tmp_path / "diffusionsat-sr"
    shutil.copytree(base, both / "base")
    shutil.copytree(cn, both / "controlnet")
    result = run_diffusionsat_sr(make_job(patch, tmp_path / "out", both, None), NullReporter())
    assert result.extra["base_model"] == "diffusionsat-sr"


def test_models_of_the_wrong_kind_or_shape_are_refused(sr_models, patch, tmp_path) -> None:
    base, cn = sr_models
    with pytest.raises(
        ModelError, match="single-image model; this engine needs a DiffusionSat super-resolution"
    ):
        run_diffusionsat_sr(make_job(patch, tmp_path, base, base), NullReporter())
    with pytest.raises(ModelError, match="needs its DiffusionSat base model and none is installed"):
        run_diffusionsat_sr(make_job(patch, tmp_path, cn, None), NullReporter())
    rgb_cn = build_sr_controlnet(base, tmp_path / "rgb-controlnet", channels=3)
    with pytest.raises(ModelError, match="reads 3 condition channels"):
        run_diffusionsat_sr(make_job(patch, tmp_path, rgb_cn, base), NullReporter())
    job = parse_job(  # the former name "diffusionsat" is still accepted on input
        {"task": "superres", "input": str(patch), "engine": "diffusionsat", "output": {"dir": str(tmp_path)}}
    )
    with pytest.raises(ModelError, match="needs a model"):
        run_diffusionsat_sr(job, NullReporter())


def test_bad_options_are_refused_before_any_work(sr_models, patch, tmp_path) -> None:
    base, cn = sr_models
    with pytest.raises(JobSpecError, match=r"options.consistency: must be true, false or one of histogram"):
        run_diffusionsat_sr(make_job(patch, tmp_path, cn, base, consistency="sharpen"), NullReporter())
    with pytest.raises(JobSpecError, match=r"options.strength: unknown option"):
        run_diffusionsat_sr(make_job(patch, tmp_path, cn, base, strength=2), NullReporter())
    job = make_job(patch, tmp_path, cn, base).model_copy(update={"target_gsd": 3.0})
    with pytest.raises(JobSpecError, match="target_gsd 3 m"):
        run_diffusionsat_sr(job, NullReporter())


def test_l2a_input_is_flagged(sr_models, patch, tmp_path) -> None:
    base, cn = sr_models
    reporter = NullReporter()
    run_diffusionsat_sr(make_job(patch, tmp_path, cn, base, normalisation="scene"), reporter)
    assert any("L2A" in w and "L1C" in w for w in reporter.warnings)
