"""The engine contract works from outside the package: a toy sketch engine defined here, registered with
``register_engine``, runs through the CLI, the job runner and the Python API without any other file knowing it.

The toy paints every class its legend colour (``ClassWindow.colours``), plus, with ``noise`` > 0, a per-window
noise drawn from the window's own generator; the generic ``ClassRenderEngine`` pipeline does the rest (reading
the class raster, windows, blending, alpha, tags, result record).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from pydantic import Field
from rasterio.crs import CRS as RioCRS

from geogen.engines.base import ClassRenderEngine, ClassWindow, Engine, EngineOptions
from geogen.engines.registry import get_engine, list_engines, register_engine, unregister_engine
from geogen.errors import EngineError, OptionsError
from geogen.job.runner import run_job
from geogen.landcover.vocab import FLAIR19
from geogen.progress import NullReporter
from geogen.spec import parse_job

CRS = "EPSG:2154"
TRANSFORM = Affine(0.5, 0.0, 843000.0, 0.0, -0.5, 6520000.0)
SHAPE = (150, 200)  # several 64 px windows with 16 px overlaps, the last ones shifted inwards
NODATA = 255


class FlatToyOptions(EngineOptions):
    """The toy's one option."""

    noise: int = Field(default=0, ge=0, description="amplitude of the per-window noise added to each colour")


class FlatToy(ClassRenderEngine):
    """Each class in its legend colour (+ seeded noise): a sketch engine in a dozen lines."""

    task: ClassVar[str] = "sketch"
    name: ClassVar[str] = "flat-toy"
    description: ClassVar[str] = "legend colours, flat (a test engine)"
    options_model: ClassVar[type[EngineOptions]] = FlatToyOptions
    window: ClassVar[int] = 64
    overlap: ClassVar[int] = 16
    options: FlatToyOptions

    def render(self, window: ClassWindow) -> np.ndarray:
        lut = np.zeros((256, 3), np.int16)
        for code, colour in window.colours.items():
            lut[code] = colour
        rgb = np.moveaxis(lut[window.codes], -1, 0)
        n = self.options.noise
        if n:
            rgb = rgb + window.rng().integers(-n, n + 1, size=rgb.shape)
        return np.clip(rgb, 0, 255).astype(np.uint8)


class NoFamily(Engine):
    """Declares a sketch engine but derives from no family: no pipeline can drive it."""

    task: ClassVar[str] = "sketch"
    name: ClassVar[str] = "no-family-toy"


@pytest.fixture
def flat_toy() -> Iterator[type[FlatToy]]:
    register_engine(FlatToy)
    yield FlatToy
    unregister_engine(FlatToy)


