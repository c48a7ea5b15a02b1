"""Benchmark: the ControlNet sketch engine's per-step cost against a bare diffusers ControlNet pipeline.

1. Per-denoising-step time of ``ControlNetSketchEngine.denoise_area`` on one window covering the canvas (the
   same work: UNet + ControlNet, classifier-free guidance in one batch) against diffusers'
   ``StableDiffusionControlNetPipeline`` with the same modules, scheduler (UniPC), latent size, steps,
   guidance and condition image, no decode. geogen's step includes what it adds: the window's class map, its
   palette rendering and the hook (condition cache off, so it is read every step: the worst case). Runs
   are interleaved; step intervals come from per-step callbacks (on the CPU the clock is this process's CPU
   time, so other processes sharing the cores do not count; on GPUs synchronised wall time); the first
   interval is dropped as warm-up. Goal: geogen's median step at most 5 % slower.
2. A 3 x 3-window canvas (quarter overlap) against the same windows alone: what blending and per-window
   conditions and prompts cost per step.

Random weights, nothing downloaded; the condition is a real FLAIR-1 mask when ../shared/data has it (else a
synthetic class map). Default: tiny components on the CPU. ``--real-size`` builds SD-2.1-base-shaped
components (UNet 866 M, ControlNet 365 M parameters, 8x condition encoder) for a GPU run:

    .venv/bin/python bench/bench_controlnet.py                    # -> bench/results/controlnet.{json,md}
    python bench/bench_controlnet.py --real-size --device cuda    # -> bench/results/controlnet_real_size.*
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
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from tiles import plan  # noqa: E402

GOAL_OVERHEAD = 0.05
FLAIR_MASK = ROOT.parent / "shared" / "data" / "flair1_aerial_masks" / "MSK_067998.tif"

TINY = {
    "unet": {
        "sample_size": 16,
        "block_out_channels": (32, 64),
        "layers_per_block": 1,
        "cross_attention_dim": 32,
        "attention_head_dim": 8,
        "norm_num_groups": 8,
        "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D"),
    },
    "vae": {
        "block_out_channels": (32, 64),
        "down_block_types": ("DownEncoderBlock2D",) * 2,
        "up_block_types": ("UpDecoderBlock2D",) * 2,
        "latent_channels": 4,
        "norm_num_groups": 8,
        "layers_per_block": 1,
    },
    "text": {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 4},
    "conditioning": (16, 32),
}
SD21_BASE = {  # stabilityai/stable-diffusion-2-1-base shapes (the base Seg2Sat's ControlNet was trained on)
    "unet": {
        "sample_size": 64,
        "block_out_channels": (320, 640, 1280, 1280),
        "layers_per_block": 2,
        "cross_attention_dim": 1024,
        "attention_head_dim": (5, 10, 20, 20),
        "use_linear_projection": True,
    },
    "vae": {
        "block_out_channels": (128, 256, 512, 512),
        "down_block_types": ("DownEncoderBlock2D",) * 4,
        "up_block_types": ("UpDecoderBlock2D",) * 4,
        "latent_channels": 4,
        "layers_per_block": 2,
        "sample_size": 512,
    },
    "text": {
        "hidden_size": 1024,
        "intermediate_size": 4096,
        "num_hidden_layers": 23,
        "num_attention_heads": 16,
        "hidden_act": "gelu",
        "projection_dim": 512,
    },
    "conditioning": (16, 32, 96, 256),
}
SCHEDULER = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "steps_offset": 1,
    "prediction_type": "epsilon",
    "num_train_timesteps": 1000,
}


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


CLOCK = {"name": "wall"}


def clock() -> float:
    """Seconds: this process's CPU time when timing the CPU, else (GPUs) wall time."""
    return time.process_time() if CLOCK["name"] == "cpu" else time.perf_counter()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def intervals(stamps: list[float]) -> list[float]:
    """Intervals between consecutive per-step timestamps, the first (warm-up) dropped."""
    return [b - a for a, b in itertools.pairwise(stamps)][1:]


def build(shapes: dict, device: torch.device, dtype: torch.dtype, tmp: Path):
    """Random tokenizer, text encoder, UNet, ControlNet, VAE and UniPC scheduler as geogen's models."""
    from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel, UniPCMultistepScheduler
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from geogen.engines.diffusion.components import DiffusionComponents
    from geogen.engines.sketch_controlnet import SketchModels
    from geogen.store import ModelEntry
    from tests.diffusion.tiny_pipeline import MAX_TOKENS, write_tokenizer

    write_tokenizer(tmp / "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(str(tmp / "tokenizer"))
    n = len(tokenizer)
    torch.manual_seed(0)
    text = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=n,
            max_position_embeddings=MAX_TOKENS,
            bos_token_id=n - 2,
            eos_token_id=n - 1,
            pad_token_id=n - 1,
            **shapes["text"],
        )
    )
    unet = UNet2DConditionModel(**shapes["unet"])
    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=shapes["conditioning"])
    with torch.no_grad():  # fresh zero convolutions would make the ControlNet a no-op
        for p in controlnet.parameters():
            p.normal_(0, 0.02)
    vae = AutoencoderKL(**shapes["vae"])
    modules = [m.to(device) for m in (text, unet, controlnet, vae)]
    if dtype != torch.float32:
        modules = [m.to(dtype) for m in modules]
    text, unet, controlnet, vae = (m.eval().requires_grad_(False) for m in modules)
    scheduler = UniPCMultistepScheduler(**SCHEDULER)
    comps = DiffusionComponents("bench", tokenizer, text, vae, unet, scheduler, device, dtype)
    entry = ModelEntry("bench-sd", "sd-pipeline", tmp, {}, {})
    cn_entry = ModelEntry("bench-controlnet", "controlnet", tmp, {}, {})
    return SketchModels(entry, cn_entry, comps, controlnet)


