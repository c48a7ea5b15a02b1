"""geogen's command-line interface: one module per command, registered here."""

from __future__ import annotations

import click

import geogen
from geogen.cli.clean_cmd import clean
from geogen.cli.demo_cmd import demo
from geogen.cli.info_cmd import info, job_schema
from geogen.cli.run_cmd import run
from geogen.cli.superres_cmd import superres

COMMANDS = [run, superres, demo, info, job_schema, clean]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(geogen.__version__, prog_name="geogen")
def cli() -> None:
    """geogen: georeferenced synthetic and super-resolved satellite imagery."""


for _command in COMMANDS:
    cli.add_command(_command)


def _register_optional() -> None:
    """Commands whose modules land with their capability (sketch, eval, text, models, temporal)."""
    import importlib

    for mod, name in (
        ("geogen.cli.sketch_cmd", "sketch"),
        ("geogen.cli.eval_cmd", "eval_"),
        ("geogen.cli.text_cmd", "text"),
        ("geogen.cli.models_cmd", "models"),
        ("geogen.cli.temporal_cmd", "temporal"),
    ):
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name == mod:
                continue
            raise
        cli.add_command(getattr(module, name))


_register_optional()


def main() -> None:
    cli(prog_name="geogen")


if __name__ == "__main__":
    main()
