"""`geogen sketch LANDCOVER -o OUT.tif`: land-cover polygons or raster -> synthetic image."""

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


@click.command("sketch")
@click.argument("landcover", type=click.Path(path_type=Path))
@output_option
@click.option("--class-field", default=None, help="attribute holding each polygon's class (vector input)")
@click.option("--layer", default=None, help="layer name inside a GeoPackage")
@click.option(
    "--mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON file mapping input class values to the engine's classes",
)
@click.option("--vocabulary", default="flair19", show_default=True, help="engine class vocabulary")
@engine_option
@click.option(
    "--gsd", type=float, default=None, help="output pixel size in metres (default: engine's native)"
)
@date_option
@click.option("--place", default=None, help="place name for prompts (diffusion engines)")
@click.option("--prompt", default=None, help="extra prompt text (diffusion engines)")
@click.option(
    "--exemplar-image",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="example RGB image (exemplar engine; default: bundled FLAIR patches)",
)
@click.option(
    "--exemplar-mask",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="class map of --exemplar-image, in the vocabulary's codes",
)
@click.option(
    "--model", default=None, help="base model (controlnet engine): SD pipeline or DiffusionSat, name or path"
)
@click.option("--controlnet", default=None, help="land-cover ControlNet (controlnet engine), name or path")
@click.option(
    "--lora",
    "loras",
    multiple=True,
    metavar="NAME[:STRENGTH]",
    help="LoRA style (controlnet engine), repeatable; strength defaults to 1",
)
@click.option(
    "--steps", type=click.IntRange(1, 1000), default=None, help="denoising steps (controlnet engine)"
)
@click.option("--guidance-scale", type=float, default=None, help="classifier-free guidance (default 7.5)")
@click.option(
    "--controlnet-scale", type=float, default=None, help="ControlNet conditioning scale (default 1)"
)
@click.option(
    "--scheduler", type=click.Choice(["unipc", "ddim"]), default=None, help="sampler (controlnet engine)"
)
@click.option(
    "--condition-style",
    type=click.Choice(["legend", "osm"]),
    default=None,
    help="condition colours (controlnet engine): legend palette (Seg2Sat) or OSM-Carto fills (GeoSynth-OSM)",
)
@engine_options_option
@out_crs_option
@max_tiles_option
@aoi_option
@aoi_crs_option
@seed_option
@overwrite_option
@progress_option
def sketch(
    landcover: Path,
    output: Path,
    class_field: str | None,
    layer: str | None,
    mapping: Path | None,
    vocabulary: str,
    engine: str | None,
    gsd: float | None,
    date: dt.datetime | None,
    place: str | None,
    prompt: str | None,
    exemplar_image: Path | None,
    exemplar_mask: Path | None,
    model: str | None,
    controlnet: str | None,
    loras: tuple[str, ...],
    steps: int | None,
    guidance_scale: float | None,
    controlnet_scale: float | None,
    scheduler: str | None,
    condition_style: str | None,
    engine_options: tuple[str, ...],
    out_crs: str | None,
    max_tiles: int,
    aoi: str | None,
    aoi_crs: str | None,
    seed: int,
    overwrite: bool,
    progress: str,
) -> None:
    """Turn LANDCOVER (polygons with a class field, or a class raster) into a synthetic image on the same place."""

    def call(reporter: Reporter, token: CancelToken) -> Result:
        if (exemplar_image is None) != (exemplar_mask is None):
            raise click.UsageError("--exemplar-image and --exemplar-mask go together")
        options = {
            "controlnet": controlnet,
            "guidance_scale": guidance_scale,
            "controlnet_scale": controlnet_scale,
            "scheduler": scheduler,
            "condition_style": condition_style,
        }
        return api.sketch(
            landcover,
            output,
            engine=engine,
            gsd=gsd,
            aoi=parse_aoi(aoi),
            aoi_crs=aoi_crs,
            layer=layer,
            class_field=class_field,
            mapping=mapping,
            vocabulary=vocabulary,
            date=date.date() if date else None,
            place=place,
            prompt=prompt,
            exemplar=(exemplar_image, exemplar_mask) if exemplar_image and exemplar_mask else None,
            model=model,
            loras=[_lora(spec) for spec in loras],
            steps=steps,
            options=merge_engine_options(engine_options, options),
            seed=seed,
            out_crs=out_crs,
            max_tiles=max_tiles,
            overwrite=overwrite,
            progress=reporter,
            cancel=token,
        )

    execute(call, progress)


def _lora(spec: str) -> tuple[str, float]:
    """``NAME[:STRENGTH]`` -> (name, strength); a colon that starts no number (a Windows drive, a path) is the
    name's."""
    name, sep, strength = spec.rpartition(":")
    if not sep or not name or "\\" in strength or "/" in strength:
        return spec, 1.0
    try:
        return name, float(strength)
    except ValueError:
        return spec, 1.0