def class_map(size: int) -> np.ndarray:
    """A (size, size) FLAIR class map: the real mask (tiled, cropped), else synthetic blocks of 5 classes."""
    if FLAIR_MASK.is_file():
        import rasterio

        with rasterio.open(FLAIR_MASK) as ds:
            mask = np.roll(ds.read(1), (-64, -416), axis=(0, 1))  # start where five classes meet
        reps = -(-size // mask.shape[0])
        return np.tile(mask, (reps, reps))[:size, :size]
    rows, cols = np.indices((size, size))
    return np.array([1, 2, 3, 7, 10], np.uint8)[((rows // 13) + (cols // 29)) % 5]


def time_geogen(
    engine, latent_shape: tuple[int, int], window: int, overlap: int, codes: np.ndarray, device: torch.device
) -> tuple[list[float], object]:
    stamps: list[float] = []
    per_step = len(plan(latent_shape, window, overlap))

    def progress(done: int, total: int) -> None:
        if done % per_step == 0:
            sync(device)
            stamps.append(clock())

    result = engine.denoise_area(
        latent_shape, window, overlap, lambda w: codes[w.slices], seed=0, cache_bytes=0, progress=progress
    )
    return intervals(stamps), result


def time_diffusers(
    pipe, prompt: str, image: torch.Tensor, size: int, steps: int, guidance: float, device: torch.device
) -> list[float]:
    stamps: list[float] = []

    def on_step_end(pipeline, i, t, kwargs):
        sync(device)
        stamps.append(clock())
        return kwargs

    pipe(
        prompt,
        image=image,
        height=size,
        width=size,
        num_inference_steps=steps,
        guidance_scale=guidance,
        negative_prompt="",
        output_type="latent",
        generator=torch.Generator().manual_seed(0),
        callback_on_step_end=on_step_end,
    )
    return intervals(stamps)


def per_step(models, args, latent: int, factor: int, device: torch.device) -> dict:
    from diffusers import StableDiffusionControlNetPipeline

    from geogen.engines.sketch_controlnet import ControlNetSketchEngine, SketchSettings, make_scheduler
    from geogen.landcover.vocab import render_condition

    comps = models.comps
    size = latent * factor
    codes = class_map(size)
    engine = ControlNetSketchEngine(
        models, SketchSettings(steps=args.steps, guidance_scale=args.guidance, scheduler="unipc")
    )
    prompt = engine.prompt_for(codes)
    image = (torch.from_numpy(render_condition(codes)).float()[None] / 255).to(device, comps.dtype)
    pipe = StableDiffusionControlNetPipeline(
        vae=comps.vae,
        text_encoder=comps.text_encoder,
        tokenizer=comps.tokenizer,
        unet=comps.unet,
        controlnet=models.controlnet,
        scheduler=make_scheduler("unipc", comps.scheduler.config),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    ours: list[float] = []
    theirs: list[float] = []
    with torch.no_grad():
        for _ in range(args.repeats):  # interleaved, so drifting machine load hits both alike
            ours += time_geogen(engine, (latent, latent), latent, 0, codes, device)[0]
            theirs += time_diffusers(pipe, prompt, image, size, args.steps, args.guidance, device)
    geo, dif = statistics.median(ours), statistics.median(theirs)
    return {
        "latent": latent,
        "pixels": size,
        "steps": args.steps,
        "guidance": args.guidance,
        "repeats": args.repeats,
        "geogen_step_s": round(geo, 5),
        "diffusers_step_s": round(dif, 5),
        "geogen_step_iqr_s": [round(q, 5) for q in statistics.quantiles(ours, n=4)[::2]],
        "diffusers_step_iqr_s": [round(q, 5) for q in statistics.quantiles(theirs, n=4)[::2]],
        "overhead": round(geo / dif - 1, 4),
        "meets_goal": geo / dif - 1 <= GOAL_OVERHEAD,
    }


def tiled_run(models, args, latent: int, factor: int, device: torch.device) -> dict:
    """A canvas of 3 x 3 windows of ``latent`` (quarter overlap) against one window alone, per step."""
    from geogen.engines.sketch_controlnet import ControlNetSketchEngine, SketchSettings

    overlap = latent // 4
    side = 3 * latent - 2 * overlap
    codes = class_map(side * factor)
    engine = ControlNetSketchEngine(models, SketchSettings(steps=args.steps, guidance_scale=args.guidance))
    times: dict[str, list[float]] = {"tiled": [], "single": []}
    prompts = 0
    with torch.no_grad():
        for _ in range(args.repeats):
            steps, result = time_geogen(engine, (side, side), latent, overlap, codes, device)
            times["tiled"] += steps
            prompts = len(result.prompts)
            times["single"] += time_geogen(engine, (latent, latent), latent, 0, codes, device)[0]
    tiled, single = statistics.median(times["tiled"]), statistics.median(times["single"])
    return {
        "canvas_latent": side,
        "window_latent": latent,
        "overlap_latent": overlap,
        "windows": 9,
        "distinct_prompts": prompts,
        "tiled_step_s": round(tiled, 5),
        "single_window_step_s": round(single, 5),
        "tiled_overhead": round(tiled / (9 * single) - 1, 4),
    }


def summary_md(result: dict) -> str:
    """The Markdown summary of ``result``."""
    m, t, first = result["machine"], result["tiled"], result["per_step"][0]
    unet_m, cn_m = result["unet_params"] / 1e6, result["controlnet_params"] / 1e6
    lines = [
        f"# ControlNet sketch engine overhead ({time.strftime('%Y-%m-%d')}, `{result['command']}`)",
        f"- Machine: {m['cpu_model']}, {m['logical_cpus']} logical CPUs, torch threads {m['torch_threads']} "
        f"(OMP_NUM_THREADS={m['omp_num_threads']}); device {m['device']} ({m['device_name']}), {m['dtype']}; "
        f"torch {m['torch']}, diffusers {m['diffusers']}; clock: {m['clock']}.",
        f"- Models: random {result['size']} UNet ({unet_m:.2f} M parameters) + ControlNet ({cn_m:.2f} M), "
        f"UniPC, guidance {first['guidance']} (both halves in one call), {first['steps']} steps x "
        f"{first['repeats']} interleaved runs per size; condition: {result['condition']}; medians of "
        "per-step intervals (interquartile range in brackets, s).",
    ]
    goal = f"goal <= {GOAL_OVERHEAD * 100:.0f} %"
    for s in result["per_step"]:
        ours, theirs = s["geogen_step_s"] * 1e3, s["diffusers_step_s"] * 1e3
        lines.append(
            f"- Latent {s['latent']}^2 ({s['pixels']}^2 px), per step: geogen {ours:.2f} ms "
            f"{s['geogen_step_iqr_s']} vs diffusers StableDiffusionControlNetPipeline {theirs:.2f} ms "
            f"{s['diffusers_step_iqr_s']}: overhead {s['overhead'] * 100:+.1f} % "
            f"({goal}: {'met' if s['meets_goal'] else 'NOT met'})."
        )
    tiled, single = t["tiled_step_s"] * 1e3, t["single_window_step_s"] * 1e3
    lines.append(
        f"- Tiled: {t['canvas_latent']}^2 latent canvas in 3 x 3 windows of {t['window_latent']}^2 (overlap "
        f"{t['overlap_latent']}), {t['distinct_prompts']} distinct window prompts: step {tiled:.1f} ms vs "
        f"9 x {single:.2f} ms for one window alone: {t['tiled_overhead'] * 100:+.1f} % (blending, per-window "
        "conditions rendered every step)."
    )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--real-size", action="store_true", help="SD-2.1-base-shaped random components (GPUs)"
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument(
        "--latents",
        type=int,
        nargs="+",
        default=None,
        help="latent sides to time (default 8 32 tiny; 64 96 real size)",
    )
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=7.5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    import diffusers

    from geogen.engines.diffusion import select_device, select_dtype

    torch.set_num_threads(args.threads)
    device = select_device(args.device)
    dtype = select_dtype(device, args.dtype)
    CLOCK["name"] = "cpu" if device.type == "cpu" else "wall"
    shapes = SD21_BASE if args.real_size else TINY
    args.latents = args.latents or ([64, 96] if args.real_size else [8, 32])
    with tempfile.TemporaryDirectory() as tmp:
        models = build(shapes, device, dtype, Path(tmp))
        factor = models.comps.vae_scale_factor
        result = {
            "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
            "size": "SD-2.1-base-shaped" if args.real_size else "tiny",
            "unet_params": sum(p.numel() for p in models.comps.unet.parameters()),
            "controlnet_params": sum(p.numel() for p in models.controlnet.parameters()),
            "condition": f"FLAIR-1 mask {FLAIR_MASK.name}" if FLAIR_MASK.is_file() else "synthetic class map",
            "machine": {
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
            },
            "per_step": [per_step(models, args, latent, factor, device) for latent in args.latents],
            "tiled": tiled_run(models, args, min(args.latents), factor, device),
        }
    if device.type == "cuda":
        result["machine"]["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    stem = "controlnet_real_size" if args.real_size else "controlnet"
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (args.results / f"{stem}.md").write_text(summary_md(result), encoding="utf-8")
    print(summary_md(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
