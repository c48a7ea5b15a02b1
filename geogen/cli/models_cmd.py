"""`geogen models ...`: the local model store (list, add, verify, convert, remove, pull, info)."""

from __future__ import annotations

import functools
import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from geogen.cli.execute import fail, make_reporter
from geogen.cli.options import progress_option
from geogen.errors import GeogenError, ModelError
from geogen.progress import JsonlReporter
from geogen.store import KINDS, Store, find_models, resolve
from geogen.store.catalog import CATALOG
from geogen.store.entry import ModelEntry
from geogen.store.kinds import label
from geogen.store.pull import PullOfflineError
from geogen.store.pull import pull as pull_model


def _user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """GeogenError -> one line `geogen: error: ...` and a non-zero exit; warnings -> `warning: ...` lines."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        mode = "jsonl" if kwargs.get("progress") == "jsonl" else "none"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return fn(*args, **kwargs)
            except PullOfflineError as exc:
                click.echo(exc.instructions, err=True)
                if mode == "jsonl":
                    JsonlReporter(sys.stdout).log(exc.instructions, level="warning")
                fail(str(exc), mode=mode, code=exc.exit_code, error=type(exc).__name__)
            except GeogenError as exc:
                fail(str(exc), mode=mode, code=exc.exit_code, error=type(exc).__name__)
            finally:
                for w in caught:
                    click.echo(f"warning: {w.message}", err=True)

    return wrapper


def _store(*, keep_resumable: bool = True) -> Store:
    """The store, after removing what dead add/pull commands left in it (reported in one stderr line)."""
    store = Store()
    message = store.sweep(keep_resumable=keep_resumable).message()
    if message:
        click.echo(f"geogen: {message}", err=True)
    return store


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n} B"


def _catalog_json(store: Store) -> list[dict[str, Any]]:
    installed = {e.catalog for e in store.entries() if e.catalog}
    return [dict(c.to_json(), installed=c.name in installed) for c in CATALOG.values()]


@click.group("models")
def models() -> None:
    """Install, check and list model weights (the local model store; set GEOGEN_HOME to move it)."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output (used by the QGIS plugin)")
@click.option(
    "--available", is_flag=True, help="also list the published models `geogen models pull` can fetch"
)
@_user_errors
def list_(as_json: bool, available: bool) -> None:
    """List installed models."""
    store = _store()
    entries = store.entries()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "store": str(store.root),
                    "models": [e.to_json(with_files=False) for e in entries],
                    "available": _catalog_json(store),
                },
                indent=2,
            )
        )
        return
    click.echo(f"model store: {store.root}")
    if not entries:
        click.echo("  no model installed (see `geogen models add` and `geogen models pull`)")
    for e in entries:
        res = e.facts.get("resolution")
        extra = (f", {res} px" if res else "") + (", linked" if e.linked else "")
        click.echo(f"  {e.name:<24} {e.kind:<28} {_size(e.size_bytes):>11}{extra}")
    if available:
        click.echo("published models (`geogen models pull NAME`):")
        for c in CATALOG.values():
            click.echo(f"  {c.name:<24} {c.kind:<28} {c.title}")


@models.command("add")
@click.argument("name")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default=None,
    help="the model's kind when detection is not enough (checked against the files)",
)
@click.option("--link", is_flag=True, help="leave the files where they are and record their location")
@click.option(
    "--trust-pickle",
    is_flag=True,
    help="allow pickle weights that weights-only loading refuses (they can run code: trusted sources only)",
)
@click.option(
    "--resolution",
    type=click.IntRange(min=8),
    default=None,
    help="native output size in pixels (DiffusionSat: 256 or 512)",
)
@_user_errors
def add(
    name: str, path: Path, kind: str | None, link: bool, trust_pickle: bool, resolution: int | None
) -> None:
    """Install the model at PATH (a folder or a LoRA file) under NAME."""
    published = CATALOG.get(name)
    meta: dict[str, Any] = {}
    if published is not None and kind in (None, published.kind):  # a published model added by hand
        found = find_models(path, trust_pickle=trust_pickle)
        if found and published.kind not in {d.kind for d in found}:
            raise ModelError(
                f"{path} holds a {label(found[0].kind)}, but {name!r} is the name of the published "
                f"{published.title}; pick another name"
            )
        kind = published.kind
        meta = {"facts": dict(published.facts), "licence": published.licence, "catalog": published.name}
    entry = _store().add(
        name,
        path,
        kind=kind,
        link=link,
        trust_pickle=trust_pickle,
        resolution=resolution,
        reporter=make_reporter("auto"),
        **meta,
    )
    click.echo(
        f"installed {entry.name}: {entry.label}, {len(entry.files)} file(s), {_size(entry.size_bytes)}"
        + (f" (linked: {entry.path})" if entry.linked else f" in {entry.path}")
    )
    if entry.facts.get("pickle_files"):
        click.echo(
            f"note: it holds pickle weights; `geogen models convert {entry.name}` turns them into safetensors"
        )


