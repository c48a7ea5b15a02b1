"""What the diffusion benchmarks share: the step clock, the machine record, the overhead row, the command line
and the SD-2.x model shapes they build at real size.

Step times come from per-step callbacks; on the CPU the clock is this process's CPU time (other processes
sharing the cores do not count), on GPUs synchronised wall time. The first interval of a run is warm-up.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
GOAL_OVERHEAD = 0.05
"""geogen's median step may be at most this much slower than the bare diffusers equivalent."""

SD2_UNET = {  # Stable Diffusion 2.x UNet shapes (866 M parameters); 2.1 and 2.1-base differ in sample size
    "block_out_channels": (320, 640, 1280, 1280),
    "layers_per_block": 2,
    "cross_attention_dim": 1024,
    "attention_head_dim": (5, 10, 20, 20),
    "use_linear_projection": True,
}
SD2_VAE = {  # Stable Diffusion's 8x VAE
    "block_out_channels": (128, 256, 512, 512),
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "latent_channels": 4,
    "layers_per_block": 2,
}

CLOCK = {"name": "wall"}


def cpu_model() -> str:
    """The CPU's model name (lscpu), else what ``platform`` knows."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def clock() -> float:
    """Seconds: this process's CPU time when timing the CPU, else (GPUs) wall time."""
    return time.process_time() if CLOCK["name"] == "cpu" else time.perf_counter()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def now(device: torch.device) -> float:
    """The clock, once ``device`` has finished its queued work."""
    sync(device)
    return clock()


def stamp(stamps: list[float], device: torch.device) -> None:
    """Append the time, once ``device`` has finished its queued work, to ``stamps``."""
    stamps.append(now(device))


def step_intervals(stamps: list[float]) -> list[float]:
    """Intervals between consecutive per-step timestamps, the first (warm-up) dropped."""
    return [b - a for a, b in itertools.pairwise(stamps)][1:]


def stamp_on_step_end(stamps: list[float], device: torch.device) -> Callable[..., dict]:
    """A diffusers ``callback_on_step_end`` appending a (synchronised) timestamp to ``stamps``."""

    def on_step_end(pipeline, i, t, kwargs):
        stamp(stamps, device)
        return kwargs

    return on_step_end


def overhead_row(ours: list[float], theirs: list[float], **head: Any) -> dict[str, Any]:
    """``head`` plus the median step times of both sides, their interquartile ranges and the overhead."""
    geo, dif = statistics.median(ours), statistics.median(theirs)
    return {
        **head,
        "geogen_step_s": round(geo, 5),
        "diffusers_step_s": round(dif, 5),
        "geogen_step_iqr_s": [round(q, 5) for q in statistics.quantiles(ours, n=4)[::2]],
        "diffusers_step_iqr_s": [round(q, 5) for q in statistics.quantiles(theirs, n=4)[::2]],
        "overhead": round(geo / dif - 1, 4),
        "meets_goal": geo / dif - 1 <= GOAL_OVERHEAD,
    }


def parse_args(description: str, real_size_help: str, latents_help: str) -> argparse.Namespace:
    """The benchmarks' shared command line (size, device, dtype, latents, steps, guidance, repeats, ...)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--real-size", action="store_true", help=real_size_help)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--latents", type=int, nargs="+", default=None, help=latents_help)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=7.5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    args.latents = args.latents or ([64, 96] if args.real_size else [8, 32])
    return args


def setup(args: argparse.Namespace) -> tuple[torch.device, torch.dtype]:
    """Set the torch threads and the clock; the device and dtype asked for."""
    from geogen.diffusion.components import select_device, select_dtype

    torch.set_num_threads(args.threads)
    device = select_device(args.device)
    dtype = select_dtype(device, args.dtype)
    CLOCK["name"] = "cpu" if device.type == "cpu" else "wall"
    return device, dtype


def command() -> str:
    """This run's command line, as the results record it."""
    return "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])


def machine(device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    """What the numbers were measured on: CPU, threads, device, dtype, library versions, clock."""
    import diffusers

    return {
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU",
        "dtype": str(dtype).removeprefix("torch."),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "python": platform.python_version(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "clock": "process CPU time" if CLOCK["name"] == "cpu" else "wall time (synchronised)",
    }


def write_results(
    result: dict[str, Any],
    device: torch.device,
    folder: Path,
    stem: str,
    summary: Callable[[dict[str, Any]], str],
) -> None:
    """``result`` as ``stem``.json and ``summary(result)`` as ``stem``.md under ``folder``, and printed.

    On GPUs the peak memory is added to ``result["machine"]`` first.
    """
    if device.type == "cuda":
        result["machine"]["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (folder / f"{stem}.md").write_text(summary(result), encoding="utf-8")
    print(summary(result))
