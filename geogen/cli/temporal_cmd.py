"""`geogen temporal INPUTS... --target-date D [...] --model M --controlnet CN -o OUTDIR`: a dated stack of the
same place, observed frames plus generated ones."""

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
    engine_option,
    engine_options_option,
    merge_engine_options,
    overwrite_option,
    parse_aoi,
    progress_option,
    seed_option,
)
from geogen.progress import Reporter

AUTO = "auto"


def _date(text: str, hint: str) -> str | None:
    """An ISO date string, or None for ``auto`` (read from the file)."""
    text = text.strip()
    if text.lower() in (AUTO, ""):
        return None
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise click.BadParameter(
            f"expected a date YYYY-MM-DD (or '{AUTO}'), got {text!r}", param_hint=hint
        ) from None


def _dates(value: str | None, count: int) -> list[str | None]:
    """``--dates`` split into one entry per input (``auto`` entries read the date from the file)."""
    if value is None:
        return [None] * count
    parts = value.split(",")
    if len(parts) != count:
        raise click.BadParameter(
            f"give one date per input ({count}), comma-separated, '{AUTO}' to read one from its file; got "
            f"{len(parts)}",
            param_hint="--dates",
        )
    return [_date(p, "--dates") for p in parts]


@click.command("temporal")
@click.argument("inputs", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--dates",
    default=None,
    help=f"dates of INPUTS, comma-separated YYYY-MM-DD, '{AUTO}' for one read from its file "
    "(default: all read from tags, a geogen result.json beside them, or the file names)",
)
@click.option(
    "--target-date",
    "target_dates",
    multiple=True,
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="date to generate, YYYY-MM-DD (repeatable)",
)
@click.option(
    "--seed-image",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="an image to start the sequence from (with or instead of INPUTS)",
)
@click.option(
    "--seed-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="date of --seed-image (default: read from the file)",
)
@click.option(
    "--cloud-max",
    type=click.FloatRange(0, 1),
    default=None,
    help="drop input frames cloudier than this fraction over the area (needs a cloud band)",
)
@aoi_option
@aoi_crs_option
@click.option(
    "--gsd", type=float, default=None, help="output pixel size in metres (default: the first frame's)"
)
@click.option(
    "--model", default=None, help="DiffusionSat model: a name from `geogen models list`, or a folder"
)
@click.option("--controlnet", default=None, help="DiffusionSat 3-D (temporal) ControlNet: a name or a folder")
@click.option("--prompt", default=None, help='caption for every frame (default "a satellite image")')
@click.option(
    "--frames", type=click.IntRange(1, 16), default=None, help="conditioning frames per step (default 3)"
)
@click.option("--steps", type=click.IntRange(1, 1000), default=None, help="denoising steps (default 50)")
@click.option("--guidance", type=float, default=None, help="classifier-free guidance (default 1 = off)")
@seed_option
@engine_option
@click.option("--device", default=None, help="auto, cpu, cuda, cuda:N or mps")
@click.option("--dtype", default=None, help="auto (fp16 on GPUs, fp32 on CPU), fp32, fp16, bf16")
@click.option(
    "--max-tiles",
    type=int,
    default=4096,
    show_default=True,
    help="refuse sequences needing more latent windows (all dates together)",
)
@click.option("--out-crs", default=None, help="metric CRS to write in (default: the area's or the frames')")
@click.option("--name", default="sequence", show_default=True, help="file stem: NAME_YYYY-MM-DD.tif, NAME.nc")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="output folder (created if missing)",
)
@engine_options_option
@overwrite_option
@progress_option
def temporal(
    inputs: tuple[Path, ...],
    dates: str | None,
    target_dates: tuple[dt.datetime, ...],
    seed_image: Path | None,
    seed_date: dt.datetime | None,
    cloud_max: float | None,
    aoi: str | None,
    aoi_crs: str | None,
    gsd: float | None,
    model: str | None,
    controlnet: str | None,
    prompt: str | None,
    frames: int | None,
    steps: int | None,
    guidance: float | None,
    seed: int,
    engine: str | None,
    device: str | None,
    dtype: str | None,
    max_tiles: int,
    out_crs: str | None,
    name: str,
    output: Path,
    engine_options: tuple[str, ...],
    overwrite: bool,
    progress: str,
) -> None:
    """Build a time stack of one place from INPUTS (dated rasters) and/or --seed-image, generating every
    --target-date; writes NAME_YYYY-MM-DD.tif per date, NAME.nc and result.json into OUTPUT."""

    def call(reporter: Reporter, token: CancelToken) -> Result:
        given = _dates(dates, len(inputs))
        if seed_date is not None and seed_image is None:
            raise click.UsageError("--seed-date needs --seed-image")
        options = {
            "controlnet": controlnet,
            "frames": frames,
            "guidance_scale": guidance,
            "device": device,
            "dtype": dtype,
        }
        return api.temporal(
            list(zip(inputs, given, strict=True)),
            output,
            target_dates=[d.date() for d in target_dates],
            seed_image=(seed_image, seed_date.date() if seed_date else None) if seed_image else None,
            cloud_max=cloud_max,
            aoi=parse_aoi(aoi),
            aoi_crs=aoi_crs,
            gsd=gsd,
            model=model,
            prompt=prompt,
            steps=steps,
            engine=engine,
            options=merge_engine_options(engine_options, options),
            seed=seed,
            max_tiles=max_tiles,
            out_crs=out_crs,
            name=name,
            overwrite=overwrite,
            progress=reporter,
            cancel=token,
        )

    execute(call, progress)
