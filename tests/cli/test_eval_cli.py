import json
import math

import numpy as np
import rasterio
from affine import Affine
from click.testing import CliRunner

from geogen.cli.main import cli


def write(path, data, transform, descriptions=None):
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype=data.dtype,
        crs="EPSG:32633",
        transform=transform,
    ) as ds:
        ds.write(data)
        for i, d in enumerate(descriptions or [], start=1):
            ds.set_band_description(i, d)


def test_compare_scores_against_hand_computed_psnr_and_bicubic(tmp_path):
    rng = np.random.default_rng(0)
    t = Affine(10, 0, 500000, 0, -10, 5000000)
    ref = rng.integers(1000, 3000, (3, 64, 64)).astype(np.uint16)
    noise = rng.choice([-20, 20], size=ref.shape).astype(np.int32)
    pred = (ref.astype(np.int32) + noise).astype(np.uint16)
    lr = ref.reshape(3, 32, 2, 32, 2).mean(axis=(2, 4)).round().astype(np.uint16)
    names = ["B04", "B03", "B02"]
    write(tmp_path / "ref.tif", ref, t, names)
    write(tmp_path / "pred.tif", pred[::-1].copy(), t, names[::-1])  # bands matched by name, not position
    write(tmp_path / "lr.tif", lr, Affine(20, 0, 500000, 0, -20, 5000000), names)
    r = CliRunner().invoke(
        cli,
        [
            "eval",
            "compare",
            str(tmp_path / "pred.tif"),
            str(tmp_path / "ref.tif"),
            "--lr",
            str(tmp_path / "lr.tif"),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["bands"] == names and d["data_range"] == 10000 and d["scale"] == 2
    assert math.isclose(d["prediction"]["psnr_db"], 20 * math.log10(10000 / 20), abs_tol=1e-6)
    assert math.isclose(d["prediction"]["rmse"], 20, abs_tol=1e-9)
    assert d["bicubic"]["psnr_db"] < d["prediction"]["psnr_db"]


def test_compare_refuses_different_grids(tmp_path):
    a = np.ones((1, 8, 8), np.uint8)
    write(tmp_path / "a.tif", a, Affine(1, 0, 0, 0, -1, 8))
    write(tmp_path / "b.tif", a, Affine(1, 0, 5, 0, -1, 8))
    r = CliRunner().invoke(cli, ["eval", "compare", str(tmp_path / "a.tif"), str(tmp_path / "b.tif")])
    assert r.exit_code == 2 and r.stderr.startswith("geogen: error:") and "same grid" in r.stderr


def test_wald_on_the_bundled_sample_beats_bicubic():
    from pathlib import Path

    sample = next((Path(__file__).resolve().parents[2] / "geogen" / "data" / "sample_s2").iterdir())
    r = CliRunner().invoke(cli, ["eval", "wald", str(sample), "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)["scores"]
    assert s["sharpen"]["psnr"] > s["bicubic"]["psnr"] + 5


def test_fidelity_of_a_real_image_against_itself_is_perfect(test_data):
    d = test_data / "flair1_aerial_masks"
    img, msk = str(d / "IMG_067998_RGB.tif"), str(d / "MSK_067998.tif")
    r = CliRunner().invoke(
        cli, ["eval", "fidelity", img, msk, "--ref-image", img, "--ref-mask", msk, "--json"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["distance"] < 1e-9
