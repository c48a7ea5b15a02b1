"""`geogen demo`: the embedded default job on bundled real data, no weights needed."""

from __future__ import annotations

from pathlib import Path

import click

from geogen import api
from geogen.api import CancelToken, Result
from geogen.cli.execute import execute
from geogen.cli.options import progress_option
from geogen.progress import Reporter


@click.command("demo")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("out") / "demo_s2_10m.tif",
    show_default=True,
    help="output GeoTIFF",
)
@progress_option
def demo(output: Path, progress: str) -> None:
    """Sharpen the bundled real Sentinel-2 sample: every band to 10 m with the weight-free engine."""

    def call(reporter: Reporter, token: CancelToken) -> Result:
        scene = api.sample_scene()
        click.echo(
            f"geogen demo: sharpening {scene.name} (Sentinel-2 L2A, BigEarthNet; contains modified Copernicus "
            "Sentinel data 2017) to 10 m"
        )
        return api.superres(scene, output, overwrite=True, progress=reporter, cancel=token)

    execute(call, progress)
