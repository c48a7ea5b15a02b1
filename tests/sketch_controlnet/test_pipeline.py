"""``--engine controlnet`` end to end: real FLAIR mask and polygons in, GeoTIFF on the requested grid out."""

from __future__ import annotations

import datetime as dt
import json
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from rasterio.features import rasterize
from rasterio.windows import Window as RioWindow
from shapely.geometry import box

from geogen.engines.sketch_controlnet.contract import ControlNetSketch
from geogen.errors import ModelError
from geogen.pipelines.sketch_controlnet import run_sketch_controlnet
from geogen.progress import NullReporter, Reporter
from geogen.records import PipelineOutput
from geogen.spec import parse_job
from tests.sketch_controlnet.conftest import FLAIR_MASK, HOLE, crop_codes


def _job(model: Path, controlnet: Path, landcover: Path, out: Path, **kw: Any):
    options = {"controlnet": str(controlnet), **kw.pop("options", {})}
    data = {
        "task": "sketch",
        "engine": "controlnet",
        "model": str(model),
        "landcover": str(landcover),
        "steps": 2,
        "seed": 7,
        "output": {"dir": str(out), "name": kw.pop("name", "scene")},
        "options": options,
    }
    return parse_job({**data, **kw})


def _run(job, reporter: Reporter) -> PipelineOutput:
    """The job run by the ControlNet sketch pipeline with the engine built from its options."""
    engine = ControlNetSketch(ControlNetSketch.parse_options(job.options), seed=job.seed)
    return run_sketch_controlnet(job, engine, reporter)


def _read(path: str) -> tuple[np.ndarray, dict[str, Any], dict[str, str]]:
    with rasterio.open(path) as ds:
        return ds.read(), ds.profile, ds.tags()


def test_flair_mask_to_geotiff_on_the_mask_grid(sd_dir, controlnet_dir, flair_crop, tmp_path) -> None:
    job = _job(sd_dir, controlnet_dir, flair_crop, tmp_path, place="Lannion", prompt="summer")
    out = _run(job, NullReporter())
    pixels, profile, tags = _read(out.outputs[0].path)
    with rasterio.open(flair_crop) as src:
        assert (profile["width"], profile["height"]) == (src.width, src.height) == (64, 64)
        assert profile["transform"] == src.transform and profile["crs"] == src.crs
    assert pixels.shape == (4, 64, 64) and pixels.dtype == np.uint8
    alpha = pixels[3]
    codes = crop_codes(flair_crop)
    np.testing.assert_array_equal(alpha, np.where(codes == 0, 0, 255))
    assert alpha[HOLE].max() == 0 and pixels[:3, 20:, 20:].std() > 0
    assert out.outputs[0].extra["classes"] == [
        "building",
        "pervious surface",
        "impervious surface",
        "deciduous",
        "herbaceous vegetation",
    ]
    assert tags["GEOGEN_ENGINE"] == "controlnet" and tags["GEOGEN_SYNTHETIC"] == "YES"
    assert tags["GEOGEN_MODEL"] == f"{sd_dir.name}+{controlnet_dir.name}"
    meta = json.loads(tags["GEOGEN_METADATA"])
    assert meta["window_prompts"] == out.extra["prompts"] and meta["windows"] == 9
    assert all(
        p.startswith("Aerial view of Lannion. ") and p.endswith(" summer.") for p in meta["window_prompts"]
    )
    assert tags["GEOGEN_SCHEDULER"] == "unipc" and out.extra["unet_calls"] == 9 * 2


