"""Benchmark: geogen's latent-window denoising against a bare diffusers pipeline, and its window efficiency.

1. Per-denoising-step time of ``geogen.diffusion.latent_tiling.denoise`` on one window covering the canvas
   (so the work is the same) against diffusers' ``StableDiffusionPipeline`` with the same UNet, scheduler
   (DDIM, v-prediction), latent size, steps and guidance, prompt embeddings given, no decode. Runs are
   interleaved; each run's step intervals come from its own per-step callback (synchronised on GPUs; on the
   CPU the clock is this process's CPU time, so other processes sharing the cores do not count); the first
   interval is dropped as warm-up. Goal: geogen's median step at most 5 % slower.
2. Latent-window efficiency for several square areas: UNet window evaluations per output latent pixel with
   geogen's default plan (512 px windows, a quarter overlap) vs abutting windows (the no-overlap ideal) and
   vs diffusers' panorama default (stride 8 latent pixels); one tiled run checks the count and times the
   blending.

Random weights, nothing downloaded. Default: DiffusionSat-shaped tiny components on the CPU (what CI machines
have). ``--real-size`` builds SD-2.1-shaped components (SatUNet 866 M parameters) for a GPU run:

    .venv/bin/python bench/bench_diffusion.py                    # -> bench/results/diffusion.{json,md}
    python bench/bench_diffusion.py --real-size --device cuda    # -> bench/results/diffusion_real_size.*
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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
from tests.tiny_models import SCHEDULER, TINY_UNET, TINY_VAE  # noqa: E402

AREAS_PX = (512, 1024, 2048, 4096, 10240)

SD21_UNET = {**SD2_UNET, "sample_size": 96, "upcast_attention": True}  # SD-2.1 (768 px, v-prediction)
SD21_VAE = {**SD2_VAE, "sample_size": 768}


def build(real_size: bool, device: torch.device, dtype: torch.dtype):
    """Random UNet (SatUNet), VAE and scheduler of the chosen shape, on ``device`` in ``dtype``."""
    from diffusers import AutoencoderKL, DDIMScheduler

    from geogen.models import SatUNet

    torch.manual_seed(0)
    with torch.device(device):
        unet = SatUNet(**(SD21_UNET if real_size else TINY_UNET))
        vae = AutoencoderKL(**(SD21_VAE if real_size else TINY_VAE))
    if dtype != torch.float32:
        unet, vae = unet.to(dtype), vae.to(dtype)
    unet = unet.eval().requires_grad_(False)
    vae = vae.eval().requires_grad_(False)
    return unet, vae, DDIMScheduler(**SCHEDULER)


def time_geogen(
    unet, scheduler, latent: int, steps: int, guidance: float, embeds, device, dtype
) -> list[float]:
    from geogen.diffusion.latent_tiling import TextConditioning, denoise, initial_noise, plan_windows

    windows = plan_windows((latent, latent), latent, 0)
    stamps: list[float] = []

    def progress(done: int, total: int) -> None:
        stamp(stamps, device)

    stamp(stamps, device)
    denoise(
        unet,
        scheduler,
        initial_noise((4, latent, latent), 0),
        windows,
        TextConditioning(*embeds),
        steps=steps,
        guidance_scale=guidance,
        window_batch_size=1,
        progress=progress,
        device=device,
        dtype=dtype,
    )
    return step_intervals(stamps)


def time_diffusers(
    pipe, latent: int, factor: int, steps: int, guidance: float, embeds, device
) -> list[float]:
    stamps: list[float] = []
    stamp(stamps, device)
    pipe(
        prompt_embeds=embeds[0],
        negative_prompt_embeds=embeds[1],
        height=latent * factor,
        width=latent * factor,
        num_inference_steps=steps,
        guidance_scale=guidance,
        output_type="latent",
        generator=torch.Generator().manual_seed(0),
        callback_on_step_end=stamp_on_step_end(stamps, device),
    )
    return step_intervals(stamps)


def per_step(unet, vae, scheduler, args, latent: int, device, dtype) -> dict:
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    cross = unet.config.cross_attention_dim
    gen = torch.Generator().manual_seed(1)
    embeds = (
        torch.randn(1, 77, cross, generator=gen).to(device, dtype),
        torch.randn(1, 77, cross, generator=gen).to(device, dtype),
    )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=None,
        tokenizer=None,
        unet=unet,
        scheduler=DDIMScheduler(**SCHEDULER),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    ours: list[float] = []
    theirs: list[float] = []
    with torch.no_grad():
        for _ in range(args.repeats):  # interleaved, so drifting machine load hits both alike
            ours += time_geogen(unet, scheduler, latent, args.steps, args.guidance, embeds, device, dtype)
            theirs += time_diffusers(pipe, latent, factor, args.steps, args.guidance, embeds, device)
    return overhead_row(
        ours,
        theirs,
        latent=latent,
        pixels=latent * factor,
        steps=args.steps,
        guidance=args.guidance,
        repeats=args.repeats,
    )


def efficiency(window_px: int = 512, factor: int = 8) -> list[dict]:
    """Window evaluations per output latent pixel, from the plans (no model needed)."""
    from affine import Affine

    from geogen.diffusion.layout import latent_layout
    from tiles import Grid, count_tiles

    rows = []
    for size in AREAS_PX:
        grid = Grid(size, size, Affine(1.0, 0, 0, 0, -1.0, size), "EPSG:32633")
        layout = latent_layout(grid, factor=factor, unet_factor=8, window_px=window_px)
        n = layout.latent_shape[0]
        w = layout.window
        out_latent = (size / factor) ** 2
        geogen = layout.n_windows
        ideal = (-(-n // w)) ** 2
        panorama = count_tiles((n, n), w, w - 8)
        rows.append(
            {
                "area_px": size,
                "latent": n,
                "windows": geogen,
                "evals_per_latent_px": round(geogen * w * w / out_latent, 3),
                "no_overlap_windows": ideal,
                "no_overlap_evals_per_latent_px": round(ideal * w * w / out_latent, 3),
                "vs_no_overlap": round(geogen / ideal, 3),
                "panorama_stride8_windows": panorama,
                "panorama_evals_per_latent_px": round(panorama * w * w / out_latent, 3),
            }
        )
    return rows


def tiled_run(unet, scheduler, args, device, dtype) -> dict:
    """A 4x-window canvas: count window evaluations, compare its step time with its windows' alone."""
    from geogen.diffusion.latent_tiling import (
        DenoiseStats,
        TextConditioning,
        denoise,
        initial_noise,
        plan_windows,
    )

    unet_factor = 2 ** (len(unet.config.block_out_channels) - 1)
    w = max(unet_factor, args.latents[-1] // 2 // unet_factor * unet_factor)
    canvas = (2 * w, 2 * w)
    cross = unet.config.cross_attention_dim
    text = TextConditioning(
        torch.randn(1, 77, cross, generator=torch.Generator().manual_seed(2)).to(device, dtype)
    )
    tiled = plan_windows(canvas, w, w // 4)
    single = plan_windows((w, w), w, 0)
    stats = DenoiseStats()
    times = {"tiled": [], "single": []}
    for _ in range(args.repeats):
        for name, windows, shape in (("tiled", tiled, canvas), ("single", single, (w, w))):
            stamps: list[float] = []

            def progress(
                done: int, total: int, stamps: list[float] = stamps, per_step: int = len(windows)
            ) -> None:
                if done % per_step == 0:  # the step's last window
                    stamp(stamps, device)

            stamp(stamps, device)
            denoise(
                unet,
                scheduler,
                initial_noise((4, *shape), 0),
                windows,
                text,
                steps=args.steps,
                guidance_scale=1.0,
                window_batch_size=1,
                device=device,
                dtype=dtype,
                stats=stats if name == "tiled" else None,
                progress=progress,
            )
            times[name] += step_intervals(stamps)
    t_tiled, t_single = statistics.median(times["tiled"]), statistics.median(times["single"])
    return {
        "canvas_latent": list(canvas),
        "window_latent": w,
        "overlap_latent": w // 4,
        "windows": len(tiled),
        "window_evaluations_per_step": stats.window_evaluations / (args.steps * args.repeats),
        "tiled_step_s": round(t_tiled, 5),
        "single_window_step_s": round(t_single, 5),
        "blend_overhead": round(t_tiled / (len(tiled) * t_single) - 1, 4),
    }


def summary_md(result: dict) -> str:
    """The Markdown summary of ``result``."""
    m, runs, t = result["machine"], result["per_step"], result["tiled"]
    first = runs[0]
    params = result["unet_params"] / 1e6
    lines = [
        f"# Diffusion engine overhead ({time.strftime('%Y-%m-%d')}, `{result['command']}`)",
        (
            f"- Machine: {m['cpu_model']}, {m['logical_cpus']} logical CPUs, "
            f"torch threads {m['torch_threads']}; device {m['device']} ({m['device_name']}), {m['dtype']}; "
            f"torch {m['torch']}, diffusers {m['diffusers']}."
        ),
        (
            f"- Model: random {result['size']} SatUNet ({params:.1f} M parameters), DDIM v-prediction, "
            f"guidance {first['guidance']} (both halves in one call), {first['steps']} steps x "
            f"{first['repeats']} interleaved runs per size; medians of per-step intervals, {m['clock']} "
            "(interquartile range in brackets, s)."
        ),
    ]
    goal = f"goal <= {GOAL_OVERHEAD * 100:.0f} %"
    for s in runs:
        verdict = "met" if s["meets_goal"] else "NOT met"
        lines.append(
            f"- Latent {s['latent']}^2 ({s['pixels']}^2 px), per denoising step: geogen "
            f"{s['geogen_step_s'] * 1e3:.2f} ms {s['geogen_step_iqr_s']} vs diffusers "
            "StableDiffusionPipeline "
            f"{s['diffusers_step_s'] * 1e3:.2f} ms {s['diffusers_step_iqr_s']}: overhead "
            f"{s['overhead'] * 100:+.1f} % ({goal}: {verdict})."
        )
    lines.append(
        f"- Tiled run, {t['canvas_latent'][0]}^2 latent canvas in {t['windows']} windows of "
        f"{t['window_latent']}^2 (overlap {t['overlap_latent']}): "
        f"{t['window_evaluations_per_step']:g} window evaluations per step; step "
        f"{t['tiled_step_s'] * 1e3:.1f} ms vs {t['windows']} x "
        f"{t['single_window_step_s'] * 1e3:.2f} ms for its windows alone: blending overhead "
        f"{t['blend_overhead'] * 100:+.1f} %."
    )
    lines += [
        (
            "- Window efficiency (512 px windows, 128 px overlap, 8x VAE): UNet window evaluations per "
            "output latent pixel, geogen / abutting windows (no-overlap ideal) / diffusers panorama "
            "default (stride 8):"
        ),
        "",
        "| area (px) | windows | evals / latent px | no-overlap | geogen / ideal | panorama stride 8 |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["efficiency"]:
        lines.append(
            f"| {r['area_px']}^2 | {r['windows']} | {r['evals_per_latent_px']} | "
            f"{r['no_overlap_evals_per_latent_px']} | {r['vs_no_overlap']} | "
            f"{r['panorama_evals_per_latent_px']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    args = parse_args(
        __doc__.splitlines()[0],
        "SD-2.1-shaped random components (for GPUs)",
        "latent sides to time (default 8 32 tiny: UNet-light and UNet-heavy; 64 96 real size)",
    )
    device, dtype = setup(args)
    unet, vae, scheduler = build(args.real_size, device, dtype)
    result = {
        "command": command(),
        "size": "SD-2.1-shaped" if args.real_size else "tiny",
        "unet_params": sum(p.numel() for p in unet.parameters()),
        "machine": machine(device, dtype),
        "per_step": [per_step(unet, vae, scheduler, args, latent, device, dtype) for latent in args.latents],
        "tiled": tiled_run(unet, scheduler, args, device, dtype),
        "efficiency": efficiency(),
    }
    stem = "diffusion_real_size" if args.real_size else "diffusion"
    write_results(result, device, args.results, stem, summary_md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
