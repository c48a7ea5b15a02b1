"""`geogen superres --engine diffusionsat-sr` and `geogen eval consistency` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import rasterio
from click.testing import CliRunner

from geogen.cli.main import cli
from geogen.io.raster import read_grid
from geogen.io.sentinel2 import open_s2


def test_superres_diffusionsat_multi_date_and_consistency_eval(sr_models, slovenia_dates, tmp_path) -> None:
    base, cn = sr_models
    clear = [p for p in slovenia_dates if "20150711" in p.name or "20150830" in p.name]
    aoi = "465300,5079500,465440,5079620"
    out = tmp_path / "sr.tif"
    r = CliRunner().invoke(
        cli,
        [
            "superres",
            str(clear[0]),
            "--date",
            f"{clear[1]}=2015-08-30",
            "--engine",
            "diffusionsat-sr",
            "--model",
            str(cn),
            "--scale",
            "4",
            "--steps",
            "2",
            "--aoi",
            aoi,
            "--aoi-crs",
            "EPSG:32633",
            "-O",
            f"base_model={json.dumps(str(base))}",
            "-O",
            "window=32",
            "-O",
            "overlap=8",
            "-o",
            str(out),
            "--progress",
            "none",
        ],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    record = json.loads((tmp_path / "sr.result.json").read_text())
    assert record["engine"] == "diffusionsat-sr"  # the name the GeoTIFF tags carry too
    assert [o["date"] for o in record["outputs"]] == ["2015-07-11", "2015-08-30"]
    first = Path(record["outputs"][0]["path"])
    with open_s2(clear[0]) as stack:
        expected = stack.grid[stack.grid.window((465300.0, 5079500.0, 465440.0, 5079620.0))].zoom(4)
    assert read_grid(first) == expected
    with rasterio.open(first) as ds:
        assert ds.tags()["GEOGEN_SYNTHETIC"] == "YES" and ds.tags()["GEOGEN_DATE"] == "2015-07-11"

    e = CliRunner().invoke(cli, ["eval", "consistency", str(first), str(clear[0]), "--json"])
    assert e.exit_code == 0, e.output
    scores = json.loads(e.stdout)
    assert scores["scale"] == 4 and scores["reflectance"] < 0.02, scores
