"""`geogen superres INPUT -o OUT.tif`: Sentinel-2 bands to a finer grid."""

from __future__ import annotations

from pathlib import Path

import click

from geogen.cli.execute import execute
from geogen.cli.options import (aoi_crs_option, aoi_option, engine_option, engine_options_option, output_fields,
                                output_option, overwrite_option, parse_aoi, parse_engine_options, progress_option,
                                seed_option)
from geogen.job.spec import parse_job


@click.command("superres")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@output_option
@engine_option
@click.option("--bands", default=None, help="comma-separated bands to output, e.g. B02,B03,B04,B8A (default: all)")
@click.option("--target-gsd", type=float, default=None, help="output pixel size in metres (default 10)")
@aoi_option
@aoi_crs_option
@engine_options_option
@seed_option
@overwrite_option
@progress_option
def superres(input_path: Path, output: Path, engine: str | None, bands: str | None, target_gsd: float | None,
             aoi: str | None, aoi_crs: str | None, engine_options: tuple[str, ...], seed: int, overwrite: bool,
             progress: str) -> None:
    """Super-resolve a Sentinel-2 INPUT (band folder, multi-band GeoTIFF, .SAFE folder or .zip)."""

    def build():
        return parse_job({
            "task": "superres",
            "input": str(input_path.resolve()),
            "engine": engine,
            "bands": [b.strip() for b in bands.split(",")] if bands else None,
            "target_gsd": target_gsd,
            "aoi": parse_aoi(aoi, aoi_crs).model_dump() if aoi else None,
            "seed": seed,
            "options": parse_engine_options(engine_options),
            "output": output_fields(output, overwrite),
        })

    execute(build, progress)
