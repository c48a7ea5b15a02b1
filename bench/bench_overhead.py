"""Benchmark: what a job costs per window, through the command line, before and after an internal refactor.

A few representative jobs run as `geogen run JOB.json --progress jsonl` in a subprocess, ``--repeats`` times
each (default 3, median reported):
- superres ``sharpen`` on the bundled Sentinel-2 patch (120 x 120 px) and on a 480 x 480 px mosaic of it
  (mirrored 4 x 4), both in 64 px windows (``options.tile``): 4 and 64 windows;
- sketch ``exemplar`` on a 992 x 992 px FLAIR class raster (the bundled mask mirrored 2 x 2, cropped):
  4 windows of 512 px;
- text ``diffusionsat`` with the tiny random DiffusionSat of tests/tiny_models.py over 0.7 x 0.6 km at 5 m
  (latent windows of 32 px, 4 steps, guidance 2);
- temporal with the tiny DiffusionSat + tiny 3-D ControlNet: 2 observed frames, 3 generated dates, 48 x 48 px
  at 10 m, 4 steps.
All inputs come from geogen/data of this checkout or are written from it deterministically (the helpers of
tests/golden/cases.py); models are the tiny random-weight ones (nothing downloaded). CPU, float32, one thread
(OMP_NUM_THREADS=1 in every run), PYTHONHASHSEED=0.

Per job: wall seconds of the whole subprocess (interpreter start, imports, job), its CPU seconds, the job's
own ``timings.total_s`` from result.json (from validation to outputs written), the number of windows (from the
progress events / result.json, checked against the count the sizes give) and the seconds per window.

Runs against whatever geogen the interpreter imports, so any checkout can be measured with PYTHONPATH:

    OMP_NUM_THREADS=1 PYTHONPATH=/path/to/checkout .venv/bin/python bench/bench_overhead.py [--markdown F]

(without PYTHONPATH: the installed geogen). It prints the geogen it used, the machine and a Markdown table;
``--markdown PATH`` also writes that section to PATH, ``--json PATH`` the raw figures.
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"

import argparse
import datetime as dt
import importlib.util
import json
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

ROOT = Path(__file__).resolve().parents[1]  # this script's checkout: its tests/golden/cases.py and data
# Deliberately no sys.path.insert(0, ROOT): the geogen measured is the one PYTHONPATH (or the venv) gives.


def load_cases():
    """tests/golden/cases.py of this checkout, by path: inputs, tiny models, the CLI call and its env."""
    spec = importlib.util.spec_from_file_location(
        "geogen_golden_cases", ROOT / "tests" / "golden" / "cases.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


cases = load_cases()
SAMPLE = cases.SAMPLE_NAME
CPU_FP32 = cases.CPU_FP32


# --- bench inputs -----------------------------------------------------------------------------------------


def _mirror_tile(a: np.ndarray, reps: int) -> np.ndarray:
    """``a`` tiled ``reps`` x ``reps`` times, every other copy mirrored (no seams in the mosaic)."""
    row = np.concatenate([a if i % 2 == 0 else a[:, ::-1] for i in range(reps)], axis=1)
    return np.concatenate([row if j % 2 == 0 else row[::-1, :] for j in range(reps)], axis=0)


def write_mosaic(sample: Path, out: Path, reps: int = 4) -> Path:
    """The sample's band files mirrored ``reps`` x ``reps`` (same origin and pixel size, same file names)."""
    out.mkdir(parents=True, exist_ok=True)
    for src_path in sorted(sample.glob("*_B*.tif")):
        with rasterio.open(src_path) as src:
            data = _mirror_tile(src.read(1), reps)
            profile = {**src.profile, "width": data.shape[1], "height": data.shape[0]}
            for key in ("blockxsize", "blockysize", "tiled"):
                profile.pop(key, None)
        with rasterio.open(out / src_path.name, "w", **profile) as dst:
            dst.write(data, 1)
    return out


def write_big_mask(mask: Path, out: Path, size: int = 992) -> Path:
    """The FLAIR mask mirrored 2 x 2 and cropped to ``size`` px (same origin and pixel size)."""
    with rasterio.open(mask) as src:
        data = _mirror_tile(src.read(1), 2)[:size, :size]
        profile = {
            "driver": "GTiff",
            "width": size,
            "height": size,
            "count": 1,
            "dtype": "uint8",
            "crs": src.crs,
            "transform": src.transform,
            "nodata": 0,
        }
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data, 1)
    return out


