"""Benchmark: what a generated frame of a temporal sequence costs against a single-image generation.

1. Per-frame time of ``TemporalGenerator.generate`` (denoising + VAE decode) on one latent window covering the
   canvas, conditioned on T = 1, 2, 3 frames through the 3-D ControlNet, against the same call with no frame
   (the single-image DiffusionSat model alone: what ``geogen text`` does for one window). The ratio is the cost
   of conditioning on T frames: the ControlNet's encoder copy runs on B x T frames, its temporal transformers
   attend across them. Runs are interleaved, the first of each kind is dropped as warm-up; on the CPU the clock
   is this process's CPU time (other processes sharing the cores do not count).
2. The whole pipeline on the real Slovenian series (2 clear frames kept by cloud_max 0.2, 4 target dates, 24 x
   24 px at 10 m): seconds per generated frame as ``result.json`` reports them, and the share of the job spent
   outside generation (co-registration, loading, writing GeoTIFFs and the datacube).

Random weights (nothing downloaded): a tiny DiffusionSat pipeline and a tiny 3-D ControlNet copied from its UNet
(tests/tiny_models.py), both loaded through geogen's store and checked loaders:

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_temporal.py     # -> bench/results/temporal.{json,md}
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from affine import Affine  # noqa: E402

from bench._common import CLOCK, command, machine, now, write_results  # noqa: E402

SLOVENIA = ROOT.parent / "shared" / "data" / "s2_l1c_slovenia_eolearn"
TARGET = dt.date(2015, 9, 15)
FRAME_DATES = (dt.date(2015, 7, 11), dt.date(2015, 8, 1), dt.date(2015, 8, 30))


def build_models(root: Path) -> tuple[Path, Path]:
    """The tiny DiffusionSat pipeline and a tiny 3-D ControlNet (RGB frames, temporal attention on)."""
    from tests.tiny_models import build_tiny_controlnet_3d, build_tiny_diffusionsat

    base = build_tiny_diffusionsat(root / "tiny-diffusionsat")
    return base, build_tiny_controlnet_3d(base, root / "tiny-controlnet-3d")


def per_frame(
    base: Path, cn: Path, sizes: list[int], steps: int, repeats: int, guidance: float, device_name: str
) -> tuple[list[dict], dict]:
    from geogen.diffusion.components import load_components
    from geogen.diffusion.latent_tiling import TextConditioning
    from geogen.diffusion.layout import latent_layout
    from geogen.engines.temporal_controlnet.generator import ConditionFrame, TemporalGenerator
    from geogen.engines.temporal_controlnet.models import load_controlnet_3d
    from geogen.store import Store, resolve
    from tiles import Grid

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp))
        comps = load_components(resolve(str(base), store=store), device=device_name, dtype="auto")
        controlnet = load_controlnet_3d(resolve(str(cn), store=store), comps.dtype).to(comps.device)
    with torch.no_grad():
        text = TextConditioning(
            comps.encode_prompts(["a satellite image"]), comps.encode_prompts([""]) if guidance > 1 else None
        )
    params = {
        "unet": sum(p.numel() for p in comps.unet.parameters()),
        "controlnet_3d": sum(p.numel() for p in controlnet.parameters()),
        "vae": sum(p.numel() for p in comps.vae.parameters()),
    }
    rows = []
    rng = np.random.default_rng(0)
    for size in sizes:
        grid = Grid(size, size, Affine(10, 0, 465400, 0, -10, 5080000), "EPSG:32633")
        layout = latent_layout(
            grid, factor=comps.vae_scale_factor, unet_factor=2, window_px=size, overlap_px=0
        )
        gen = TemporalGenerator(comps, controlnet, layout, text, steps=steps, guidance_scale=guidance)
        frames = [
            ConditionFrame(d, rng.integers(0, 256, (3, size, size), dtype=np.uint8)) for d in FRAME_DATES
        ]
        kinds = {"single-image": [], **{f"T={t}": frames[:t] for t in (1, 2, 3)}}
        times: dict[str, list[float]] = {k: [] for k in kinds}
        for _ in range(repeats + 1):
            for kind in kinds:
                cond = [] if kind == "single-image" else kinds[kind]
                t0 = now(comps.device)
                gen.generate(TARGET, cond, seed=1)
                times[kind].append(now(comps.device) - t0)
        single = statistics.median(times["single-image"][1:])
        row = {
            "size_px": size,
            "latent": size // comps.vae_scale_factor,
            "windows": layout.n_windows,
            "steps": steps,
            "guidance": guidance,
            "single_image_s": round(single, 4),
        }
        for t in (1, 2, 3):
            m = statistics.median(times[f"T={t}"][1:])
            row[f"T{t}_s"] = round(m, 4)
            row[f"T{t}_ratio"] = round(m / single, 2)
        row["samples"] = {k: [round(v, 4) for v in vals[1:]] for k, vals in times.items()}
        rows.append(row)
        print(
            f"{size} px: single {single:.3f} s, "
            + ", ".join(f"T={t} {row[f'T{t}_s']:.3f} s (x{row[f'T{t}_ratio']})" for t in (1, 2, 3))
        )
    return rows, params


def pipeline_run(base: Path, cn: Path, steps: int, root: Path) -> dict | None:
    from geogen.job.runner import run_job
    from geogen.progress import NullReporter
    from geogen.spec import parse_job

    files = sorted(SLOVENIA.glob("S2L1C_slovenia_*_13band_refl.tif"))
    if len(files) != 4:
        return None
    job = parse_job(
        {
            "task": "temporal",
            "inputs": [{"path": str(f)} for f in files],
            "cloud_max": 0.2,
            "target_dates": ["2015-07-01", "2015-07-31", "2015-08-20", "2015-09-15"],
            "aoi": {"bounds": [465400, 5079760, 465640, 5080000], "crs": "EPSG:32633"},
            "gsd": 10,
            "model": str(base),
            "steps": steps,
            "seed": 0,
            "options": {"controlnet": str(cn), "device": "cpu"},
            "output": {"dir": str(root / "pipeline"), "name": "slo", "overwrite": True},
        }
    )
    os.environ["GEOGEN_HOME"] = str(root / "home")
    t0 = time.perf_counter()
    result, _ = run_job(job, NullReporter())
    wall = time.perf_counter() - t0
    plan = result.extra["plan"]
    return {
        "frames": len(result.outputs),
        "generated": len(plan),
        "steps": steps,
        "grid_px": [result.outputs[0].width, result.outputs[0].height],
        "wall_s": round(wall, 3),
        "timings": result.timings,
        "seconds_per_generated_frame": round(statistics.median(p["seconds"] for p in plan), 3),
        "outside_generation_share": round(1 - result.timings["generate_s"] / wall, 3),
    }


def summary_md(r: dict) -> str:
    m = r["machine"]
    lines = [
        f"# Temporal sequences (`{r['command']}`, {r['date']})",
        f"- Machine: {m['cpu_model']}, {m['logical_cpus']} logical CPUs, torch threads {m['torch_threads']} "
        f"(OMP_NUM_THREADS={m['omp_num_threads']}); {m['device']}, {m['dtype']}; torch {m['torch']}, "
        f"diffusers {m['diffusers']}; clock: {m['clock']}.",
        f"- Models: tiny RANDOM DiffusionSat ({r['params']['unet'] / 1e6:.2f} M UNet parameters) and 3-D ControlNet "
        f"({r['params']['controlnet_3d'] / 1e6:.2f} M, temporal transformers on), 2x VAE. The numbers measure the "
        "engine, not image quality.",
        "",
        "## 1. Per generated frame (denoise + decode, one window covering the canvas), median",
        "",
        "| canvas (px) | latent | steps | single image (s) | T=1 (s) | T=2 (s) | T=3 (s) | T=1 / single | T=2 / single "
        "| T=3 / single |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["per_frame"]:
        lines.append(
            f"| {row['size_px']} | {row['latent']}^2 | {row['steps']} | {row['single_image_s']} | {row['T1_s']} | "
            f"{row['T2_s']} | {row['T3_s']} | x{row['T1_ratio']} | x{row['T2_ratio']} | x{row['T3_ratio']} |"
        )
    lines += [
        "",
        "A generated frame runs the UNet plus the 3-D ControlNet, whose encoder copy sees B x T frames and whose "
        "temporal transformers attend across them; the single image runs the UNet alone (VAE decode in both). "
        "In the tiny model the temporal transformers weigh more than at real size: DiffusionSat gives the stem's "
        "a fixed width of 8 heads x 64 whatever the model's channels (32 here).",
    ]
    p = r.get("pipeline")
    if p:
        lines += [
            "",
            f"## 2. Whole pipeline, real Slovenian series ({p['frames']} frames: {p['frames'] - p['generated']} "
            f"observed + {p['generated']} generated, {p['grid_px'][0]} x {p['grid_px'][1]} px, {p['steps']} steps)",
            "",
            f"- wall {p['wall_s']} s; per generated frame (median) {p['seconds_per_generated_frame']} s; "
            f"timings {p['timings']}.",
            f"- share of the job outside generation (co-registration, model loading, GeoTIFFs, datacube): "
            f"{p['outside_generation_share']:.0%}.",
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128], help="canvas sides in px")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--guidance", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    CLOCK["name"] = "cpu" if device.type == "cpu" else "wall"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["GEOGEN_HOME"] = str(root / "home")
        base, cn = build_models(root)
        rows, params = per_frame(base, cn, args.sizes, args.steps, args.repeats, args.guidance, args.device)
        pipeline = pipeline_run(base, cn, args.steps, root) if args.device == "cpu" else None
    result = {
        "command": command(),
        "date": dt.date.today().isoformat(),
        "params": params,
        "machine": machine(device, torch.float32 if device.type == "cpu" else torch.float16),
        "per_frame": rows,
        "pipeline": pipeline,
    }
    write_results(result, device, args.results, "temporal", summary_md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
