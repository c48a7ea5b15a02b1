"""Benchmark: does `geogen superres` memory follow the tile band rather than the area? (issue 10, item 14)

Builds mirrored mosaics of the bundled Sentinel-2 patch (geogen/data/sample_s2, 120 x 120 px at 10 m) at 1x, 4x
and 16x an area of 1200 x 1200 px (each band at its own resolution, reflect-mirrored so the texture stays real),
then runs ``geogen superres`` (engine ``sharpen``, all 12 bands) on each in its own subprocess with one thread,
and records the child's peak RSS (``os.wait4``'s ``ru_maxrss``; psutil polling where wait4 is missing). Each
size runs twice: with geogen's default (GDAL's block cache bounded from the tile band, geogen/io/gdal_env.py)
and with ``GDAL_CACHEMAX`` set to GDAL's own default of 5 % of the RAM (what every run used before the bound).

    .venv/bin/python bench/bench_memory.py              # writes bench/results/memory.{json,md}
    .venv/bin/python bench/bench_memory.py --base 600   # a quicker run on smaller areas
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = next((ROOT / "geogen" / "data" / "sample_s2").iterdir())
GOAL_RATIO = 1.2
"""Peak RSS at 16x the area may be at most this many times the 1x peak."""


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def total_ram() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        import psutil  # test dependency; Windows has no sysconf

        return int(psutil.virtual_memory().total)


def make_mosaic(side: int, folder: Path) -> Path:
    """The sample's bands mirrored out to ``side`` x ``side`` px at 10 m (same origin), as a band folder."""
    out = folder / f"{SAMPLE.name}_{side}"
    out.mkdir(parents=True, exist_ok=True)
    for src in sorted(SAMPLE.glob("*_B*.tif")):
        with rasterio.open(src) as ds:
            a = ds.read(1)
            factor = round(ds.res[0] / 10.0)
            n = side // factor
            reps = -(-n // a.shape[0])
            tiled = np.pad(
                a, [(0, reps * a.shape[0] - a.shape[0]), (0, reps * a.shape[1] - a.shape[1])], "symmetric"
            )
            big = tiled[:n, :n]
            profile = ds.profile | {
                "width": n,
                "height": n,
                "tiled": True,
                "blockxsize": 256,
                "blockysize": 256,
                "compress": "deflate",
            }
            with rasterio.open(out / src.name, "w", **profile) as dst:
                dst.write(big, 1)
    return out


def peak_rss(cmd: list[str], env: dict[str, str]) -> tuple[int, float, int]:
    """(peak RSS in bytes, wall seconds, exit code) of ``cmd`` run as a child."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if hasattr(os, "wait4"):
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    else:  # Windows: poll
        import psutil

        p, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            try:
                peak = max(peak, p.memory_info().rss)
            except psutil.Error:
                break
            time.sleep(0.05)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode:
        print(err, file=sys.stderr)
    return peak, time.perf_counter() - t0, int(proc.returncode or 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--base", type=int, default=1200, help="side of the 1x area in 10 m px (a multiple of 120)"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env.pop("GDAL_CACHEMAX", None)
    gdal_default = int(total_ram() * 0.05)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for mult in (1, 2, 4):  # side x1, x2, x4 = area x1, x4, x16
            side = args.base * mult
            folder = make_mosaic(side, Path(tmp))
            for setting, extra in (
                ("geogen default (bounded)", {}),
                ("GDAL 5 % of RAM", {"GDAL_CACHEMAX": str(gdal_default)}),
            ):
                out = Path(tmp) / f"out_{side}.tif"
                cmd = [
                    sys.executable,
                    "-c",
                    "from geogen.cli.main import main; main()",
                    "superres",
                    str(folder),
                    "-o",
                    str(out),
                    "--overwrite",
                    "--progress",
                    "none",
                ]
                peak, secs, rc = peak_rss(cmd, env | extra)
                rows.append(
                    {
                        "area": mult * mult,
                        "side_px": side,
                        "setting": setting,
                        "peak_rss_mib": peak / 2**20,
                        "seconds": secs,
                        "exit_code": rc,
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
                if rc:
                    raise SystemExit(f"geogen superres failed (exit {rc}) on {folder}")
                out.unlink(missing_ok=True)
    record = {
        "generated": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "threads": 1,
            "ram_gib": total_ram() / 2**30,
            "python": platform.python_version(),
            "gdal": rasterio.__gdal_version__,
        },
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "memory.json").write_text(json.dumps(record, indent=2) + "\n")
    m = record["machine"]
    lines = [
        "# Peak memory vs area (`geogen superres`, engine sharpen)",
        "",
        f"Generated {record['generated']} by `bench/bench_memory.py`. Machine: {m['cpu']}, {m['cores']} cores, "
        f"{m['threads']} thread used (OMP_NUM_THREADS=1), {m['ram_gib']:.0f} GiB RAM; Python {m['python']}, "
        f"GDAL {m['gdal']}.",
        "",
        f"Input: the bundled Sentinel-2 patch ({SAMPLE.name}, 120 x 120 px) mirrored out to 1x / 4x / 16x an area "
        f"of {args.base} x {args.base} px at 10 m (12 bands, each at its own resolution, tiled deflate GeoTIFFs); "
        "output all 12 bands at 10 m. Peak RSS of the `geogen superres` process (ru_maxrss), one run each.",
        "",
        "| area | output px | setting | peak RSS MiB | ratio to 1x | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        base = next(x for x in rows if x["setting"] == r["setting"] and x["area"] == 1)
        lines.append(
            f"| {r['area']}x | {r['side_px']} x {r['side_px']} | {r['setting']} | {r['peak_rss_mib']:.0f} | "
            f"{r['peak_rss_mib'] / base['peak_rss_mib']:.2f} | {r['seconds']:.1f} |"
        )
    bounded = [r for r in rows if r["setting"].startswith("geogen")]
    ratio = bounded[-1]["peak_rss_mib"] / bounded[0]["peak_rss_mib"]
    lines += [
        "",
        f"Goal: 16x the area within {GOAL_RATIO}x the 1x peak with geogen's default: "
        f"{ratio:.2f} ({'met' if ratio <= GOAL_RATIO else 'NOT met'}).",
        "",
    ]
    (args.out / "memory.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
