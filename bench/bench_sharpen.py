"""Benchmark of the Sentinel-2 sharpening engines: Wald scores on real scenes and one-thread throughput.

Run from the repository root (takes about 10 minutes on 2 cores, mostly the CNN):
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_sharpen.py [--shared-data ../shared/data] [--skip-cnn]
Writes bench/results/sharpen.json and bench/results/sharpen.md.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/torch load their thread pools

import argparse
import datetime as dt
import functools
import json
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import torch
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from geogen.engines.sharpen.contract import build_sharpener  # noqa: E402
from geogen.eval.wald import wald  # noqa: E402
from geogen.io.sentinel2 import S2Stack, open_s2  # noqa: E402
from geogen.sensors.mtf import degrade  # noqa: E402
from geogen.sensors.sentinel2 import REFLECTANCE_SCALE  # noqa: E402
from tiles import Grid  # noqa: E402
from tiles.plan import plan  # noqa: E402

DSEN2_BANDS = {
    "10m": ("B04", "B03", "B02", "B08"),
    "20m": ("B05", "B06", "B07", "B8A", "B11", "B12"),
    "60m": ("B01", "B09"),
}
VARIANTS = {  # name -> (engine, options)
    "bicubic": ("bicubic", {}),
    "glp (no consistency)": ("sharpen", {"method": "glp", "consistency": False}),
    "hpm (no consistency)": ("sharpen", {"consistency": False}),
    "hpm + exact consistency": ("sharpen", {"consistency_reg": 0.0}),
    "sharpen (default: hpm + soft consistency)": ("sharpen", {}),
}
CNN = ("sharpen-cnn", {})
ROBUSTNESS_GAINS = (
    0.2,
    0.3,
    0.4,
    0.45,
    None,
)  # true MTF gain at Nyquist used to degrade; None = averaging only
TILE = 1024


def dsen2_stack(shared: Path) -> S2Stack:
    arrays = {}
    for res, bands in DSEN2_BANDS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(next((shared / "dsen2_s2_l1c_native").glob(f"*_{res}.tif"))) as ds:
                data = ds.read().astype(np.float32) / REFLECTANCE_SCALE
        arrays.update({b: data[i] for i, b in enumerate(bands)})
    grid = Grid(600, 600, Affine(10, 0, 300000, 0, -10, 5400000), "EPSG:32633")  # nominal: the crop has none
    return S2Stack.from_arrays(arrays, grid, source="DSen2 T33UUB crop")


def scenes(shared: Path) -> dict[str, S2Stack]:
    out = {"DSen2 T33UUB 2017-05-27 (L1C, 600 px)": dsen2_stack(shared)}
    for patch in sorted((shared / "bigearthnet_s2_l2a").iterdir()):
        if patch.is_dir():
            out[f"BigEarthNet {patch.name} (L2A, 120 px)"] = open_s2(patch)
    return out


def scores_row(report: Any, name: str) -> dict[str, Any]:
    s = report.scores[name]
    return {
        "psnr_db": round(s.psnr, 3),
        "ssim": round(s.ssim, 5),
        "sam_deg": None if s.sam is None else round(s.sam, 4),
        "ergas": round(s.ergas, 4),
        "rmse_dn": round(s.rmse * REFLECTANCE_SCALE, 2),
        "seconds": round(s.seconds, 3),
        "per_band_psnr_db": {b: round(v["psnr"], 3) for b, v in s.per_band.items()},
    }


def run_wald(stack: S2Stack, factor: int, with_cnn: bool) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    report = None
    variants = dict(VARIANTS)
    if with_cnn:
        variants["sharpen-cnn (default)"] = CNN
    for label, (engine, options) in variants.items():
        report = wald(stack, engine, factor=factor, options={engine: options})
        rows[label] = scores_row(report, engine)
    assert report is not None
    return {
        "factor": factor,
        "bands": report.bands,
        "guides": report.guides,
        "degraded_fine_shape": list(report.fine_shape),
        "data_range": report.data_range,
        "engines": rows,
    }


def robustness(stacks: dict[str, S2Stack]) -> dict[str, Any]:
    """Mean 20 m PSNR over the scenes when the real blur differs from the engines' model (gain 0.3)."""
    table: dict[str, Any] = {}
    for gain in ROBUSTNESS_GAINS:
        key = "averaging only" if gain is None else f"gain {gain}"
        table[key] = {}
        simulate = functools.partial(degrade, gain=gain)
        for label, (engine, options) in VARIANTS.items():
            psnrs = [
                wald(s, engine, options={engine: options}, degradation=simulate).scores[engine].psnr
                for s in stacks.values()
            ]
            table[key][label] = round(float(np.mean(psnrs)), 3)
    return table


