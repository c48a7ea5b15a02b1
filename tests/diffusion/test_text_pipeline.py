"""run_text end to end on the tiny DiffusionSat model: grid, alpha, tags, per-window metadata, determinism,
errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from pyproj import Transformer
from safetensors.torch import save_file
from shapely.geometry import Point, Polygon

import geogen.pipelines.text as text_pipeline
from geogen.diffusion.layout import latent_layout
from geogen.engines.text_diffusionsat.contract import DiffusionSatTextEngine
from geogen.errors import AreaTooLargeError, CancelledError, GeometryError, JobSpecError, ModelError
from geogen.io.aoi import area_from_bounds, working_grid
from geogen.job.runner import run_job
from geogen.progress import NullReporter, Reporter
from geogen.spec import TextJob, parse_job
from geogen.store import Store

BOUNDS = (14.5000, 46.0400, 14.5045, 46.0428)  # lon/lat, Ljubljana: about 350 x 310 m
GSD = 5.0
STEPS = 2


def job_dict(tmp_path: Path, model: str | Path | None, **changes) -> dict:
    job = {
        "task": "text",
        "prompt": "a fmow satellite image of a farm",
        "model": str(model) if model else None,
        "aoi": {"bounds": list(BOUNDS), "crs": "EPSG:4326"},
        "gsd": GSD,
        "date": "2020-06-15",
        "seed": 3,
        "steps": STEPS,
        "guidance_scale": 3.0,
        "options": {"device": "cpu"},
        "output": {"dir": str(tmp_path / "out"), "name": "scene", "overwrite": True},
    }
    job.update(changes)
    return job


def run_text(job: TextJob, reporter: Reporter):
    """The text pipeline with the engine the runner would build from the job."""
    engine = DiffusionSatTextEngine(DiffusionSatTextEngine.parse_options(job.options), seed=job.seed)
    return text_pipeline.run_text(job, engine, reporter)


def run(tmp_path: Path, model, **changes):
    job = parse_job(job_dict(tmp_path, model, **changes))
    return run_text(job, NullReporter())


def read(path: str) -> tuple[np.ndarray, rasterio.DatasetReader]:
    ds = rasterio.open(path)
    return ds.read(), ds


class UNetSpy:
    """Wraps the pipeline's component loader to record the metadata each real UNet call receives."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[dict] = []
        real = text_pipeline.load_for_layout

        def loader(*args, **kwargs):
            comps = real(*args, **kwargs)
            comps.unet.register_forward_pre_hook(self._record, with_kwargs=True)
            return comps

        monkeypatch.setattr(text_pipeline, "load_for_layout", loader)

    def _record(self, module, args, kwargs):
        self.calls.append(
            {
                "batch": args[0].shape[0],
                "metadata": kwargs["metadata"].clone(),
                "hidden": kwargs["encoder_hidden_states"].clone(),
            }
        )


def test_geographic_area_gives_a_utm_geotiff_on_the_requested_grid(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    out = run(tmp_path, tiny_model_dir)
    record = out.outputs[0]
    pixels, ds = read(record.path)
    expected = working_grid(area_from_bounds(BOUNDS, "EPSG:4326"), GSD)
    assert ds.crs.to_epsg() == 32633 and expected.crs == "EPSG:32633"
    assert ds.transform == expected.transform and (ds.width, ds.height) == (expected.width, expected.height)
    assert tuple(ds.bounds) == pytest.approx(expected.bounds, abs=1e-6)
    assert tuple(record.bounds) == pytest.approx(expected.bounds, abs=1e-6)
    assert ds.count == 4 and ds.dtypes[0] == "uint8"
    # the requested lon/lat box lies inside the grid, within one pixel of its edges
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32633", always_xy=True)
    x0, y0, x1, y1 = to_utm.transform_bounds(*BOUNDS, densify_pts=21)
    left, bottom, right, top = ds.bounds
    assert (
        left <= x0 < left + GSD
        and right - GSD < x1 <= right
        and bottom <= y0 < bottom + GSD
        and top - GSD < y1 <= top
    )
    # alpha: 255 exactly where the pixel centre falls inside the lon/lat box
    rows, cols = np.mgrid[0 : ds.height, 0 : ds.width]
    x, y = ds.transform @ (cols + 0.5, rows + 0.5)
    lon, lat = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True).transform(x, y)
    inside = (lon >= BOUNDS[0]) & (lon <= BOUNDS[2]) & (lat >= BOUNDS[1]) & (lat <= BOUNDS[3])
    assert (~inside).sum() > 0 and (pixels[3] == np.where(inside, 255, 0)).mean() > 0.998
    assert pixels[:3][:, inside].std() > 5  # an image, not a flat fill
    tags = ds.tags()
    assert tags["GEOGEN_SYNTHETIC"] == "YES" and tags["GEOGEN_ENGINE"] == "diffusionsat"
    assert (
        tags["GEOGEN_MODEL"] == "tiny-diffusionsat"
        and tags["GEOGEN_PROMPT"] == "a fmow satellite image of a farm"
    )
    assert (
        tags["GEOGEN_SEED"] == "3"
        and tags["GEOGEN_STEPS"] == str(STEPS)
        and tags["GEOGEN_GUIDANCE_SCALE"] == "3.0"
    )
    meta = json.loads(tags["GEOGEN_METADATA"])
    assert meta["fields"] == ["lon", "lat", "gsd", "cloud_cover", "year", "month", "day"]
    assert len(meta["per_window"]) == meta["windows"] == record.extra["windows"] > 1
    assert meta["unconditional"] == [0.0] * 7
    assert [ds.descriptions[i] for i in range(3)] == ["red", "green", "blue"]


