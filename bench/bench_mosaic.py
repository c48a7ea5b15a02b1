"""Benchmark: does the streaming mosaic's memory follow the tile band rather than the area?

Writes an 8192 x 8192 x 3 and a 2048 x 2048 x 3 uint8 image (512 px tiles, 64 px overlap, cosine blend,
tiles added in ``stream_order``)
into a tiled, deflate-compressed GeoTIFF through rasterio, each size in its own subprocess, and records
peak RSS, the tracemalloc peak (numpy buffers) and times. The "model" is a cheap analytic pattern
evaluated per tile, so the run measures the mosaic and the writer, not a network.

    .venv/bin/python bench/bench_mosaic.py            # both sizes, writes bench/results/mosaic.{json,md}
    .venv/bin/python bench/bench_mosaic.py --child 2048 --out /tmp/x.tif   # one run, JSON on stdout
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

TILE, OVERLAP, COUNT = 512, 64, 3
GOAL_RATIO = 1.25


def pattern(window, count: int = COUNT) -> np.ndarray:
    """The test image's pixels in ``window`` (count, h, w) float32, computed from global pixel coordinates."""
    r = np.arange(window.row_off, window.row_end, dtype=np.float32)[None, :, None]
    c = np.arange(window.col_off, window.col_end, dtype=np.float32)[None, None, :]
    b = np.arange(count, dtype=np.float32)[:, None, None]
    return 127.5 + 100.0 * np.sin((r + 17.0 * b) / 37.0) * np.cos(c / 53.0) + 20.0 * np.sin((r + c) / 11.0)


def peak_rss_mb() -> float:
    """Peak resident set size of the current process, in MiB."""
    try:
        import resource
    except ImportError:  # Windows
        import psutil

        return psutil.Process().memory_info().peak_wset / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def current_rss_mb() -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    return psutil.Process().memory_info().rss / 2**20