@models.command("verify")
@click.argument("name")
@_user_errors
def verify(name: str) -> None:
    """Re-hash NAME's files and name every file that changed or is missing."""
    report = _store().verify(name)
    if not report.ok:
        parts = []
        if report.changed:
            parts.append(f"{len(report.changed)} file(s) changed: {', '.join(report.changed)}")
        if report.missing:
            parts.append(f"{len(report.missing)} file(s) missing: {', '.join(report.missing)}")
        if report.damaged:
            parts.append(f"{len(report.damaged)} file(s) truncated or damaged: {', '.join(report.damaged)}")
        fail(f"model {name!r} is damaged: {'; '.join(parts)}", mode="none", code=1, error="ModelError")
    extra = f" ({len(report.extra)} file(s) not recorded: {', '.join(report.extra)})" if report.extra else ""
    click.echo(f"{name}: OK{extra}")


@models.command("convert")
@click.argument("name")
@click.option("--keep-bin", is_flag=True, help="keep the pickle files next to the new .safetensors")
@click.option(
    "--trust-pickle",
    is_flag=True,
    help="allow pickles that weights-only loading refuses (they can run code: trusted sources only); "
    "needed again even if the model was added with --trust-pickle",
)
@_user_errors
def convert(name: str, keep_bin: bool, trust_pickle: bool) -> None:
    """Convert NAME's pickle weights (.bin/.pt/.ckpt) to .safetensors.

    Converting unpickles the files: a pickle that weights-only loading refuses is converted only with
    --trust-pickle on this command. The trust given at `models add --trust-pickle` lets geogen load the
    model; it is not reused here.
    """
    result = _store().convert(name, keep_bin=keep_bin, trust_pickle=trust_pickle)
    if not result.converted:
        click.echo(f"{name}: no pickle weights to convert")
    for src, dst in result.converted:
        click.echo(f"converted {src} -> {dst}")
    for src, keys in result.dropped.items():
        click.echo(
            f"warning: {src}: left out {len(keys)} non-tensor entries ({', '.join(keys[:5])})", err=True
        )
    for rel in result.removed:
        click.echo(f"removed {rel}")


@models.command("remove")
@click.argument("name")
@_user_errors
def remove(name: str) -> None:
    """Uninstall NAME (a linked model's files stay where they are)."""
    entry = _store().remove(name)
    where = f"files left in place at {entry.path}" if entry.linked else f"deleted {entry.path}"
    click.echo(f"removed {name} ({where})")


@models.command("pull")
@click.argument("name")
@progress_option
@_user_errors
def pull(name: str, progress: str) -> None:
    """Download the published model NAME into the store (`geogen models list --available` lists them).

    An interrupted pull (lost connection, Ctrl-C, crash) is resumed by the next pull of NAME where the
    server supports it; its partial files are otherwise removed by any `geogen models` command a day later.
    """
    reporter = make_reporter(progress)
    message = Store().sweep().message()
    if message and progress == "jsonl":
        reporter.log(message)
    elif message:
        click.echo(f"geogen: {message}", err=True)
    entry, downloaded = pull_model(name, reporter=reporter)
    if progress == "jsonl":  # the plugin reads JSON lines only
        reporter.event({"type": "result", "downloaded": downloaded, "model": entry.to_json(with_files=False)})
        return
    if not downloaded:
        click.echo(f"{name} is already installed in {entry.path}")
        return
    click.echo(
        f"installed {entry.name}: {entry.label}, {len(entry.files)} file(s), {_size(entry.size_bytes)}"
    )
    click.echo(f"licence: {entry.licence}")


def _describe(entry: ModelEntry) -> list[str]:
    lines = [f"{entry.name}: {entry.label} ({entry.kind})", f"  path:    {entry.path}"]
    if not entry.installed:
        lines.append("  (not installed: detected on the fly)")
    for key in ("source", "licence", "added"):
        if getattr(entry, key):
            lines.append(f"  {key + ':':<8} {getattr(entry, key)}")
    lines.append(f"  files:   {len(entry.files)}, {_size(entry.size_bytes)}")
    lines += [f"  {k}: {v}" for k, v in entry.facts.items() if v not in (None, [], "")]
    return lines


@models.command("info")
@click.argument("name_or_path")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output (used by the QGIS plugin)")
@_user_errors
def info(name_or_path: str, as_json: bool) -> None:
    """Show an installed model (or what geogen detects in a folder)."""
    entry = resolve(name_or_path, store=_store())
    if as_json:
        click.echo(json.dumps(entry.to_json(), indent=2))
    else:
        click.echo("\n".join(_describe(entry)))
