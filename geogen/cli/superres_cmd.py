"""`geogen superres INPUT -o OUT.tif`: Sentinel-2 bands to a finer grid."""

from __future__ import annotations

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
    max_tiles_option,
    merge_engine_options,
    out_crs_option,
    output_option,
    overwrite_option,
    parse_aoi,
    progress_option,
    seed_option,
)
from geogen.progress import Reporter


@click.command("superres")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@output_option
@engine_option
@click.option(
    "--bands", default=None, help="comma-separated bands to output, e.g. B02,B03,B04,B8A (default: all)"
)
@click.option("--target-gsd", type=float, default=None, help="output pixel size in metres (default 10)")
@click.option(
    "--model",
    default=None,
    help="SR ControlNet (diffusionsat engine) or 3-D ControlNet (diffusionsat-3d "
    "engine): store name or folder",
)
@click.option(
    "--scale", type=click.IntRange(min=1), default=None, help="upscaling factor (diffusionsat engines)"
)
@click.option(
    "--steps", type=click.IntRange(1, 1000), default=None, help="denoising steps (diffusionsat engines)"
)
@click.option(
    "--consistency",
    type=click.Choice(["project", "lowpass", "histogram", "off"]),
    default=None,
    help="consistency step of the diffusionsat engine (default: project)",
)
@click.option(
    "--date",
    "dated",
    multiple=True,
    metavar="PATH=YYYY-MM-DD",
    help="an extra dated stack of the same area (repeatable; diffusionsat engine: one output per date; "
    "diffusionsat-3d: one output at INPUT's date, conditioned on the nearest dates)",
)
@aoi_option
@aoi_crs_option
@out_crs_option
@max_tiles_option
@engine_options_option
@seed_option
@overwrite_option
@progress_option
def superres(
    input_path: Path,
    output: Path,
    engine: str | None,
    bands: str | None,
    target_gsd: float | None,
    model: str | None,
    scale: int | None,
    steps: int | None,
    consistency: str | None,
    dated: tuple[str, ...],
    aoi: str | None,
    aoi_crs: str | None,
    out_crs: str | None,
    max_tiles: int,
    engine_options: tuple[str, ...],
    seed: int,
    overwrite: bool,
    progress: str,
) -> None:
    """Super-resolve a Sentinel-2 INPUT (band folder, multi-band GeoTIFF, .SAFE folder or .zip)."""

    def call(reporter: Reporter, token: CancelToken) -> Result:
        return api.superres(
            input_path,
            output,
            engine=engine,
            bands=[b.strip() for b in bands.split(",")] if bands else None,
            target_gsd=target_gsd,
            aoi=parse_aoi(aoi),
            aoi_crs=aoi_crs,
            dated_inputs=[_dated(spec) for spec in dated],
            model=model,
            steps=steps,
            options=merge_engine_options(
                engine_options,
                {"scale": scale, "consistency": False if consistency == "off" else consistency},
            ),
            seed=seed,
            out_crs=out_crs,
            max_tiles=max_tiles,
            overwrite=overwrite,
            progress=reporter,
            cancel=token,
        )

    execute(call, progress)


def _dated(spec: str) -> tuple[str, str]:
    """``PATH=YYYY-MM-DD`` -> (path, date)."""
    path, sep, date = spec.rpartition("=")
    if not sep or not path:
        raise click.BadParameter(f"expected PATH=YYYY-MM-DD, got {spec!r}", param_hint="--date")
    return path, date
