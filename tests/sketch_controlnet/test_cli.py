"""`geogen sketch --engine controlnet` through the real CLI: flags reach the engine, output lands on the grid."""

from __future__ import annotations

import numpy as np
import rasterio
from click.testing import CliRunner

from geogen.cli.main import cli


def test_cli_controlnet_with_lora(sd_dir, controlnet_dir, kohya_lora, flair_crop, tmp_path) -> None:
    base = ["sketch", str(flair_crop), "--engine", "controlnet", "--model", str(sd_dir), "--controlnet",
            str(controlnet_dir), "--steps", "2", "--seed", "3", "--place", "Lannion", "--progress", "none"]
    plain = CliRunner().invoke(cli, [*base, "-o", str(tmp_path / "plain.tif")], catch_exceptions=False)
    styled = CliRunner().invoke(cli, [*base, "--lora", f"{kohya_lora}:1.0", "-o", str(tmp_path / "lora.tif")],
                                catch_exceptions=False)
    assert plain.exit_code == 0 and styled.exit_code == 0, plain.output + styled.output
    with rasterio.open(flair_crop) as src, rasterio.open(tmp_path / "plain.tif") as a, \
            rasterio.open(tmp_path / "lora.tif") as b:
        assert a.transform == src.transform and a.crs == src.crs and a.shape == src.shape
        assert a.tags()["GEOGEN_ENGINE"] == "controlnet" and "Lannion" in a.tags()["GEOGEN_PROMPT"]
        assert not np.array_equal(a.read(), b.read())


def test_cli_controlnet_needs_a_model(flair_crop, tmp_path) -> None:
    r = CliRunner().invoke(cli, ["sketch", str(flair_crop), "--engine", "controlnet", "-o", str(tmp_path / "x.tif")])
    assert r.exit_code == 2 and r.stderr.startswith("geogen: error: the controlnet engine needs a model")
