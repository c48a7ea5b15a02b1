"""`geogen demo`: the embedded default job on bundled real data, no weights needed."""

from __future__ import annotations

from pathlib import Path

import click

from geogen.cli.execute import execute
from geogen.cli.options import progress_option
from geogen.job.spec import parse_job

SAMPLE_ROOT = Path(__file__).resolve().parent.parent / "data" / "sample_s2"


def sample_scene() -> Path:
    """The bundled Sentinel-2 L2A sample (a BigEarthNet patch, one GeoTIFF per band)."""
    scenes = sorted(p for p in SAMPLE_ROOT.iterdir() if p.is_dir()) if SAMPLE_ROOT.is_dir() else []
    if not scenes:
        raise click.ClickException(f"bundled sample missing under {SAMPLE_ROOT}; reinstall geogen")
    return scenes[0]


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
    scene = sample_scene()
    output = output.resolve()

    def build():
        return parse_job(
            {
                "task": "superres",
                "input": str(scene),
                "output": {
                    "dir": str(output.parent),
                    "name": output.stem,
                    "overwrite": True,
                    "result": f"{output.stem}.result.json",
                },
            }
        )

    click.echo(
        f"geogen demo: sharpening {scene.name} (Sentinel-2 L2A, BigEarthNet; contains modified Copernicus "
        "Sentinel data 2017) to 10 m"
    )
    execute(build, progress)
