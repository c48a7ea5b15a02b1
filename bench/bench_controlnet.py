"""Benchmark: the ControlNet sketch engine's per-step cost against a bare diffusers ControlNet pipeline.

1. Per-denoising-step time of ``ControlNetSketcher.denoise_area`` on one window covering the canvas (the
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

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench._common import (  # noqa: E402
    GOAL_OVERHEAD,
    SD2_UNET,
    SD2_VAE,
    command,
    machine,
    overhead_row,
    parse_args,
    setup,
    stamp,
    stamp_on_step_end,
    step_intervals,
    write_results,
)
from tests.tiny_models import TINY_UNET, TINY_VAE  # noqa: E402
from tiles import plan  # noqa: E402

FLAIR_MASK = ROOT.parent / "shared" / "data" / "flair1_aerial_masks" / "MSK_067998.tif"

TINY = {
    "unet": TINY_UNET,
    "vae": TINY_VAE,
    "text": {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 4},
    "conditioning": (16, 32),
}
SD21_BASE = {  # stabilityai/stable-diffusion-2-1-base shapes (the base Seg2Sat's ControlNet was trained on)
    "unet": {**SD2_UNET, "sample_size": 64},
    "vae": {**SD2_VAE, "sample_size": 512},
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


def build(shapes: dict, device: torch.device, dtype: torch.dtype, tmp: Path):
    """Random tokenizer, text encoder, UNet, ControlNet, VAE and UniPC scheduler as geogen's models."""
    from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel, UniPCMultistepScheduler
    from transformers import CLIPTextModel, CLIPTokenizer

    from geogen.diffusion.components import DiffusionComponents
    from geogen.engines.sketch_controlnet.models import SketchModels
    from geogen.store import ModelEntry
    from tests.tiny_models import clip_text_config, write_tokenizer

    write_tokenizer(tmp / "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(str(tmp / "tokenizer"))
    n = len(tokenizer)
    torch.manual_seed(0)
    text = CLIPTextModel(clip_text_config(n, **shapes["text"]))
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
            stamp(stamps, device)

    result = engine.denoise_area(
        latent_shape, window, overlap, lambda w: codes[w.slices], seed=0, cache_bytes=0, progress=progress
    )
    return step_intervals(stamps), result


def time_diffusers(
    pipe, prompt: str, image: torch.Tensor, size: int, steps: int, guidance: float, device: torch.device
) -> list[float]:
    stamps: list[float] = []
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
        callback_on_step_end=stamp_on_step_end(stamps, device),
    )
    return step_intervals(stamps)


def per_step(models, args, latent: int, factor: int, device: torch.device) -> dict:
    from diffusers import StableDiffusionControlNetPipeline

    from geogen.engines.sketch_controlnet.engine import ControlNetSketcher, SketchSettings, make_scheduler
    from geogen.landcover.vocab import render_condition

    comps = models.comps
    size = latent * factor
    codes = class_map(size)
    engine = ControlNetSketcher(
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
    return overhead_row(
        ours,
        theirs,
        latent=latent,
        pixels=size,
        steps=args.steps,
        guidance=args.guidance,
        repeats=args.repeats,
    )


def tiled_run(models, args, latent: int, factor: int, device: torch.device) -> dict:
    """A canvas of 3 x 3 windows of ``latent`` (quarter overlap) against one window alone, per step."""
    from geogen.engines.sketch_controlnet.engine import ControlNetSketcher, SketchSettings

    overlap = latent // 4
    side = 3 * latent - 2 * overlap
    codes = class_map(side * factor)
    engine = ControlNetSketcher(models, SketchSettings(steps=args.steps, guidance_scale=args.guidance))
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
    args = parse_args(
        __doc__.splitlines()[0],
        "SD-2.1-base-shaped random components (GPUs)",
        "latent sides to time (default 8 32 tiny; 64 96 real size)",
    )
    device, dtype = setup(args)
    shapes = SD21_BASE if args.real_size else TINY
    with tempfile.TemporaryDirectory() as tmp:
        models = build(shapes, device, dtype, Path(tmp))
        factor = models.comps.vae_scale_factor
        result = {
            "command": command(),
            "size": "SD-2.1-base-shaped" if args.real_size else "tiny",
            "unet_params": sum(p.numel() for p in models.comps.unet.parameters()),
            "controlnet_params": sum(p.numel() for p in models.controlnet.parameters()),
            "condition": f"FLAIR-1 mask {FLAIR_MASK.name}" if FLAIR_MASK.is_file() else "synthetic class map",
            "machine": machine(device, dtype),
            "per_step": [per_step(models, args, latent, factor, device) for latent in args.latents],
            "tiled": tiled_run(models, args, min(args.latents), factor, device),
        }
    stem = "controlnet_real_size" if args.real_size else "controlnet"
    write_results(result, device, args.results, stem, summary_md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
