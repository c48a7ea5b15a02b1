"""`geogen sketch --engine controlnet` through the real CLI: flags reach the engine, output lands on the grid."""

from __future__ import annotations

import numpy as np
import rasterio
from click.testing import CliRunner

from geogen.cli.main import cli


def test_cli_controlnet_with_lora(sd_dir, controlnet_dir, kohya_lora, flair_crop, tmp_path) -> None:
    base = [
        "sketch",
        str(flair_crop),
        "--engine",
        "controlnet",
        "--model",
        str(sd_dir),
        "--controlnet",
        str(controlnet_dir),
        "--steps",
        "2",
        "--seed",
        "3",
        "--place",
        "Lannion",
        "--progress",
        "none",
    ]
    plain = CliRunner().invoke(cli, [*base, "-o", str(tmp_path / "plain.tif")], catch_exceptions=False)
    styled = CliRunner().invoke(
        cli, [*base, "--lora", f"{kohya_lora}:1.0", "-o", str(tmp_path / "lora.tif")], catch_exceptions=False
    )
    assert plain.exit_code == 0 and styled.exit_code == 0, plain.output + styled.output
    with (
        rasterio.open(flair_crop) as src,
        rasterio.open(tmp_path / "plain.tif") as a,
        rasterio.open(tmp_path / "lora.tif") as b,
    ):
        assert a.transform == src.transform and a.crs == src.crs and a.shape == src.shape
        assert a.tags()["GEOGEN_ENGINE"] == "controlnet" and "Lannion" in a.tags()["GEOGEN_PROMPT"]
        assert not np.array_equal(a.read(), b.read())


def test_cli_controlnet_needs_a_model_and_a_controlnet(flair_crop, tmp_path) -> None:
    base = ["sketch", str(flair_crop), "--engine", "controlnet", "-o", str(tmp_path / "x.tif")]
    r = CliRunner().invoke(cli, [*base, "--controlnet", "seg2sat"])
    assert r.exit_code == 2 and r.stderr.startswith("geogen: error: the controlnet engine needs a model")
    r = CliRunner().invoke(cli, base)  # the options are checked first, when the job is read
    assert r.exit_code == 2 and r.stderr.startswith(
        "geogen: error: options.controlnet: the controlnet engine needs a ControlNet: pass --controlnet NAME_OR_PATH"
    )
    assert not list(tmp_path.iterdir())


def test_osm_condition_style_renders_carto_fills(sd_dir, controlnet_dir, flair_crop, tmp_path) -> None:
    """The rendering hook: the same sketch with OSM-Carto fills conditions the ControlNet differently."""
    from geogen.landcover import FLAIR19
    from geogen.landcover.renderers import OSM_CARTO_FLAIR19, condition_table

    table = condition_table("osm", FLAIR19)
    assert tuple(table[FLAIR19.code("water")]) == (0xAA, 0xD3, 0xDF)
    assert all(tuple(table[FLAIR19.code(n)]) != (0, 0, 0) for n in OSM_CARTO_FLAIR19)
    base = [
        "sketch",
        str(flair_crop),
        "--engine",
        "controlnet",
        "--model",
        str(sd_dir),
        "--controlnet",
        str(controlnet_dir),
        "--steps",
        "2",
        "--progress",
        "none",
    ]
    a = CliRunner().invoke(cli, [*base, "-o", str(tmp_path / "legend.tif")], catch_exceptions=False)
    b = CliRunner().invoke(
        cli, [*base, "--condition-style", "osm", "-o", str(tmp_path / "osm.tif")], catch_exceptions=False
    )
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    with rasterio.open(tmp_path / "legend.tif") as x, rasterio.open(tmp_path / "osm.tif") as y:
        assert not np.array_equal(x.read(), y.read())
        assert y.tags()["GEOGEN_CONDITION_STYLE"] == "osm"


def test_cli_engine_options_reach_the_engine(sd_dir, controlnet_dir, flair_crop, tmp_path) -> None:
    r = CliRunner().invoke(
        cli,
        [
            "sketch",
            str(flair_crop),
            "--engine",
            "controlnet",
            "--model",
            str(sd_dir),
            "--controlnet",
            str(controlnet_dir),
            "-O",
            "compile=sometimes",
            "-o",
            str(tmp_path / "x.tif"),
            "--progress",
            "none",
        ],
    )
    assert (
        r.exit_code == 2 and "options.compile: input should be a valid boolean, got 'sometimes'" in r.stderr
    )
