"""`geogen superres INPUT --date OTHER=... --engine diffusionsat-3d` through the real click group: one
synthetic image at INPUT's date on exactly the 4x finer grid of the area, and one-line errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import rasterio
from affine import Affine
from click.testing import CliRunner

from geogen.cli.main import cli

D = dt.date


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _bounds(aoi: tuple[tuple[float, ...], Affine]) -> str:
    return ",".join(repr(v) for v in aoi[0])


def test_superres_3d_writes_one_image_on_the_zoomed_area(
    tmp_path: Path,
    series: dict[dt.date, Path],
    sr_models: tuple[Path, Path],
    aoi: tuple[tuple[float, ...], Affine],
) -> None:
    base, cn = sr_models
    out = tmp_path / "sr" / "slo.tif"
    result = invoke(
        "superres",
        str(series[D(2015, 8, 20)]),
        "--date",
        f"{series[D(2015, 7, 11)]}=2015-07-11",
        "--date",
        f"{series[D(2015, 8, 30)]}=2015-08-30",
        "--engine",
        "diffusionsat-3d",
        "--model",
        str(cn),
        "-O",
        f"base_model={base}",
        "--target-gsd",
        "2.5",
        "--steps",
        "2",
        "--seed",
        "3",
        "--aoi",
        _bounds(aoi),
        "--aoi-crs",
        "EPSG:32633",
        "-o",
        str(out),
        "--progress",
        "none",
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.parent.iterdir()) == ["slo.result.json", "slo.tif"]
    with rasterio.open(out) as ds:
        assert ds.crs.to_epsg() == 32633 and (ds.width, ds.height) == (48, 48)
        assert ds.transform.almost_equals(aoi[1], precision=1e-6)  # the 12 x 12 input pixels, zoomed 4x
        assert ds.count == 4 and ds.descriptions == ("red", "green", "blue", "alpha")
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        tags = ds.tags()
    assert tags["GEOGEN_DATE"] == "2015-08-20" and tags["GEOGEN_SYNTHETIC"] == "YES"
    assert tags["GEOGEN_ENGINE"] == "diffusionsat-3d" and tags["GEOGEN_SEED"] == "3"
    assert json.loads(tags["GEOGEN_CONDITIONING_DATES"]) == ["2015-07-11", "2015-08-20", "2015-08-30"]
    record = json.loads((out.parent / "slo.result.json").read_text(encoding="utf-8"))
    assert [(o["date"], Path(o["path"]).name) for o in record["outputs"]] == [("2015-08-20", "slo.tif")]
    assert record["extra"]["scale"] == 4
    assert "SYNTHETIC" in result.output and "2015-08-20" in result.output


def test_superres_3d_errors_are_one_line(
    tmp_path: Path, series: dict[dt.date, Path], sr_models: tuple[Path, Path]
) -> None:
    base, cn = sr_models
    target, out = str(series[D(2015, 8, 20)]), str(tmp_path / "x.tif")
    common = ["superres", target, "--engine", "diffusionsat-3d", "-o", out, "--progress", "none"]
    models = ["--model", str(cn), "-O", f"base_model={base}"]
    for extra, message in [
        ([*models, "--scale", "1"], "options.scale: input should be greater than or equal to 2, got 1"),
        ([*models, "--target-gsd", "3"], "is not the input's"),
        (["--model", str(base)], "is a DiffusionSat single-image model"),
    ]:
        result = invoke(*common, *extra)
        assert result.exit_code == 2, result.output
        assert result.output.strip().startswith("geogen: error:") and message in result.output
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())