def run_one(size: int, out: Path, gdal_cache_mb: int) -> dict:
    """Mosaic one ``size`` x ``size`` image into ``out``; returns the measurements."""
    import rasterio
    from affine import Affine

    from tiles import StreamingMosaic, Window, plan, stream_order

    tiles = plan((size, size), TILE, OVERLAP)
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": COUNT,
        "dtype": "uint8",
        "crs": "EPSG:32631",
        "transform": Affine(10.0, 0.0, 500_000.0, 0.0, -10.0, 5_000_000.0),
        "tiled": True,
        "blockxsize": TILE,
        "blockysize": TILE,
        "compress": "deflate",
        "bigtiff": "if_safer",
    }
    baseline_rss = current_rss_mb()
    times = {"model_s": 0.0, "sink_s": 0.0}

    with rasterio.Env(GDAL_CACHEMAX=gdal_cache_mb), rasterio.open(out, "w", **profile) as dst:

        def sink(window: Window, array: np.ndarray) -> None:
            t0 = time.perf_counter()
            dst.write(array, window=window.to_rasterio())
            times["sink_s"] += time.perf_counter() - t0

        tracemalloc.start()
        cpu0, t0 = time.process_time(), time.perf_counter()
        with StreamingMosaic(
            (size, size), COUNT, tiles, sink, dtype=np.uint8, block_rows=TILE, block_cols=TILE
        ) as mosaic:
            for tile in stream_order(tiles):
                t1 = time.perf_counter()
                pixels = pattern(tile.window)
                times["model_s"] += time.perf_counter() - t1
                mosaic.add(tile, pixels)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0  # includes closing (flushing) the file
    rss = peak_rss_mb()

    # Check the file: tiled as asked and pixels equal to the pattern (within uint8 rounding).
    with rasterio.open(out) as src:
        blocks = src.block_shapes[0]
        probe = tiles[len(tiles) // 2].window
        got = src.read(window=probe.to_rasterio()).astype(np.float32)
    max_err = float(np.abs(got - np.clip(pattern(probe), 0, 255)).max())

    return {
        "shape": [COUNT, size, size],
        "tiles": len(tiles),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "model_s": round(times["model_s"], 2),
        "write_s": round(times["sink_s"], 2),
        "mosaic_s": round(wall - times["model_s"] - times["sink_s"], 2),
        "peak_rss_mb": round(rss, 1),
        "rss_after_imports_mb": None if baseline_rss is None else round(baseline_rss, 1),
        "tracemalloc_peak_mb": round(traced_peak / 2**20, 1),
        "peak_buffered_rows": mosaic.peak_buffered_rows,
        "mosaic_buffers_peak_mb": round(mosaic.peak_buffer_bytes / 2**20, 1),
        "file_mb": round(out.stat().st_size / 2**20, 1),
        "block_shape": list(blocks),
        "probe_max_abs_error_dn": max_err,
    }


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def summary_md(result: dict, big: str, small: str) -> str:
    """The five-line Markdown summary of ``result``."""
    m, p = result["machine"], result["params"]
    b, s = result["runs"][big], result["runs"][small]
    verdict = "met" if result["meets_goal"] else "NOT met"
    return "\n".join(
        [
            f"# Streaming mosaic memory ({time.strftime('%Y-%m-%d')}, "
            "`.venv/bin/python bench/bench_mosaic.py`)",
            f"- Machine: {m['logical_cpus']} cores, {m['cpu_model']}; 1 thread (OMP/GDAL); "
            f"numpy {m['numpy']}, GDAL {m['gdal']}, GDAL_CACHEMAX {p['gdal_cache_mb']} MiB.",
            f"- Job: 3-band uint8 deflate tiled GeoTIFF ({p['tile']} px blocks), {p['tile']} px tiles, "
            f"{p['overlap']} px overlap, cosine blend, block_rows = block_cols = {p['tile']}, stream_order; "
            f"{big}^2 px = {b['tiles']} tiles, {small}^2 px = {s['tiles']} tiles.",
            f"- Peak RSS {b['peak_rss_mb']} vs {s['peak_rss_mb']} MiB: "
            f"ratio {result['peak_rss_ratio']:.2f} for {result['area_ratio']:.0f}x the area "
            f"(goal <= {GOAL_RATIO}: {verdict}); mosaic buffers "
            f"{b['mosaic_buffers_peak_mb']} vs {s['mosaic_buffers_peak_mb']} MiB, all numpy (tracemalloc) "
            f"{b['tracemalloc_peak_mb']} vs {s['tracemalloc_peak_mb']} MiB "
            "(these grow with the width, not the area).",
            f"- Time {b['wall_s']} s vs {s['wall_s']} s wall (mosaic {b['mosaic_s']} / {s['mosaic_s']} s, "
            f"GeoTIFF write {b['write_s']} / {s['write_s']} s, pattern {b['model_s']} / {s['model_s']} s).",
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", type=int, help="run one size in this process and print its JSON")
    parser.add_argument("--out", type=Path, help="output GeoTIFF (child mode)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[8192, 2048])
    parser.add_argument("--gdal-cache-mb", type=int, default=16, help="GDAL_CACHEMAX for the writer (MiB)")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    if args.child:
        print(json.dumps(run_one(args.child, args.out, args.gdal_cache_mb)))
        return 0

    env = dict(
        os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", GDAL_NUM_THREADS="1"
    )
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            out = Path(tmp) / f"mosaic_{size}.tif"
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                str(size),
                "--out",
                str(out),
                "--gdal-cache-mb",
                str(args.gdal_cache_mb),
            ]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            runs[str(size)] = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"{size}: {runs[str(size)]}", flush=True)

    big, small = str(max(args.sizes)), str(min(args.sizes))
    import rasterio

    rss_ratio = runs[big]["peak_rss_mb"] / runs[small]["peak_rss_mb"]
    traced_ratio = runs[big]["tracemalloc_peak_mb"] / runs[small]["tracemalloc_peak_mb"]
    result = {
        "machine": {
            "cpu_model": cpu_model(),
            "logical_cpus": os.cpu_count(),
            "threads": 1,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "rasterio": rasterio.__version__,
            "gdal": rasterio.__gdal_version__,
            "platform": platform.platform(),
        },
        "params": {
            "tile": TILE,
            "overlap": OVERLAP,
            "count": COUNT,
            "dtype": "uint8",
            "weight_kind": "cosine",
            "block_rows": TILE,
            "block_cols": TILE,
            "compress": "deflate",
            "gdal_cache_mb": args.gdal_cache_mb,
        },
        "runs": runs,
        "area_ratio": (int(big) / int(small)) ** 2,
        "peak_rss_ratio": round(rss_ratio, 3),
        "tracemalloc_peak_ratio": round(traced_ratio, 3),
        "goal_peak_rss_ratio": GOAL_RATIO,
        "meets_goal": rss_ratio <= GOAL_RATIO,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "mosaic.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.results / "mosaic.md").write_text(summary_md(result, big, small))
    print(f"peak RSS ratio {rss_ratio:.3f} (goal <= {GOAL_RATIO}); tracemalloc ratio {traced_ratio:.3f}")
    return 0 if result["meets_goal"] else 1


if __name__ == "__main__":
    sys.exit(main())
