"""The superres pipeline end to end on the bundled real Sentinel-2 sample (and a .SAFE zip built from it)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from pyproj import Transformer

from geogen.errors import EngineError, GeometryError, InputFileError, JobSpecError, OutputError
from geogen.job.runner import build_engine
from geogen.pipelines import run_task
from geogen.records import PipelineOutput
from geogen.sensors.mtf import degrade
from geogen.spec import SuperresJob, parse_job
from tests.eval.s2_data import S2_ORDER_L2A, band_file, make_safe

SAMPLE = (
    Path(__file__).resolve().parents[2] / "geogen" / "data" / "sample_s2" / "S2A_MSIL2A_20170613T101031_87_48"
)


class RecordingReporter:
    """A Reporter that keeps what it is told."""

    def __init__(self) -> None:
        self.progress_calls: list[tuple[int, int, str]] = []
        self.messages: list[tuple[str, str]] = []
        self.warnings: list[str] = []

    def progress(self, done: int, total: int, stage: str = "") -> None:
        self.progress_calls.append((done, total, stage))

    def log(self, message: str, level: str = "info") -> None:
        self.messages.append((level, message))

    def event(self, payload: dict[str, Any]) -> None:
        pass


def run_superres(job: SuperresJob, reporter: RecordingReporter) -> PipelineOutput:
    """The job's engine built from its options and run through its family's pipeline, as the runner does."""
    return run_task(job, build_engine(job), reporter)  # type: ignore[arg-type]


def _job(tmp_path: Path, name: str = "sharp", **fields: Any):
    return parse_job(
        {
            "task": "superres",
            "input": str(fields.pop("input", SAMPLE)),
            "output": {"dir": str(tmp_path), "name": name, **fields.pop("output", {})},
            **fields,
        }
    )


def _dn(band: str, folder: Path = SAMPLE) -> np.ndarray:
    with rasterio.open(band_file(folder, band)) as ds:
        return ds.read(1)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, RecordingReporter]:
    reporter = RecordingReporter()
    out = run_superres(_job(tmp_path_factory.mktemp("default")), reporter)
    return out, reporter


def test_default_run_writes_all_bands_on_the_10m_grid(default_run) -> None:
    out, reporter = default_run
    assert out.engine == "sharpen"
    (record,) = out.outputs
    assert record.kind == "derived" and record.synthetic is False
    assert record.bands == list(S2_ORDER_L2A)
    with rasterio.open(band_file(SAMPLE, "B02")) as ref, rasterio.open(record.path) as ds:
        assert (ds.count, ds.dtypes[0], ds.nodata) == (12, "uint16", 0)
        assert ds.crs == ref.crs and ds.transform == ref.transform and ds.shape == (120, 120)
        assert ds.descriptions == S2_ORDER_L2A
        tags = ds.tags()
        out_dn = ds.read()
    assert tags["GEOGEN_SYNTHETIC"] == "NO" and tags["GEOGEN_KIND"] == "derived"
    assert tags["GEOGEN_ENGINE"] == "sharpen" and tags["GEOGEN_SOURCE_GSD"].startswith("B01:60,B02:10")
    np.testing.assert_array_equal(out_dn[1], _dn("B02"))  # 10 m bands are copied exactly
    for i, band in ((4, "B05"), (9, "B09")):  # the sharpened bands degrade back close to the input
        factor = 120 // _dn(band).shape[0]
        back = degrade(out_dn[i].astype(np.float32) / 10000, factor)
        assert np.abs(back - _dn(band) / 10000).mean() < 0.0025
    assert reporter.progress_calls[-1] == (1, 1, "sharpen")


def test_bands_subset_any_spelling_in_s2_order(tmp_path: Path) -> None:
    out = run_superres(_job(tmp_path, bands=["B8A", "b2", "B12"]), RecordingReporter())
    with rasterio.open(out.outputs[0].path) as ds:
        assert ds.descriptions == ("B02", "B8A", "B12")
        np.testing.assert_array_equal(ds.read(1), _dn("B02"))


def test_aoi_in_lonlat_cuts_the_same_pixels_as_the_full_run(default_run, tmp_path: Path) -> None:
    full, _ = default_run
    to_lonlat = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    lon0, lat0 = to_lonlat.transform(404400 + 305, 5342400 - 795)
    lon1, lat1 = to_lonlat.transform(404400 + 795, 5342400 - 405)
    out = run_superres(
        _job(tmp_path, aoi={"bounds": [lon0, lat0, lon1, lat1], "crs": "EPSG:4326"}, options={"tile": 64}),
        RecordingReporter(),
    )
    with rasterio.open(out.outputs[0].path) as part, rasterio.open(full.outputs[0].path) as whole:
        col = round((part.transform.c - whole.transform.c) / 10)
        row = round((whole.transform.f - part.transform.f) / 10)
        assert part.transform.a == 10 and (part.transform.c - 404400) % 10 == 0
        assert 25 <= col <= 31 and 35 <= row <= 41 and part.width >= 49 and part.height >= 39
        cut = whole.read(window=((row, row + part.height), (col, col + part.width)))
        assert np.abs(part.read().astype(int) - cut).max() <= 1  # windows and tiles do not change pixels


def test_small_tiles_equal_one_tile(default_run, tmp_path: Path) -> None:
    full, _ = default_run
    reporter = RecordingReporter()
    out = run_superres(_job(tmp_path, options={"tile": 64}), reporter)
    with rasterio.open(out.outputs[0].path) as a, rasterio.open(full.outputs[0].path) as b:
        assert np.abs(a.read().astype(int) - b.read()).max() <= 1
    assert [c for c in reporter.progress_calls if c[2] == "sharpen"][-1] == (4, 4, "sharpen")


def test_nodata_in_the_input_stays_nodata(tmp_path: Path) -> None:
    scene = tmp_path / "scene"
    shutil.copytree(SAMPLE, scene)
    for path in scene.glob("*.tif"):
        with rasterio.open(path, "r+") as ds:
            dn = ds.read(1)
            f = 120 // dn.shape[0]
            dn[:, : 36 // f] = 0  # a swath edge 360 m wide in every band
            ds.write(dn, 1)
    out = run_superres(_job(tmp_path, input=scene), RecordingReporter())
    with rasterio.open(out.outputs[0].path) as ds:
        data = ds.read()
    assert (data[:, :, :36] == 0).all()
    assert (data[:, :, 36:] > 0).all()


def test_safe_zip_with_offset(tmp_path: Path) -> None:
    product = make_safe(SAMPLE, tmp_path, baseline="04.00", offset=-1000, as_zip=True)
    out = run_superres(_job(tmp_path, input=product, bands=["B04", "B11"]), RecordingReporter())
    with rasterio.open(out.outputs[0].path) as ds:
        np.testing.assert_array_equal(ds.read(1), _dn("B04"))  # offset applied: back to the original DN
        assert ds.tags()["GEOGEN_SOURCE_BASELINE"] == "04.00"


def test_output_crs_warps_at_the_end(tmp_path: Path) -> None:
    out = run_superres(_job(tmp_path, bands=["B05"], output={"crs": "EPSG:4326"}), RecordingReporter())
    (record,) = out.outputs
    assert record.crs == "EPSG:4326" and 13.7 < record.bounds[0] < 13.73
    with rasterio.open(record.path) as ds:
        assert ds.crs.to_epsg() == 4326 and ds.nodata == 0 and ds.descriptions == ("B05",)


@pytest.mark.parametrize("engine", ["bicubic", "sharpen-cnn"])
def test_other_engines(tmp_path: Path, engine: str) -> None:
    options = {"iterations": 5, "blocks": 1, "channels": 4} if engine == "sharpen-cnn" else {}
    out = run_superres(
        _job(tmp_path, engine=engine, bands=["B05", "B8A"], options=options), RecordingReporter()
    )
    assert out.engine == engine
    with rasterio.open(out.outputs[0].path) as ds:
        assert ds.tags()["GEOGEN_ENGINE"] == engine and ds.count == 2 and ds.read().min() > 0


@pytest.mark.parametrize(
    "fields, error, message",
    [
        (
            {"engine": "esrgan"},
            EngineError,
            "known: sharpen, sharpen-cnn, bicubic, diffusionsat-sr, diffusionsat-3d",
        ),
        ({"target_gsd": 5.0}, EngineError, "target_gsd 5 m is not supported"),
        ({"bands": ["B10"]}, JobSpecError, "B10 is not in the input"),
        ({"bands": ["NIR"]}, JobSpecError, "'NIR' is not a Sentinel-2 band"),
        (
            {"aoi": {"bounds": [500000, 5000000, 500100, 5000100], "crs": "EPSG:32633"}},
            GeometryError,
            "does not overlap the scene",
        ),
        ({"options": {"tile": 8}}, JobSpecError, "options.tile: input should be greater than or equal to 64"),
        ({"options": {"method": "glp"}, "engine": "bicubic"}, JobSpecError, "options.method: unknown option"),
        ({"input": "/nonexistent/scene"}, InputFileError, "not found"),
        ({"output": {"crs": "EPSG:999999"}}, GeometryError, "not a valid CRS"),
    ],
)
def test_errors(tmp_path: Path, fields: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        run_superres(_job(tmp_path, **fields), RecordingReporter())
    assert not (tmp_path / "sharp.tif").exists()


def test_existing_output_needs_overwrite(default_run, tmp_path: Path) -> None:
    (tmp_path / "sharp.tif").write_bytes(b"x")
    with pytest.raises(OutputError, match="exists"):
        run_superres(_job(tmp_path), RecordingReporter())
    run_superres(_job(tmp_path, bands=["B02"], output={"overwrite": True}), RecordingReporter())
    with rasterio.open(tmp_path / "sharp.tif") as ds:
        assert ds.count == 1


def test_float_reflectance_stack_on_one_grid(test_data: Path, tmp_path: Path) -> None:
    """Slovenian L1C: 13 bands already resampled to ~10 m, float reflectance: scaled, not sharpened."""
    path = test_data / "s2_l1c_slovenia_eolearn" / "S2L1C_slovenia_20150830_13band_refl.tif"
    out = run_superres(_job(tmp_path, input=path, bands=["B04", "B10"]), RecordingReporter())
    with rasterio.open(path) as src, rasterio.open(out.outputs[0].path) as ds:
        assert ds.transform == src.transform and ds.descriptions == ("B04", "B10")
        np.testing.assert_array_equal(ds.read(1), np.rint(src.read(4) * 10000).clip(1))


def test_several_dated_inputs_need_another_engine(tmp_path: Path) -> None:
    job = parse_job(
        {
            "task": "superres",
            "inputs": [{"path": str(SAMPLE)}, {"path": str(SAMPLE), "date": "2017-06-14"}],
            "output": {"dir": str(tmp_path), "name": "sharp"},
        }
    )
    with pytest.raises(
        JobSpecError, match=r"sharpens one stack: give `input`.*diffusionsat-sr and diffusionsat-3d"
    ):
        run_superres(job, RecordingReporter())
    assert not (tmp_path / "sharp.tif").exists()


def test_seed_is_tagged_only_for_an_engine_that_uses_one(tmp_path: Path) -> None:
    options = {"iterations": 2, "blocks": 1, "channels": 4}
    cnn = run_superres(
        _job(tmp_path, name="cnn", engine="sharpen-cnn", bands=["B05"], options=options, seed=7),
        RecordingReporter(),
    )
    plain = run_superres(_job(tmp_path, name="plain", bands=["B05"], seed=7), RecordingReporter())
    with rasterio.open(cnn.outputs[0].path) as a, rasterio.open(plain.outputs[0].path) as b:
        assert a.tags()["GEOGEN_SEED"] == "7" and "GEOGEN_SEED" not in b.tags()