# --- jobs -------------------------------------------------------------------------------------------------


def _stage_total(stage: str) -> Callable[[list[dict], dict], int | None]:
    def count(events: list[dict], result: dict) -> int | None:
        totals = [e["total"] for e in events if e.get("type") == "progress" and e.get("stage") == stage]
        return totals[-1] if totals else None

    return count


def _denoise_calls_per_step(steps: int) -> Callable[[list[dict], dict], int | None]:
    def count(events: list[dict], result: dict) -> int | None:
        totals = [e["total"] for e in events if e.get("type") == "progress" and e.get("stage") == "denoise"]
        return totals[-1] // steps if totals else None

    return count


def _plan_windows(events: list[dict], result: dict) -> int | None:
    plan = (result.get("extra") or {}).get("plan")
    return sum(int(p.get("windows", 0)) for p in plan) if plan else None


def jobs(inputs: dict[str, Path], models: dict[str, Path], out: Path) -> list[dict[str, Any]]:
    """(name, job, size note, windows expected from the sizes, how to count the windows of a run)."""
    return [
        {
            "name": "superres sharpen, bundled patch",
            "size": "120 x 120 px, 12 bands, tile 64",
            "expected_windows": 4,
            "count": _stage_total("sharpen"),
            "job": {
                "task": "superres",
                "engine": "sharpen",
                "input": str(inputs["sample"]),
                "options": {"tile": 64},
                "output": {"dir": str(out / "sharpen"), "name": "s", "overwrite": True},
            },
        },
        {
            "name": "superres sharpen, patch mosaic",
            "size": "480 x 480 px (patch mirrored 4 x 4), 12 bands, tile 64",
            "expected_windows": 64,
            "count": _stage_total("sharpen"),
            "job": {
                "task": "superres",
                "engine": "sharpen",
                "input": str(inputs["mosaic"]),
                "options": {"tile": 64},
                "output": {"dir": str(out / "sharpen_mosaic"), "name": "s", "overwrite": True},
            },
        },
        {
            "name": "sketch exemplar",
            "size": "992 x 992 px class raster at 0.2 m, tile 512 (overlap 32)",
            "expected_windows": 4,
            "count": _stage_total("synthesis"),
            "job": {
                "task": "sketch",
                "engine": "exemplar",
                "landcover": str(inputs["big_mask"]),
                "seed": 1,
                "output": {"dir": str(out / "exemplar"), "name": "e", "overwrite": True},
            },
        },
        {
            "name": "text diffusionsat (tiny)",
            "size": "~0.7 x 0.6 km at 5 m, 32 px windows (overlap 8), 4 steps, guidance 2",
            "expected_windows": 30,  # 144 x 128 px canvas: 6 x 5 windows of 32 px (the job log says so)
            "count": _denoise_calls_per_step(4),
            "job": {
                "task": "text",
                "model": str(models["diffusionsat"]),
                "prompt": "a fmow satellite image of farmland",
                "aoi": {"bounds": [14.5, 46.04, 14.509, 46.0456], "crs": "EPSG:4326"},
                "gsd": 5,
                "date": "2021-07-30",
                "guidance_scale": 2.0,
                "steps": 4,
                "seed": 1,
                "options": {"window": 32, "overlap": 8, **CPU_FP32},
                "output": {"dir": str(out / "text"), "name": "t", "overwrite": True},
            },
        },
        {
            "name": "temporal (tiny 3-D ControlNet)",
            "size": "48 x 48 px at 10 m, 2 observed + 3 generated dates, 32 px windows (overlap 8), 4 steps",
            "expected_windows": 12,
            "count": _plan_windows,
            "job": {
                "task": "temporal",
                "model": str(models["temporal_base"]),
                "inputs": [{"path": str(inputs["sample"])}, {"path": str(inputs["rgb_frame"])}],
                "target_dates": ["2017-05-20", "2017-06-25", "2017-07-20"],
                "aoi": {"bounds": [404800.0, 5341440.0, 405280.0, 5341920.0], "crs": "EPSG:32633"},
                "gsd": 10,
                "steps": 4,
                "seed": 1,
                "options": {
                    "controlnet": str(models["controlnet_3d"]),
                    "window": 32,
                    "overlap": 8,
                    **CPU_FP32,
                },
                "output": {"dir": str(out / "temporal"), "name": "q", "overwrite": True},
            },
        },
    ]


