"""`geogen sketch LANDCOVER -o OUT.tif`: land-cover polygons or raster -> synthetic image."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from geogen.cli.execute import execute
from geogen.cli.options import (aoi_crs_option, aoi_option, engine_option, output_fields, output_option,
                                overwrite_option, parse_aoi, progress_option, seed_option)
from geogen.job.spec import parse_job


@click.command("sketch")
@click.argument("landcover", type=click.Path(path_type=Path))
@output_option
@click.option("--class-field", default=None, help="attribute holding each polygon's class (vector input)")
@click.option("--layer", default=None, help="layer name inside a GeoPackage")
@click.option("--mapping", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON file mapping input class values to the engine's classes")
@click.option("--vocabulary", default="flair19", show_default=True, help="engine class vocabulary")
@engine_option
@click.option("--gsd", type=float, default=None, help="output pixel size in metres (default: engine's native)")
@click.option("--date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="scene date YYYY-MM-DD")
@click.option("--place", default=None, help="place name for prompts (diffusion engines)")
@click.option("--prompt", default=None, help="extra prompt text (diffusion engines)")
@click.option("--exemplar-image", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="example RGB image (exemplar engine; default: bundled FLAIR patches)")
@click.option("--exemplar-mask", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="class map of --exemplar-image, in the vocabulary's codes")
@click.option("--out-crs", default=None, help="CRS to write in (default: the input's)")
@aoi_option
@aoi_crs_option
@seed_option
@overwrite_option
@progress_option
def sketch(landcover: Path, output: Path, class_field: str | None, layer: str | None, mapping: Path | None,
           vocabulary: str, engine: str | None, gsd: float | None, date: dt.datetime | None, place: str | None,
           prompt: str | None, exemplar_image: Path | None, exemplar_mask: Path | None, out_crs: str | None,
           aoi: str | None, aoi_crs: str | None, seed: int, overwrite: bool, progress: str) -> None:
    """Turn LANDCOVER (polygons with a class field, or a class raster) into a synthetic image on the same place."""
    if (exemplar_image is None) != (exemplar_mask is None):
        raise click.UsageError("--exemplar-image and --exemplar-mask go together")

    def build():
        return parse_job({
            "task": "sketch", "landcover": str(landcover.resolve()), "layer": layer, "class_field": class_field,
            "mapping": str(mapping.resolve()) if mapping else None, "vocabulary": vocabulary, "engine": engine,
            "gsd": gsd, "date": date.date().isoformat() if date else None, "place": place, "prompt": prompt,
            "exemplar": {"image": str(exemplar_image.resolve()), "mask": str(exemplar_mask.resolve())}
            if exemplar_image else None,
            "aoi": parse_aoi(aoi, aoi_crs).model_dump() if aoi else None,
            "seed": seed, "output": output_fields(output, overwrite, out_crs),
        })

    execute(build, progress)
