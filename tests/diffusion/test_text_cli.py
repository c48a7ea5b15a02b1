"""`geogen text` through the real click group: a GeoTIFF from the tiny model, and one-line user errors."""

from __future__ import annotations

import json
from pathlib import Path

import rasterio
from click.testing import CliRunner

from geogen.cli.main import cli

AOI = "14.5,46.04,14.5045,46.0428"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_text_command_writes_the_scene(tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "scene.tif"
    result = invoke(
        "text",
        "a fmow satellite image of a river",
        "--aoi",
        AOI,
        "--gsd",
        "5",
        "--date",
        "2021-07-30",
        "--cloud-cover",
        "0.1",
        "--model",
        str(tiny_model_dir),
        "--steps",
        "2",
        "--guidance",
        "2",
        "--seed",
        "9",
        "--device",
        "cpu",
        "-o",
        str(out),
        "--progress",
        "jsonl",
    )
    assert result.exit_code == 0, result.output
    last = json.loads(result.output.strip().splitlines()[-1])
    assert last["type"] == "result" and last["result"]["engine"] == "diffusionsat"
    with rasterio.open(out) as ds:
        assert ds.crs.to_epsg() == 32633 and ds.res == (5.0, 5.0) and ds.count == 4
        tags = ds.tags()
    assert (
        tags["GEOGEN_SEED"] == "9"
        and tags["GEOGEN_DATE"] == "2021-07-30"
        and tags["GEOGEN_CLOUD_COVER"] == "0.1"
    )
    assert (tmp_path / "scene.result.json").is_file()


def test_user_errors_are_one_line(tmp_path: Path, tiny_model_dir: Path) -> None:
    out = str(tmp_path / "x.tif")
    no_aoi = invoke("text", "a farm", "--gsd", "5", "--model", str(tiny_model_dir), "-o", out)
    assert no_aoi.exit_code == 2 and "area of interest is needed" in no_aoi.output
    bad_gsd = invoke("text", "a farm", "--aoi", AOI, "--gsd", "0", "--model", str(tiny_model_dir), "-o", out)
    assert bad_gsd.exit_code == 2 and "geogen: error: invalid job: gsd" in bad_gsd.output
    unknown = invoke("text", "a farm", "--aoi", AOI, "--gsd", "5", "--model", "nope", "-o", out)
    assert unknown.exit_code == 2 and "no model named 'nope'" in unknown.output
    assert "Traceback" not in unknown.output
    too_big = invoke(
        "text",
        "a farm",
        "--aoi",
        AOI,
        "--gsd",
        "0.5",
        "--model",
        str(tiny_model_dir),
        "--max-tiles",
        "10",
        "-o",
        out,
    )
    assert too_big.exit_code == 2 and "latent windows" in too_big.output and "roughly" in too_big.output
    assert not Path(out).exists()


def test_engine_options_reach_the_engine(tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "x.tif"
    args = ["text", "a farm", "--aoi", AOI, "--gsd", "5", "--model", str(tiny_model_dir), "-o", str(out)]
    bad = invoke(*args, "-O", "compile=maybe", "--progress", "none")
    assert (
        bad.exit_code == 2 and "options.compile: input should be a valid boolean, got 'maybe'" in bad.output
    )
    malformed = invoke(*args, "-O", "compile")
    assert malformed.exit_code == 2 and "expected KEY=VALUE, got 'compile'" in malformed.output
    flag_wins = invoke(*args, "-O", "window_batch_size=2", "--window-batch-size", "0", "--progress", "none")
    assert flag_wins.exit_code == 2
    assert "options.window_batch_size: input should be greater than or equal to 1, got 0" in flag_wins.output
    assert not out.exists()
