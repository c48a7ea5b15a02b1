"""`geogen info` (engines, version) and `geogen job-schema` (the job spec's JSON Schema)."""

from __future__ import annotations

import json
import sys

import click

import geogen
from geogen.engines.registry import ENGINES
from geogen.job.runner import PIPELINES
from geogen.job.spec import SPEC_VERSION, json_schema


# Which tasks (and engines) can use an installed model of each kind.
TASKS_BY_KIND: dict[str, list[tuple[str, str]]] = {
    "diffusionsat": [("text", "diffusionsat"), ("sketch", "controlnet"), ("temporal", "diffusionsat-3d")],
    "diffusionsat-sr-controlnet": [("superres", "diffusionsat")],
    "diffusionsat-3d-controlnet": [("temporal", "diffusionsat-3d"), ("superres", "diffusionsat-3d")],
    "sd-pipeline": [("sketch", "controlnet")],
    "controlnet": [("sketch", "controlnet")],
    "lora": [("sketch", "controlnet")],
}


def installed_models() -> list[dict]:
    """Models in the local store with the tasks/engines that can use them (an unreadable store lists none)."""
    from geogen.errors import GeogenError
    from geogen.store import Store

    try:
        entries = Store().entries()
    except GeogenError:
        return []
    return [
        {
            "name": e.name,
            "kind": e.kind,
            "path": str(e.path),
            "tasks": [{"task": t, "engine": en} for t, en in TASKS_BY_KIND.get(e.kind, [])],
        }
        for e in entries
    ]


def info_dict() -> dict:
    return {
        "geogen_version": geogen.__version__,
        "job_spec_version": SPEC_VERSION,
        "python": sys.version.split()[0],
        "tasks": sorted(PIPELINES),
        "engines": [
            {
                "name": e.name,
                "task": e.task,
                "description": e.description,
                "needs_weights": e.needs_weights,
                "default": e.default,
                "experimental": e.experimental,
            }
            for e in ENGINES
        ],
        "models": installed_models(),
    }


@click.command("info")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output (used by the QGIS plugin)")
def info(as_json: bool) -> None:
    """Show the version, the tasks and the engines available."""
    d = info_dict()
    if as_json:
        click.echo(json.dumps(d, indent=2))
        return
    click.echo(f"geogen {d['geogen_version']} (job spec v{d['job_spec_version']}, Python {d['python']})")
    for e in d["engines"]:
        flags = " [default]" if e["default"] else ""
        flags += " [needs weights]" if e["needs_weights"] else ""
        click.echo(f"  {e['task']:<9} {e['name']:<12} {e['description']}{flags}")
    click.echo(
        f"installed models: {len(d['models'])}"
        + "".join(f"\n  {m['name']} ({m['kind']})" for m in d["models"])
    )


@click.command("job-schema")
def job_schema() -> None:
    """Print the JSON Schema of job files."""
    click.echo(json.dumps(json_schema(), indent=2))
