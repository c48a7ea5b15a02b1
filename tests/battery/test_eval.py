"""Battery, cluster E (issue 10): `geogen eval` on hostile inputs and arguments (items 6 and 12).

Every CLI case is one row (name, setup, command arguments, expected exit code, message fragment) run in a
subprocess of ``python -m geogen.cli.main``: one line ``geogen: error: ...`` and no traceback for every mistake,
NaN/inf pixels left out of every score and counted. The in-process tests check that scores streamed in strips
equal the whole-image definitions and that memory does not follow the raster's size.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

REPO = Path(__file__).resolve().parents[2]
SAMPLE_S2 = REPO / "geogen" / "data" / "sample_s2" / "S2A_MSIL2A_20170613T101031_87_48"
FLAIR = REPO / "tests" / "data" / "flair1_aerial_masks"
T10 = Affine(10, 0, 500000, 0, -10, 5000000)
T20 = Affine(20, 0, 500000, 0, -20, 5000000)

Setup = Callable[[Path], None]


def write(path: Path, data: np.ndarray, transform: Affine = T10, **kw: object) -> None:
    profile = {
        "driver": "GTiff",
        "width": data.shape[2],
        "height": data.shape[1],
        "count": data.shape[0],
        "dtype": data.dtype,
        "crs": "EPSG:32633",
        "transform": transform,
        **kw,
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)


def _pair(tmp: Path, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    ref = rng.uniform(0.05, 0.4, (3, 64, 64)).astype(dtype)
    pred = (ref + rng.normal(0, 0.01, ref.shape)).astype(dtype)
    return pred, ref


def _ok_pair(tmp: Path) -> None:
    pred, ref = _pair(tmp)
    write(tmp / "pred.tif", pred)
    write(tmp / "ref.tif", ref)
    write(tmp / "lr.tif", ref.reshape(3, 32, 2, 32, 2).mean(axis=(2, 4)), T20)


def _nan_pixels(tmp: Path) -> None:
    pred, ref = _pair(tmp)
    pred[0, 10:20, 10:20] = np.nan  # 100 px
    ref[2, 40, 0:7] = np.inf  # 7 px
    write(tmp / "pred.tif", pred)
    write(tmp / "ref.tif", ref)


def _all_nan(tmp: Path) -> None:
    pred, ref = _pair(tmp)
    write(tmp / "pred.tif", np.full_like(pred, np.nan))
    write(tmp / "ref.tif", ref)


def _truncated(tmp: Path) -> None:
    _ok_pair(tmp)
    p = tmp / "pred.tif"
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _truncated_tiled(tmp: Path) -> None:
    """A tiled GeoTIFF cut in its pixel data (its header still opens)."""
    pred, ref = _pair(tmp)
    big_p = np.tile(pred, (1, 8, 8))
    write(tmp / "pred.tif", big_p, tiled=True, blockxsize=64, blockysize=64)
    write(tmp / "ref.tif", np.tile(ref, (1, 8, 8)))
    p = tmp / "pred.tif"
    with p.open("r+b") as f:
        f.truncate(p.stat().st_size * 2 // 3)


def _garbage(tmp: Path) -> None:
    _ok_pair(tmp)
    (tmp / "pred.tif").write_bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes())


def _zero_reference(tmp: Path) -> None:
    pred, _ = _pair(tmp)
    write(tmp / "pred.tif", pred)
    write(tmp / "ref.tif", np.zeros_like(pred))


def _consistency_nan(tmp: Path) -> None:
    _, ref = _pair(tmp)
    ref[:, 30:34, 30:34] = np.nan
    write(tmp / "sr.tif", ref)
    write(tmp / "lr.tif", np.nan_to_num(ref).reshape(3, 32, 2, 32, 2).mean(axis=(2, 4)), T20)


def _fidelity_nan(tmp: Path) -> None:
    with rasterio.open(FLAIR / "IMG_067998_RGB.tif") as ds:
        img, profile = ds.read().astype("float32"), ds.profile
    img[0, :4, :4] = np.nan
    with rasterio.open(tmp / "img.tif", "w", **(profile | {"dtype": "float32"})) as ds:
        ds.write(img)


def _nothing(tmp: Path) -> None:
    pass


P, R, L = "{tmp}/pred.tif", "{tmp}/ref.tif", "{tmp}/lr.tif"
CMP = ["eval", "compare", P, R]

CASES: list[tuple[str, Setup, list[str], int, str]] = [
    ("scores a clean pair with bicubic", _ok_pair, [*CMP, "--lr", L], 0, "bicubic"),
    (
        "--data-range 0 is an error",
        _ok_pair,
        [*CMP, "--data-range", "0"],
        2,
        "--data-range must be a positive",
    ),
    (
        "--data-range -1 is an error",
        _ok_pair,
        [*CMP, "--data-range", "-1"],
        2,
        "--data-range must be a positive",
    ),
    (
        "--data-range nan is an error",
        _ok_pair,
        [*CMP, "--data-range", "nan"],
        2,
        "--data-range must be a positive",
    ),
    (
        "--data-range inf is an error",
        _ok_pair,
        [*CMP, "--data-range", "inf"],
        2,
        "--data-range must be a positive",
    ),
    (
        "--data-range text is an error",
        _ok_pair,
        [*CMP, "--data-range", "ten"],
        2,
        "--data-range must be a positive",
    ),
    ("--data-range 1 is used", _ok_pair, [*CMP, "--data-range", "1", "--json"], 0, '"data_range": 1.0'),
    ("NaN/inf pixels are left out and counted", _nan_pixels, [*CMP, "--json"], 0, '"nonfinite_pixels": 107'),
    ("NaN/inf pixels: a warning on stderr", _nan_pixels, CMP, 0, "warning: 107 pixel(s) with NaN"),
    ("all NaN is an error", _all_nan, CMP, 2, "no pixel of"),
    ("truncated prediction", _truncated, CMP, 2, "pred.tif"),
    ("truncated tiled prediction", _truncated_tiled, CMP, 2, "pred.tif"),
    ("garbage prediction", _garbage, CMP, 2, "pred.tif"),
    ("missing reference", _ok_pair, ["eval", "compare", P, "{tmp}/nope.tif"], 2, "not found"),
    ("zero reference: ERGAS left out with a warning", _zero_reference, CMP, 0, "ERGAS left out"),
    (
        "consistency with NaN pixels",
        _consistency_nan,
        ["eval", "consistency", "{tmp}/sr.tif", L],
        0,
        "left out",
    ),
    (
        "consistency --data-range -1",
        _consistency_nan,
        ["eval", "consistency", "{tmp}/sr.tif", L, "--data-range", "-1"],
        2,
        "--data-range",
    ),
    ("consistency on a truncated file", _truncated, ["eval", "consistency", P, L], 2, "pred.tif"),
    (
        "fidelity with NaN colours",
        _fidelity_nan,
        [
            "eval",
            "fidelity",
            "{tmp}/img.tif",
            str(FLAIR / "MSK_067998.tif"),
            "--ref-image",
            str(FLAIR / "IMG_067998_RGB.tif"),
            "--ref-mask",
            str(FLAIR / "MSK_067998.tif"),
        ],
        2,
        "NaN",
    ),
    ("wald on the bundled sample", _nothing, ["eval", "wald", str(SAMPLE_S2)], 0, "bicubic"),
    ("wald on a folder that is not Sentinel-2", _ok_pair, ["eval", "wald", "{tmp}"], 2, ""),
]


def _cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run(
        [sys.executable, "-m", "geogen.cli.main", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        env=env,
    )


@pytest.mark.parametrize(("name", "setup", "args", "code", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_eval_case(
    tmp_path: Path, name: str, setup: Setup, args: list[str], code: int, fragment: str
) -> None:
    setup(tmp_path)
    r = _cli([a.replace("{tmp}", str(tmp_path)) for a in args])
    assert r.returncode == code, (r.stdout, r.stderr)
    assert fragment in r.stdout + r.stderr, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "Unable to allocate" not in r.stderr
    if code:
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("geogen: error: "), r.stderr
        assert "internal error" not in lines[0]


def test_nan_pixels_are_scored_as_if_masked(tmp_path: Path) -> None:
    """The scores with NaN/inf pixels equal the whole-image metrics over the other pixels."""
    from geogen.eval import metrics
    from geogen.eval.compare import compare_rasters

    _nan_pixels(tmp_path)
    d = compare_rasters(tmp_path / "pred.tif", tmp_path / "ref.tif", data_range=1.0)
    with rasterio.open(tmp_path / "pred.tif") as a, rasterio.open(tmp_path / "ref.tif") as b:
        p, r = a.read().astype(np.float64), b.read().astype(np.float64)
    valid = np.isfinite(p).all(axis=0) & np.isfinite(r).all(axis=0)
    assert d["pixels"] == int(valid.sum()) == 64 * 64 - 107
    s = d["prediction"]
    assert all(math.isfinite(v) for v in (s["psnr_db"], s["rmse"], s["sam_deg"], s["ergas"]))
    assert s["rmse"] == pytest.approx(metrics.rmse(p, r, valid), rel=1e-9)
    assert s["psnr_db"] == pytest.approx(metrics.psnr(p, r, data_range=1.0, valid=valid), rel=1e-9)
    assert s["sam_deg"] == pytest.approx(metrics.sam(p, r, valid), rel=1e-9)
    assert s["ergas"] == pytest.approx(metrics.ergas(p, r, scale=1, valid=valid), rel=1e-9)


def _stripped_scores(tmp: Path, rows: int) -> tuple[dict, int, np.ndarray, np.ndarray, np.ndarray]:
    from geogen.eval import compare

    rng = np.random.default_rng(0)
    ref = rng.integers(1000, 3000, (3, rows, 600)).astype(np.uint16)
    pred = (ref + rng.integers(-50, 50, ref.shape)).astype(np.uint16)
    lr = ref.reshape(3, rows // 2, 2, 300, 2).mean(axis=(2, 4)).astype(np.uint16)
    write(tmp / f"r{rows}.tif", ref, tiled=True)
    write(tmp / f"p{rows}.tif", pred, tiled=True)
    write(tmp / f"l{rows}.tif", lr, T20)
    tracemalloc.start()
    d = compare.compare_rasters(tmp / f"p{rows}.tif", tmp / f"r{rows}.tif", lr_path=tmp / f"l{rows}.tif")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return d, peak, pred, ref, lr


def test_strips_equal_the_whole_image_and_memory_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streamed in small strips, every score equals the in-memory definition; 4x the rows, the same peak."""
    from geogen.eval import compare, metrics
    from geogen.sensors.mtf import upsample_cubic

    monkeypatch.setattr(compare, "STRIP_BYTES", 600 * 3 * 4 * 64)  # 64-row strips
    _, small_peak, *_ = _stripped_scores(tmp_path, 300)
    d, peak, pred, ref, lr = _stripped_scores(tmp_path, 1200)
    assert peak < 1.3 * small_peak, f"peak {peak / 2**20:.1f} MiB vs {small_peak / 2**20:.1f} MiB"
    assert peak < ref.size * 8  # below one whole-raster float64 copy
    P, R = pred.astype(float), ref.astype(float)
    s = d["prediction"]
    assert s["psnr_db"] == pytest.approx(metrics.psnr(P, R, data_range=1e4), rel=1e-9)
    assert s["ssim"] == pytest.approx(metrics.ssim(P, R, data_range=1e4), rel=1e-9)
    assert s["sam_deg"] == pytest.approx(metrics.sam(P, R), rel=1e-9)
    assert s["ergas"] == pytest.approx(metrics.ergas(P, R, scale=2), rel=1e-9)
    B = upsample_cubic(lr, 2).astype(float)
    assert d["bicubic"]["ssim"] == pytest.approx(metrics.ssim(B, R, data_range=1e4), rel=1e-6)
    assert d["bicubic"]["psnr_db"] == pytest.approx(metrics.psnr(B, R, data_range=1e4), rel=1e-6)


def test_data_range_is_checked_in_the_api(tmp_path: Path) -> None:
    from geogen.errors import JobSpecError
    from geogen.eval.compare import compare_rasters

    _ok_pair(tmp_path)
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(JobSpecError, match="data_range"):
            compare_rasters(tmp_path / "pred.tif", tmp_path / "ref.tif", data_range=bad)


def test_json_output_is_complete(tmp_path: Path) -> None:
    _nan_pixels(tmp_path)
    r = _cli(["eval", "compare", str(tmp_path / "pred.tif"), str(tmp_path / "ref.tif"), "--json"])
    d = json.loads(r.stdout)
    assert d["nonfinite_pixels"] == 107 and d["warnings"] and d["pixels"] == 64 * 64 - 107