def test_each_window_gets_the_metadata_of_its_own_centre(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = UNetSpy(monkeypatch)
    out = run(tmp_path, tiny_model_dir, cloud_cover=0.25, options={"device": "cpu", "window_batch_size": 2})
    grid = working_grid(area_from_bounds(BOUNDS, "EPSG:4326"), GSD)
    layout = latent_layout(grid, factor=2, unet_factor=2, window_px=32)
    windows = text_pipeline.plan_windows(layout.latent_shape, layout.window, layout.overlap)
    assert len(windows) == out.outputs[0].extra["windows"] == 9
    # the conditional rows of the first step's calls, in plan order
    first_step = spy.calls[: -(-len(windows) // 2)]
    seen = np.concatenate([c["metadata"][c["batch"] // 2 :].numpy() for c in first_step])
    unconditional = np.concatenate([c["metadata"][: c["batch"] // 2].numpy() for c in first_step])
    assert (unconditional == 0).all()
    to_wgs84 = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    for w, vec in zip(windows, seen, strict=True):
        px = w.tile.scaled(2).window
        x, y = layout.canvas.transform @ (px.col_off + px.width / 2, px.row_off + px.height / 2)
        lon, lat = to_wgs84.transform(x, y)
        assert vec[0] == pytest.approx((lon + 180) / 360 * 1000, abs=1e-3)
        assert vec[1] == pytest.approx((lat + 90) / 180 * 1000, abs=1e-3)
        assert vec[2] == pytest.approx(GSD * 1000, rel=2e-3)  # ground GSD: UTM scale factor within 0.2 %
        assert vec[3] == pytest.approx(250.0)
        assert vec[4:] == pytest.approx([(2020 - 1980) / 120 * 1000, 6 / 12 * 1000, 15 / 31 * 1000], abs=1e-3)
    assert len({(round(float(v[0]), 4), round(float(v[1]), 4)) for v in seen}) == len(windows)
    assert len(spy.calls) == STEPS * -(-len(windows) // 2)


def test_guidance_one_halves_the_unet_work(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = UNetSpy(monkeypatch)
    out = run(tmp_path, tiny_model_dir, guidance_scale=1.0, options={"device": "cpu", "window_batch_size": 3})
    n = out.outputs[0].extra["windows"]
    assert len(spy.calls) == STEPS * -(-n // 3) == out.extra["unet_calls"]
    assert sum(c["batch"] for c in spy.calls) == STEPS * n
    assert all((c["metadata"] != 0).any(dim=1).all() for c in spy.calls)  # no all-zero (unconditional) rows


def test_same_seed_same_pixels_whatever_the_batch_size_or_memory_options(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    def pixels(name: str, **changes) -> np.ndarray:
        return read(run(tmp_path / name, tiny_model_dir, **changes).outputs[0].path)[0].astype(int)

    a = pixels("a", options={"device": "cpu", "window_batch_size": 1})
    for other in (
        pixels("b", options={"device": "cpu", "window_batch_size": 4}),
        pixels("c", options={"device": "cpu", "cpu_offload": True, "attention_slicing": True}),
    ):
        assert np.abs(a - other).max() <= 1  # float sums may round one level apart
        assert (a == other).mean() > 0.999
    assert np.abs(a[:3] - pixels("d", seed=4)[:3]).mean() > 2


def test_polygon_area_is_opaque_inside_only(tmp_path: Path, tiny_model_dir: Path) -> None:
    import fiona

    triangle = Polygon(
        [(461301, 5098601), (461597, 5098603), (461302, 5098888)]
    )  # no pixel centre on an edge
    path = tmp_path / "aoi.gpkg"
    schema = {"geometry": "Polygon", "properties": {"name": "str"}}
    with fiona.open(path, "w", driver="GPKG", crs="EPSG:32633", schema=schema) as dst:
        dst.write({"geometry": triangle.__geo_interface__, "properties": {"name": "field"}})
    out = run(tmp_path, tiny_model_dir, aoi={"vector": str(path)})
    pixels, ds = read(out.outputs[0].path)
    assert ds.crs.to_epsg() == 32633 and tuple(ds.bounds) == (461300, 5098600, 461600, 5098890)
    centres = [Point(ds.transform @ (c + 0.5, r + 0.5)) for r in range(ds.height) for c in range(ds.width)]
    inside = np.array([triangle.contains(p) for p in centres]).reshape(ds.height, ds.width)
    np.testing.assert_array_equal(pixels[3], np.where(inside, 255, 0))


def test_installed_model_by_name_and_output_crs(tmp_path: Path, tiny_model_dir: Path) -> None:
    Store().add("ds-tiny", tiny_model_dir)
    job = parse_job(
        job_dict(tmp_path, "ds-tiny", output={"dir": str(tmp_path / "o"), "name": "x", "crs": "EPSG:3857"})
    )
    result, result_path = run_job(job, NullReporter())
    _, ds = read(result.outputs[0].path)
    assert ds.crs.to_epsg() == 3857 and result.engine == "diffusionsat"
    assert ds.tags()["GEOGEN_MODEL"] == "ds-tiny"
    assert json.loads(result_path.read_text())["outputs"][0]["crs"] == "EPSG:3857"


def test_cancel_during_denoising_leaves_no_file(tmp_path: Path, tiny_model_dir: Path) -> None:
    class Cancelling(NullReporter):
        def progress(self, done: int, total: int, stage: str = "") -> None:
            if stage == "denoise" and done == 3:
                raise CancelledError("job cancelled")

    with pytest.raises(CancelledError):
        run_text(parse_job(job_dict(tmp_path, tiny_model_dir)), Cancelling())
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# -- errors
# ----------------------------------------------------------------------------------------------------


def test_unknown_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no model named 'no-such-model'"):
        run(tmp_path, "no-such-model")


def test_no_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="needs a model"):
        run(tmp_path, None)


def test_lora_is_the_wrong_kind(tmp_path: Path) -> None:
    lora = tmp_path / "style.safetensors"
    g = torch.Generator().manual_seed(0)
    key = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k"
    save_file(
        {
            f"{key}.lora_down.weight": torch.randn(4, 1024, generator=g),
            f"{key}.lora_up.weight": torch.randn(320, 4, generator=g),
        },
        str(lora),
    )
    with pytest.raises(ModelError, match="is a LoRA; this engine needs a DiffusionSat single-image model"):
        run(tmp_path, lora)


def test_controlnet_is_the_wrong_kind(tmp_path: Path) -> None:
    from diffusers import ControlNetModel, UNet2DConditionModel

    from tests.tiny_models import TINY_UNET

    controlnet = ControlNetModel.from_unet(
        UNet2DConditionModel(**TINY_UNET), conditioning_embedding_out_channels=(16, 32)
    )
    controlnet.save_pretrained(tmp_path / "cn")
    with pytest.raises(ModelError, match="is a ControlNet; this engine needs a DiffusionSat"):
        run(tmp_path, tmp_path / "cn")


def test_area_too_large_says_how_many_windows_and_how_long(tmp_path: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(
        AreaTooLargeError, match=r"needs 9 latent windows \(roughly .*\), above the limit of 4"
    ):
        run(tmp_path, tiny_model_dir, max_tiles=4)
    assert not (tmp_path / "out" / "scene.tif").exists()


def test_gsd_must_be_positive(tmp_path: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(JobSpecError, match="gsd"):
        parse_job(job_dict(tmp_path, tiny_model_dir, gsd=0))
    job = TextJob.model_construct(**{**parse_job(job_dict(tmp_path, tiny_model_dir)).__dict__, "gsd": -5.0})
    with pytest.raises(GeometryError, match="GSD must be a positive"):
        run_text(job, NullReporter())


def test_area_is_required(tmp_path: Path, tiny_model_dir: Path) -> None:
    data = job_dict(tmp_path, tiny_model_dir)
    del data["aoi"]
    with pytest.raises(JobSpecError, match="aoi"):
        parse_job(data)


def test_unknown_option(tmp_path: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(JobSpecError, match=r"options\.windwo: unknown option"):
        run(tmp_path, tiny_model_dir, options={"windwo": 64})