def test_polygons_on_the_snapped_area_grid_transparent_outside(
    sd_dir, controlnet_dir, polygons, tmp_path
) -> None:
    x0, y0 = 1025660.0, 6747300.0
    bounds = (x0 - 2.2, y0 - 1.9, x0 + 25.1, y0 + 17.6)
    job = _job(
        sd_dir,
        controlnet_dir,
        polygons,
        tmp_path,
        class_field="lc",
        gsd=0.5,
        aoi={"bounds": bounds, "crs": "EPSG:2154"},
    )
    out = _run(job, NullReporter())
    pixels, profile, _ = _read(out.outputs[0].path)
    left, top = np.floor(bounds[0] / 0.5) * 0.5, np.ceil(bounds[3] / 0.5) * 0.5
    width = int(np.rint((np.ceil(bounds[2] / 0.5) * 0.5 - left) / 0.5))
    height = int(np.rint((top - np.floor(bounds[1] / 0.5) * 0.5) / 0.5))
    assert profile["transform"] == Affine(0.5, 0, left, 0, -0.5, top)
    assert (profile["width"], profile["height"]) == (width, height) == (56, 40)
    assert profile["crs"].to_epsg() == 2154
    drawn = rasterize(
        [
            (box(x0, y0, x0 + 12, y0 + 16), 1),
            (box(x0 + 12, y0, x0 + 24, y0 + 8), 1),
            (box(x0 + 12, y0 + 8, x0 + 20, y0 + 16), 1),
        ],
        out_shape=(height, width),
        transform=profile["transform"],
        fill=0,
        dtype="uint8",
    )
    np.testing.assert_array_equal(pixels[3], drawn * 255)
    assert out.outputs[0].extra["classes"] == ["building", "water", "deciduous"]


def _lora_job(sd_dir, controlnet_dir, flair_crop, tmp_path, name, loras):
    x, y = 1025660.0 + 416 * 0.2, 6747373.8 - 64 * 0.2  # the crop's corner: a 32 x 32 px (one-window) area
    return _job(
        sd_dir,
        controlnet_dir,
        flair_crop,
        tmp_path,
        name=name,
        loras=loras,
        aoi={"bounds": (x + 0.01, y - 6.39, x + 6.39, y - 0.01), "crs": "EPSG:2154"},
    )


def test_lora_strength_zero_equals_no_lora_and_one_differs(
    sd_dir, controlnet_dir, flair_crop, kohya_lora, peft_lora, tmp_path
) -> None:
    runs = {}
    for name, loras in [
        ("none", []),
        ("zero", [{"name": str(kohya_lora), "strength": 0.0}]),
        ("one", [{"name": str(kohya_lora), "strength": 1.0}]),
        ("peft", [{"name": str(peft_lora), "strength": 0.5}]),
    ]:
        out = _run(_lora_job(sd_dir, controlnet_dir, flair_crop, tmp_path, name, loras), NullReporter())
        runs[name] = _read(out.outputs[0].path)
        assert out.extra["loras"] == [
            {
                "name": Path(lr["name"]).name,
                "strength": lr["strength"],
                "format": "kohya" if lr["name"] == str(kohya_lora) else "peft",
                "layers": 0 if lr["strength"] == 0 else 3,
            }
            for lr in loras
        ]
    assert runs["none"][0].shape == (4, 32, 32)
    assert np.array_equal(runs["none"][0], runs["zero"][0])
    assert not np.array_equal(runs["none"][0][:3], runs["one"][0][:3])
    # kohya at strength 1 is scaled by alpha / rank = 2 / 4: the same matrices as PEFT (scale 1) at 0.5
    assert np.array_equal(runs["one"][0], runs["peft"][0])
    assert json.loads(runs["one"][2]["GEOGEN_LORAS"])[0]["strength"] == 1.0
    assert runs["one"][2]["GEOGEN_MODEL"].endswith(f"+{kohya_lora.name}@1")