@pytest.fixture(scope="module")
def class_raster(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A FLAIR-coded class raster: bands of four classes, a nodata corner and a nodata hole."""
    rows, cols = SHAPE
    codes = np.zeros(SHAPE, np.uint8)
    codes[:, : cols // 4] = 1  # building
    codes[:, cols // 4 : cols // 2] = 6  # water
    codes[:, cols // 2 :] = 7  # coniferous
    codes[rows // 2 :, 3 * cols // 4 :] = 10  # herbaceous vegetation
    codes[:40, :50] = NODATA
    codes[90:110, 60:140] = NODATA
    path = tmp_path_factory.mktemp("toy") / "classes.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=cols,
        height=rows,
        count=1,
        dtype="uint8",
        nodata=NODATA,
        crs=CRS,
        transform=TRANSFORM,
    ) as ds:
        ds.write(codes, 1)
    return path, codes


def legend_image(codes: np.ndarray) -> np.ndarray:
    """(3, h, w) legend colours of ``codes`` (black where there is no class)."""
    return np.moveaxis(FLAIR19.palette()[codes], -1, 0)


def job_dict(landcover: Path, out: Path, **fields: Any) -> dict[str, Any]:
    return {
        "task": "sketch",
        "landcover": str(landcover),
        "engine": "flat-toy",
        "output": {"dir": str(out), "name": "toy"},
        **fields,
    }


def check_output(tif: Path, codes: np.ndarray, *, noise: int) -> np.ndarray:
    """The output is on the class raster's grid, transparent exactly outside the drawn classes, in their legend
    colours (within ``noise``), and tagged as a synthetic image of the toy engine; returns its RGB."""
    drawn = codes != NODATA
    with rasterio.open(tif) as ds:
        assert ds.crs == RioCRS.from_string(CRS) and ds.transform == TRANSFORM
        assert ds.shape == SHAPE and ds.count == 4 and ds.dtypes[0] == "uint8"
        rgb, alpha, tags = ds.read([1, 2, 3]), ds.read(4), ds.tags()
    np.testing.assert_array_equal(alpha, np.where(drawn, 255, 0))
    legend = legend_image(np.where(drawn, codes, 0))
    diff = np.abs(rgb.astype(int) - legend)[:, drawn]
    if noise:
        assert diff.max() <= noise and diff.any()
    else:
        np.testing.assert_array_equal(rgb[:, drawn], legend[:, drawn])
    assert tags["GEOGEN_SYNTHETIC"] == "YES" and tags["GEOGEN_ENGINE"] == "flat-toy"
    assert tags["GEOGEN_TASK"] == "sketch" and tags["GEOGEN_SEED"] == "7"
    assert json.loads(tags["GEOGEN_OPTIONS"]) == {"noise": noise}
    return rgb


def test_the_toy_is_listed_only_while_registered(flat_toy) -> None:
    assert get_engine("sketch", "flat-toy") is FlatToy
    assert FlatToy in list_engines("sketch") and get_engine("sketch").name == "exemplar"
    info = FlatToy.info()
    assert info["options"] == ["noise"] and not info["needs_weights"] and not info["default"]
    unregister_engine(FlatToy)
    with pytest.raises(EngineError, match="unknown engine 'flat-toy' for task 'sketch'"):
        get_engine("sketch", "flat-toy")
    register_engine(FlatToy)  # the fixture unregisters it again


def test_toy_through_the_cli(flat_toy, class_raster, tmp_path) -> None:
    from geogen.cli.main import cli

    path, codes = class_raster
    out = tmp_path / "cli.tif"
    args = ["sketch", str(path), "-o", str(out), "--engine", "flat-toy", "--seed", "7", "--progress", "none"]
    r = CliRunner().invoke(cli, [*args, "-O", "noise=0"])
    assert r.exit_code == 0, r.output
    check_output(out, codes, noise=0)
    result = json.loads((tmp_path / "cli.result.json").read_text())
    assert result["engine"] == "flat-toy" and result["task"] == "sketch"
    assert result["outputs"][0]["path"] == str(out) and result["outputs"][0]["synthetic"]

    noisy = tmp_path / "noisy.tif"
    r = CliRunner().invoke(cli, [*args[:3], str(noisy), *args[4:], "-O", "noise=3"])
    assert r.exit_code == 0, r.output
    check_output(noisy, codes, noise=3)

    r = CliRunner().invoke(cli, [*args[:3], str(tmp_path / "bad.tif"), *args[4:], "-O", "nosie=3"])
    assert r.exit_code == 2
    assert "options.nosie: unknown option; valid options of sketch engine 'flat-toy': noise" in r.stderr
    assert not (tmp_path / "bad.tif").exists()


def test_toy_through_the_job_runner(flat_toy, class_raster, tmp_path) -> None:
    path, codes = class_raster
    job = parse_job(job_dict(path, tmp_path / "a", seed=7, options={"noise": 3}))
    result, result_path = run_job(job, NullReporter())
    assert result.engine == "flat-toy" and json.loads(result_path.read_text())["engine"] == "flat-toy"
    rgb = check_output(Path(result.outputs[0].path), codes, noise=3)
    assert result.outputs[0].extra["classes"] == [FLAIR19.name_of(c) for c in (1, 6, 7, 10)]

    again, _ = run_job(
        parse_job(job_dict(path, tmp_path / "b", seed=7, options={"noise": 3})), NullReporter()
    )
    other, _ = run_job(
        parse_job(job_dict(path, tmp_path / "c", seed=8, options={"noise": 3})), NullReporter()
    )
    with rasterio.open(again.outputs[0].path) as a, rasterio.open(other.outputs[0].path) as b:
        np.testing.assert_array_equal(a.read([1, 2, 3]), rgb)  # same seed, same pixels
        assert not np.array_equal(b.read([1, 2, 3]), rgb)  # the windows' noise follows the seed

    with pytest.raises(OptionsError) as err:  # refused when the job is read, or at the latest when it runs
        run_job(
            parse_job(job_dict(path, tmp_path / "d", options={"noise": -1, "colour": "red"})), NullReporter()
        )
    message = str(err.value)
    assert "options.noise: input should be greater than or equal to 0, got -1" in message
    assert "options.colour: unknown option" in message
    assert "valid options of sketch engine 'flat-toy': noise" in message
    assert not (tmp_path / "d" / "toy.tif").exists()


def test_toy_through_the_python_api(flat_toy, class_raster, tmp_path) -> None:
    import geogen

    path, codes = class_raster
    out = tmp_path / "api.tif"
    result = geogen.sketch(path, out, engine="flat-toy", options={"noise": 0}, seed=7)
    assert result.engine == "flat-toy"
    assert Path(result.outputs[0].path) == out
    check_output(out, codes, noise=0)
    with pytest.raises(OptionsError, match="valid options of sketch engine 'flat-toy': noise"):
        geogen.sketch(path, tmp_path / "bad.tif", engine="flat-toy", options={"amplitude": 2})


def test_an_engine_of_no_family_is_refused(class_raster, tmp_path) -> None:
    path, _ = class_raster
    job = {
        "task": "sketch",
        "landcover": str(path),
        "engine": "no-family-toy",
        "output": {"dir": str(tmp_path)},
    }
    try:
        with pytest.raises(EngineError, match=r"'no-family-toy' .*derives from no engine family"):
            register_engine(NoFamily)  # refused here, or at the latest when a job tries to run it
            run_job(parse_job(job), NullReporter())
    finally:
        unregister_engine(NoFamily)
    assert not list(tmp_path.glob("*.tif"))