# --- running ----------------------------------------------------------------------------------------------


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(job_file: Path, home: Path) -> dict[str, Any]:
    """One `geogen run --progress jsonl` subprocess: wall and CPU seconds, its events and result record."""
    c0, t0 = _children_cpu(), time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", cases.CLI, "run", str(job_file), "--progress", "jsonl"],
        env=cases.run_env(home),
        cwd=job_file.parent,
        capture_output=True,
        text=True,
    )
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    if proc.returncode != 0:
        raise SystemExit(
            f"{job_file} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    events = []
    for line in proc.stdout.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    result = next((e["result"] for e in reversed(events) if e.get("type") == "result"), {})
    return {"wall_s": wall, "cpu_s": cpu, "events": events, "result": result}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    import torch

    virt = ""
    try:
        out = subprocess.run(
            ["systemd-detect-virt"], capture_output=True, text=True, check=False
        ).stdout.strip()
        virt = out if out and out != "none" else ""
    except OSError:
        pass
    return {
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "virtualisation": virt or "unknown",
        "threads": "1 (OMP_NUM_THREADS=1, MKL/OpenBLAS 1, in every job process)",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


def median(values: list[float]) -> float:
    return statistics.median(values)


def bench(work: Path, repeats: int) -> dict[str, Any]:
    root = cases.geogen_root()
    probe = cases.subprocess_geogen(work / "probe_home", work)
    tm = cases.tiny_models_module()
    print(f"geogen measured: {probe} (git {git_describe(root) or 'n/a'})")
    print(f"tests.tiny_models: {tm.__file__}")
    info = machine()
    print(
        f"machine: {info['cpu_model']}, {info['logical_cpus']} logical CPUs, threads 1; load {info['load_average_start']}"
    )
    inputs = cases.prepare_inputs(work / "inputs")
    inputs["mosaic"] = write_mosaic(inputs["sample"], work / "inputs" / "mosaic" / SAMPLE)
    inputs["big_mask"] = write_big_mask(
        work / "inputs" / "MSK_067998.tif", work / "inputs" / "msk_067998_992.tif"
    )
    models = cases.build_models(work / "models")
    rows = []
    for spec in jobs(inputs, models, work / "out"):
        job_file = work / "jobs" / (spec["name"].split(" (")[0].replace(" ", "_").replace(",", "") + ".json")
        job_file.parent.mkdir(parents=True, exist_ok=True)
        job_file.write_text(json.dumps({"version": 1, **spec["job"]}, indent=1), encoding="utf-8")
        runs = [run_once(job_file, work / "home") for _ in range(repeats)]
        counts = {spec["count"](r["events"], r["result"]) for r in runs}
        counted = counts.pop() if len(counts) == 1 else None
        windows = counted if counted is not None else spec["expected_windows"]
        if (
            spec["expected_windows"] is not None
            and counted is not None
            and counted != spec["expected_windows"]
        ):
            print(f"  note: {spec['name']}: {counted} windows counted, {spec['expected_windows']} expected")
        totals = [float(r["result"].get("timings", {}).get("total_s", float("nan"))) for r in runs]
        stage_keys = sorted({k for r in runs for k in r["result"].get("timings", {}) if k != "total_s"})
        stages = {
            k: round(median([float(r["result"]["timings"].get(k, float("nan"))) for r in runs]), 3)
            for k in stage_keys
        }
        row = {
            "job": spec["name"],
            "size": spec["size"],
            "windows": windows,
            "windows_source": "counted" if counted is not None else "from sizes",
            "wall_s": [round(r["wall_s"], 3) for r in runs],
            "cpu_s": [round(r["cpu_s"], 3) for r in runs],
            "job_total_s": totals,
            "wall_median_s": round(median([r["wall_s"] for r in runs]), 3),
            "cpu_median_s": round(median([r["cpu_s"] for r in runs]), 3),
            "job_total_median_s": round(median(totals), 3),
            "stages_median_s": stages,
        }
        if windows:
            row["wall_per_window_s"] = round(row["wall_median_s"] / windows, 4)
            row["job_per_window_s"] = round(row["job_total_median_s"] / windows, 4)
        rows.append(row)
        print(
            f"  {spec['name']:<34} windows {windows!s:>3}  wall {row['wall_median_s']:7.3f} s  "
            f"CPU {row['cpu_median_s']:7.3f} s  in-job {row['job_total_median_s']:7.3f} s  "
            f"in-job/window {row.get('job_per_window_s', float('nan')):.4f} s"
        )
    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    return {
        "geogen": probe,
        "git": git_describe(root),
        "repeats": repeats,
        "machine": info,
        "rows": rows,
        "date": dt.datetime.now().isoformat(timespec="seconds"),
    }


def git_describe(root: Path) -> str | None:
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + (" + uncommitted changes" if dirty else "")


def markdown(res: dict[str, Any], command: str) -> str:
    m = res["machine"]
    sharpen = {r["job"]: r for r in res["rows"] if r["job"].startswith("superres sharpen")}
    lines = [
        f"- geogen: `{res['geogen']}` (git {res['git'] or 'n/a'}); measured {res['date']}",
        f"- Machine: {m['cpu_model']} ({m['logical_cpus']} logical CPUs; systemd-detect-virt: "
        f"{m['virtualisation']}), "
        f"shared with other jobs: 1-min load average {m['load_average_start'][0]} at start, "
        f"{m['load_average_end'][0]} at end; Python {m['python']}, torch {m['torch']}, numpy {m['numpy']}",
        f"- Threads: {m['threads']}; CPU, float32; tiny random-weight models (tests/tiny_models.py)",
        f"- {res['repeats']} runs per job, median; each run is a fresh `geogen run JOB --progress jsonl` "
        "subprocess (wall and CPU: the whole process, interpreter start and imports included; in-job: "
        "result.json `timings.total_s`, from validation to the outputs written)",
        f"- Command: `{command}`",
        "",
        "| job | size | windows | wall s | CPU s | in-job s | wall s / window | in-job s / window | "
        "in-job stages (result.json timings) s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        lines.append(
            f"| {r['job']} | {r['size']} | {r['windows']} | {r['wall_median_s']:.3f} | {r['cpu_median_s']:.3f} | "
            f"{r['job_total_median_s']:.3f} | {r.get('wall_per_window_s', float('nan')):.4f} | "
            f"{r.get('job_per_window_s', float('nan')):.4f} | "
            + (", ".join(f"{k.removesuffix('_s')} {v:.3f}" for k, v in r["stages_median_s"].items()) or "-")
            + " |"
        )
    a, b = sharpen.get("superres sharpen, bundled patch"), sharpen.get("superres sharpen, patch mosaic")
    if a and b and a["windows"] and b["windows"] and b["windows"] > a["windows"]:
        marginal = (b["job_total_median_s"] - a["job_total_median_s"]) / (b["windows"] - a["windows"])
        lines += [
            "",
            f"Marginal in-job cost of one more 64 px sharpen window (mosaic vs patch): {marginal:.4f} s "
            f"({b['windows'] - a['windows']} windows more: {b['job_total_median_s']:.3f} - "
            f"{a['job_total_median_s']:.3f} s; includes the larger scene-wide fit and reads).",
        ]
    lines.append("")
    lines.append(
        "Raw runs (s): "
        + "; ".join(f"{r['job']}: wall {r['wall_s']}, in-job {r['job_total_s']}" for r in res["rows"])
    )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--markdown", type=Path, default=None, help="write the Markdown section here")
    parser.add_argument("--json", type=Path, default=None, help="write the raw figures here")
    parser.add_argument("--work", type=Path, default=None, help="keep inputs, models and outputs here")
    args = parser.parse_args()
    env_prefix = " ".join(f"{k}={shlex.quote(os.environ[k])}" for k in ("PYTHONPATH",) if os.environ.get(k))
    command = " ".join(
        x for x in ("OMP_NUM_THREADS=1", env_prefix, "python", "bench/bench_overhead.py", *sys.argv[1:]) if x
    )
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        res = bench(args.work.resolve(), args.repeats)
    else:
        with tempfile.TemporaryDirectory(prefix="geogen_overhead_") as tmp:
            res = bench(Path(tmp).resolve(), args.repeats)
    text = markdown(res, command)
    print()
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
