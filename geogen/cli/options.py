"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path

import click

from geogen.cli.execute import PROGRESS_MODES

progress_option = click.option(
    "--progress",
    type=click.Choice(PROGRESS_MODES),
    default="auto",
    show_default=True,
    help="progress display: a bar on a terminal, JSON lines for programs (the QGIS plugin), or none",
)
overwrite_option = click.option("--overwrite", is_flag=True, help="replace existing outputs")
seed_option = click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="random seed"
)
engine_option = click.option(
    "--engine", default=None, help="engine name (see `geogen info`); default per task"
)
output_option = click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(path_type=Path),  # a folder is refused in one line by prepare_output, not by click
    help="output GeoTIFF path",
)
aoi_option = click.option(
    "--aoi",
    default=None,
    help="area of interest: a vector file, or 'left,bottom,right,top' bounds (in --aoi-crs)",
)
max_tiles_option = click.option(
    "--max-tiles",
    type=click.IntRange(min=1),
    default=4096,
    show_default=True,
    help="refuse areas needing more windows",
)
aoi_crs_option = click.option("--aoi-crs", default=None, help="CRS of --aoi bounds (default EPSG:4326)")
date_option = click.option(
    "--date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="scene date YYYY-MM-DD"
)
out_crs_option = click.option("--out-crs", default=None, help="CRS to write in (default: the input's)")


def _all_numbers(parts: list[str]) -> bool:
    try:
        [float(p) for p in parts]
    except ValueError:
        return False
    return True


def parse_aoi(aoi: str | None) -> tuple[float, float, float, float] | Path | None:
    """--aoi as ``left,bottom,right,top`` bounds or a vector file path (the API checks either)."""
    if aoi is None:
        return None
    parts = aoi.split(",")
    if len(parts) != 4:
        if not Path(aoi).exists() and _all_numbers(parts):  # "5,45" is a mistyped box, not a file name
            raise click.BadParameter(
                f"expected 4 numbers left,bottom,right,top (or a vector file), got {len(parts)}: {aoi!r}",
                param_hint="--aoi",
            )
        return Path(aoi)
    try:
        left, bottom, right, top = (float(p) for p in parts)
    except ValueError:
        raise click.BadParameter(
            f"expected 4 numbers left,bottom,right,top, got {aoi!r}", param_hint="--aoi"
        ) from None
    return left, bottom, right, top


engine_options_option = click.option(
    "-O",
    "--option",
    "engine_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="engine option (repeatable), read as JSON when it parses, e.g. -O consistency_reg=0 -O tile=512; "
    "diffusion engines: -O compile=true (torch.compile of the UNet and ControlNet: faster long GPU runs "
    "after a warm-up), -O window=512, -O window_batch_size=8",
)


def merge_engine_options(pairs: tuple[str, ...], flags: dict) -> dict:
    """The -O KEY=VALUE pairs with the command's own option flags on top (those given: not None).

    The one place where a command's convenience flags (``--scale``, ``--guidance-scale``, ``--device``...) become
    engine options; the API takes them in ``options``.
    """
    return {**parse_engine_options(pairs), **{k: v for k, v in flags.items() if v is not None}}


def parse_engine_options(pairs: tuple[str, ...]) -> dict:
    """KEY=VALUE pairs -> dict, values as JSON (numbers, true/false) when they parse, else strings."""
    import json

    out: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--option")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out
