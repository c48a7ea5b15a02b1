"""`geogen text "PROMPT" --aoi AREA --gsd M --model NAME -o OUT.tif`: a synthetic scene of an area from a
prompt."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from geogen import api
from geogen.api import CancelToken, Result
from geogen.cli.execute import execute
from geogen.cli.options import (
    aoi_crs_option,
    aoi_option,
    date_option,
    engine_option,
    engine_options_option,
    merge_engine_options,
    output_option,
    overwrite_option,
    parse_aoi,
    progress_option,
    seed_option,
)
from geogen.progress import Reporter


@click.command("text")
@click.argument("prompt")
@aoi_option
@aoi_crs_option
@click.option(
    "--gsd", type=float, required=True, help="output pixel size in metres (also the model's GSD input)"
)
@date_option
@click.option("--cloud-cover", type=float, default=None, help="cloud fraction 0..1 (default: unknown)")
@click.option(
    "--model", default=None, help="DiffusionSat model: a name from `geogen models list`, or a folder"
)
@click.option("--steps", type=int, default=None, help="denoising steps (default 50)")
@click.option(
    "--guidance",
    type=float,
    default=7.5,
    show_default=True,
    help="classifier-free guidance scale (1 = off, half the work)",
)
@seed_option
@engine_option
@click.option("--device", default=None, help="auto (default), cpu, cuda, cuda:N or mps")
@click.option("--dtype", default=None, help="auto (default: fp16 on GPUs, fp32 on CPU), fp32, fp16, bf16")
@click.option(
    "--window-batch-size", type=int, default=None, help="latent windows per UNet call (default 4 GPU, 1 CPU)"
)
@click.option(
    "--cpu-offload",
    is_flag=True,
    help="keep model parts in CPU memory between their phases (less GPU memory)",
)
@click.option("--attention-slicing", is_flag=True, help="compute attention in slices (less memory, slower)")
@click.option(
    "--max-tiles", type=int, default=4096, show_default=True, help="refuse areas needing more windows"
)
@click.option(
    "--out-crs", default=None, help="CRS to write in (default: the metric working grid's, e.g. UTM)"
)
@engine_options_option
@output_option
@overwrite_option
@progress_option
def text(
    prompt: str,
    aoi: str | None,
    aoi_crs: str | None,
    gsd: float,
    date: dt.datetime | None,
    cloud_cover: float | None,
    model: str | None,
    steps: int | None,
    guidance: float,
    seed: int,
    engine: str | None,
    device: str | None,
    dtype: str | None,
    window_batch_size: int | None,
    cpu_offload: bool,
    attention_slicing: bool,
    max_tiles: int,
    out_crs: str | None,
    engine_options: tuple[str, ...],
    output: Path,
    overwrite: bool,
    progress: str,
) -> None:
    """Generate a synthetic satellite image of an area from PROMPT ("a fmow satellite image of a farm")."""

    def call(reporter: Reporter, token: CancelToken) -> Result:
        if aoi is None:
            raise click.UsageError(
                "an area of interest is needed: --aoi FILE (polygons) or --aoi left,bottom,right,top"
            )
        options = {
            "device": device,
            "dtype": dtype,
            "window_batch_size": window_batch_size,
            "cpu_offload": cpu_offload or None,
            "attention_slicing": attention_slicing or None,
        }
        return api.text(
            prompt,
            parse_aoi(aoi),  # type: ignore[arg-type]  # not None: checked above
            gsd,
            output,
            aoi_crs=aoi_crs,
            date=date.date() if date else None,
            cloud_cover=cloud_cover,
            model=model,
            steps=steps,
            guidance_scale=guidance,
            engine=engine,
            options=merge_engine_options(engine_options, options),
            seed=seed,
            max_tiles=max_tiles,
            out_crs=out_crs,
            overwrite=overwrite,
            progress=reporter,
            cancel=token,
        )

    execute(call, progress)
