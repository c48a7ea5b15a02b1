"""`geogen info` (engines, version) and `geogen job-schema` (the job spec's JSON Schema)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

import geogen
from geogen.engines.registry import TASKS, engine_table, list_engines
from geogen.spec import SPEC_VERSION, json_schema


def tasks_by_kind() -> dict[str, list[dict[str, str]]]:
    """Model-store kind -> where it is used: task, engine and job field (``model``, ``options.controlnet``,
    ``loras``...), from the engines' own ``model_kinds`` and ``field_model_kinds``."""
    table: dict[str, list[dict[str, str]]] = {}
    for cls in list_engines():
        for field, kind in cls.model_uses():
            table.setdefault(kind, []).append({"task": cls.task, "engine": cls.name, "field": field})
    return table


def installed_models(kinds: dict[str, list[dict[str, str]]]) -> list[dict[str, Any]]:
    """Models in the local store with the tasks/engines that can use them (an unreadable store lists none)."""
    from geogen.errors import GeogenError
    from geogen.store import Store

    try:
        entries = Store().entries()
    except GeogenError:
        return []
    return [
        {"name": e.name, "kind": e.kind, "path": str(e.path), "tasks": kinds.get(e.kind, [])} for e in entries
    ]


def info_dict() -> dict[str, Any]:
    """The one table of tasks, engines and model kinds that ``geogen info --json`` prints for the plugin."""
    kinds = tasks_by_kind()
    return {
        "geogen_version": geogen.__version__,
        "job_spec_version": SPEC_VERSION,
        "python": sys.version.split()[0],
        "tasks": list(TASKS),
        "engines": engine_table(),
        "model_kinds": kinds,
        "models": installed_models(kinds),
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
        click.echo(f"  {e['task']:<9} {e['name']:<16} {e['description']}{flags}")
    click.echo(
        f"installed models: {len(d['models'])}"
        + "".join(f"\n  {m['name']} ({m['kind']})" for m in d["models"])
    )


@click.command("job-schema")
def job_schema() -> None:
    """Print the JSON Schema of job files."""
    click.echo(json.dumps(json_schema(), indent=2))