def test_diffusionsat_base_gets_each_windows_metadata(
    diffusionsat_dir, controlnet_dir, flair_crop, tmp_path
) -> None:
    from geogen.diffusion.options import DiffusionOptions
    from geogen.engines.sketch_controlnet.engine import ControlNetSketcher, SketchSettings
    from geogen.engines.sketch_controlnet.models import load_sketch_models
    from geogen.metadata import Metadata
    from geogen.store import resolve
    from tiles import Grid

    fp32 = DiffusionOptions(dtype="fp32")
    models = load_sketch_models(
        resolve(str(diffusionsat_dir)), resolve(str(controlnet_dir)), device="cpu", options=fp32
    )
    assert models.experimental and models.comps.num_metadata == 7
    seen: list[torch.Tensor] = []
    handle = models.comps.unet.register_forward_pre_hook(
        lambda _m, _a, kw: seen.append(kw["metadata"].clone()), with_kwargs=True
    )
    with rasterio.open(flair_crop) as ds:
        canvas = Grid(ds.width, ds.height, ds.transform, "EPSG:2154")
    codes = crop_codes(flair_crop)
    day = dt.date(2021, 6, 1)
    engine = ControlNetSketcher(models, SketchSettings(steps=1, scheduler="ddim"))
    try:
        result = engine.denoise_area(
            (32, 32),
            16,
            4,
            lambda w: codes[w.slices],
            seed=0,
            metadata=lambda t: Metadata.from_grid(canvas, day, window=t.scaled(2).window).normalize(),
        )
    finally:
        handle.remove()
    assert len(seen) == 9
    for window, meta in zip(result.windows, seen, strict=True):
        assert torch.equal(meta[0], torch.zeros(7))  # unconditional half: DiffusionSat's "unknown"
        np.testing.assert_allclose(meta[1].numpy(), window.metadata)
    lons = {round(float(w.metadata[0]), 4) for w in result.windows}
    assert len(lons) == 3  # three window columns, three centre longitudes

    fast = {"steps": 1, "options": {"guidance_scale": 1.0}}
    summer = _run(
        _job(diffusionsat_dir, controlnet_dir, flair_crop, tmp_path, name="june", date="2021-06-01", **fast),
        NullReporter(),
    )
    winter = _run(
        _job(diffusionsat_dir, controlnet_dir, flair_crop, tmp_path, name="jan", date="2021-01-15", **fast),
        NullReporter(),
    )
    assert summer.extra["experimental"] is True
    june, _, tags = _read(summer.outputs[0].path)
    assert json.loads(tags["GEOGEN_EXPERIMENTAL"]) is True and tags["GEOGEN_SCHEDULER"] == "ddim"
    assert not np.array_equal(june[:3], _read(winter.outputs[0].path)[0][:3])


def test_mismatched_controlnet_and_unknown_model_refused_before_work(
    sd_dir, wide_controlnet_dir, flair_crop, tmp_path
) -> None:
    with pytest.raises(ModelError, match="width 48"):
        _run(_job(sd_dir, wide_controlnet_dir, flair_crop, tmp_path), NullReporter())
    with pytest.raises(ModelError, match="no-such-model"):
        _run(_job(Path("no-such-model"), wide_controlnet_dir, flair_crop, tmp_path), NullReporter())
    assert not list(tmp_path.glob("*.tif"))


def test_memory_does_not_grow_with_area(sd_dir, controlnet_dir, test_data, tmp_path) -> None:
    """A 3 x 3-window area and a 4 x 3-window one hold the same buffers; only the latent canvas grows."""
    with rasterio.open(test_data / FLAIR_MASK) as src:

        def crop(name: str, window: RioWindow) -> Path:
            path = tmp_path / name
            profile = {
                **src.profile,
                "width": window.width,
                "height": window.height,
                "transform": src.window_transform(window),
                "blockysize": 16,
            }
            with rasterio.open(path, "w", **profile) as dst:
                dst.write(src.read(1, window=window), 1)
            return path

        square, tall = (
            crop("square.tif", RioWindow(416, 64, 64, 64)),
            crop("tall.tif", RioWindow(416, 64, 64, 88)),
        )

    def run(path: Path, name: str, traced: bool = True) -> tuple[int, dict[str, int], int]:
        job = _job(
            sd_dir,
            controlnet_dir,
            path,
            tmp_path / "out",
            name=name,
            steps=1,
            options={"condition_cache_mb": 0, "guidance_scale": 1.0},
        )
        if traced:
            tracemalloc.start()
        try:
            out = _run(job, NullReporter())
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return peak, out.extra["memory"], out.extra["unet_calls"]

    run(square, "warm-up", traced=False)  # one-time allocations (imports, caches) out of the comparison
    peak_square, mem_square, calls_square = run(square, "square")
    peak_tall, mem_tall, calls_tall = run(tall, "tall")
    assert (calls_square, calls_tall) == (9, 12)
    assert mem_tall["latent_canvas_bytes"] == mem_square["latent_canvas_bytes"] * 88 // 64
    assert mem_tall["condition_peak_bytes"] == mem_square["condition_peak_bytes"] <= 32 * 32 * 2
    assert mem_tall["mosaic_peak_bytes"] == mem_square["mosaic_peak_bytes"]
    assert peak_tall < 1.1 * peak_square  # numpy + Python heap: flat in the area's height