def throughput(stack: S2Stack, engine_name: str, options: dict[str, Any], repeats: int = 1) -> dict[str, Any]:
    """Seconds to fit and sharpen every band of ``stack`` to its finest grid (arrays in memory, no file I/O)."""
    bands = list(stack.bands)
    best = float("inf")
    fit_s = 0.0
    for _ in range(repeats):
        engine = build_sharpener(engine_name, options)
        t0 = time.perf_counter()
        engine.fit(stack, bands)
        t1 = time.perf_counter()
        for t in plan(stack.grid.shape, TILE, 0):
            engine.sharpen(stack, t.window, bands)
        t2 = time.perf_counter()
        if t2 - t0 < best:
            best, fit_s = t2 - t0, t1 - t0
    mpx = stack.grid.width * stack.grid.height / 1e6
    return {
        "engine": engine_name,
        "options": options,
        "output_px": list(stack.grid.shape),
        "bands": len(bands),
        "tile": TILE,
        "seconds": round(best, 3),
        "fit_seconds": round(fit_s, 3),
        "mpx_per_s": round(mpx / best, 4),
    }


def mirrored(stack: S2Stack, times: int) -> S2Stack:
    """A ``times`` x ``times`` mirror mosaic of a stack (real pixels, a bigger scene for throughput only)."""
    arrays = {}
    for b in stack.bands:
        a, _ = stack.read(b, stack.grid.full_window)
        row = np.concatenate([a if i % 2 == 0 else a[:, ::-1] for i in range(times)], axis=1)
        arrays[b] = np.concatenate([row if i % 2 == 0 else row[::-1] for i in range(times)], axis=0)
    g = stack.grid
    return S2Stack.from_arrays(arrays, Grid(g.width * times, g.height * times, g.transform, g.crs))


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            (ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), model
        )
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cpu_count": os.cpu_count(),
        "threads_used": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def fmt(v: Any, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def write_markdown(path: Path, result: dict[str, Any]) -> None:
    m = result["machine"]
    lines = [
        "# Sentinel-2 sharpening benchmark",
        "",
        f"Generated {result['created']} by `bench/bench_sharpen.py`. Machine: {m['cpu_model']}, {m['cpu_count']} cores, "
        f"{m['threads_used']} thread used (torch.set_num_threads(1), OMP_NUM_THREADS=1); numpy {m['numpy']}, "
        f"torch {m['torch']}.",
        "",
        "Wald's protocol (geogen/eval/wald.py): every band degraded by the factor with the sensor model (Gaussian MTF, "
        "gain 0.3 at the new Nyquist, then factor x factor averaging), sharpened back, compared with the original. "
        "PSNR and SSIM with data_range = 1.0 reflectance (= 10000 DN), pooled over the scored bands; SAM in degrees; "
        "ERGAS = 100/scale * sqrt(mean (RMSE_k/mean_k)^2) with scale = 2 (or 6); RMSE in DN.",
        "",
    ]
    for scene, per_factor in result["wald"].items():
        for block in per_factor.values():
            lines += [
                f"## {scene}: factor {block['factor']} ({', '.join(block['bands'])}; guides "
                f"{', '.join(block['guides'])}; degraded fine grid {block['degraded_fine_shape'][1]} x "
                f"{block['degraded_fine_shape'][0]} px)",
                "",
                "| method | PSNR dB | SSIM | SAM deg | ERGAS | RMSE DN | seconds |",
                "|---|---|---|---|---|---|---|",
            ]
            for label, r in block["engines"].items():
                lines.append(
                    f"| {label} | {fmt(r['psnr_db'])} | {fmt(r['ssim'], 4)} | {fmt(r['sam_deg'])} | "
                    f"{fmt(r['ergas'], 3)} | {fmt(r['rmse_dn'], 1)} | {fmt(r['seconds'])} |"
                )
            lines.append("")
    rob = result["robustness"]
    labels = list(next(iter(rob.values())))
    lines += [
        "## Robustness: mean 20 m PSNR (dB) over the 5 scenes when the true blur differs from the model",
        "",
        "The engines always assume gain 0.3; here the Wald degradation uses another MTF gain at Nyquist "
        "(the 0.3 column is the protocol above).",
        "",
        "| method | " + " | ".join(rob) + " |",
        "|---" * (len(rob) + 1) + "|",
    ]
    for label in labels:
        lines.append(f"| {label} | " + " | ".join(fmt(rob[k][label]) for k in rob) + " |")
    lines += [
        "",
        "## Throughput, one thread (fit + sharpen of every band to 10 m, arrays in memory, "
        f"{TILE} px windows)",
        "",
        "| engine | scene | output px | seconds | of which fit | MPx/s (10 m output) |",
        "|---|---|---|---|---|---|",
    ]
    for t in result["throughput"]:
        lines.append(
            f"| {t['engine']} {json.dumps(t['options']) if t['options'] else ''} | {t['scene']} | "
            f"{t['output_px'][1]} x {t['output_px'][0]} | {fmt(t['seconds'])} | {fmt(t['fit_seconds'])} | "
            f"{fmt(t['mpx_per_s'], 3)} |"
        )
    lines += ["", "## Notes", ""] + [f"- {n}" for n in result["notes"]] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--skip-cnn", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    torch.set_num_threads(1)
    stacks = scenes(args.shared_data)
    t_start = time.perf_counter()
    result: dict[str, Any] = {
        "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "machine": machine(),
        "wald": {},
        "throughput": [],
    }
    for name, stack in stacks.items():
        print(f"wald: {name}", flush=True)
        result["wald"][name] = {"20m": run_wald(stack, 2, not args.skip_cnn)}
        if name.startswith("DSen2"):
            result["wald"][name]["60m"] = run_wald(stack, 6, False)
    print("robustness", flush=True)
    result["robustness"] = robustness(stacks)
    dsen2 = stacks[next(iter(stacks))]
    big = mirrored(dsen2, 3)
    for engine, options in (("bicubic", {}), ("sharpen", {}), ("sharpen", {"consistency": False})):
        for label, stack in (("DSen2 600 px", dsen2), ("DSen2 mirrored 3 x 3 (1800 px)", big)):
            print(f"throughput: {engine} {options} {label}", flush=True)
            result["throughput"].append({"scene": label, **throughput(stack, engine, options, repeats=2)})
    if not args.skip_cnn:
        print("throughput: sharpen-cnn", flush=True)
        result["throughput"].append({"scene": "DSen2 600 px", **throughput(dsen2, "sharpen-cnn", {})})
    result["notes"] = [
        "BigEarthNet patches are only 120 px: under Wald at factor 2 the engines see 60 x 60 guides and 30 x 30 "
        "20 m pixels (and the CNN trains on 30 x 30 guides); 60 m bands are scored on the DSen2 crop only (a BigEarthNet "
        "patch would leave 3 x 3 coarse pixels).",
        "The DSen2 crop has no georeference; it is placed on a nominal UTM 33N grid (pixels unchanged).",
        "Exact consistency (projection onto the sensor model) wins under this Wald protocol because the protocol "
        "degrades with exactly the engines' model; when the true blur is weaker (gain 0.4-0.45, plausible for real "
        "20 m vs 10 m bands that both carry their own MTF) or absent, it over-sharpens and loses 1-7 dB, and on real "
        "full-resolution scenes it rings (negative reflectances at narrow dark features). The default uses a "
        "Tikhonov-regularised projection (consistency_reg = 0.1 x the largest Gram eigenvalue), which keeps most of the "
        "gain at gain 0.3 and stays close to plain HPM elsewhere.",
        "The sharpen-cnn engine trains on each scene (500 iterations, batch 16, 32 px patches, 6 blocks x 48 channels) "
        "one scale further down, on top of the default classical result; 60 m bands stay classical.",
        "Throughput is the best of 2 runs (1 for the CNN) on a 2-core machine shared with other jobs: expect "
        "+-30 % noise between runs.",
        f"Total benchmark time: {time.perf_counter() - t_start:.0f} s.",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sharpen.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    write_markdown(args.out / "sharpen.md", result)
    print((args.out / "sharpen.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
