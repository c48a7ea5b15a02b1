"""`geogen clean [FOLDER]`: remove what crashed or killed jobs left in an output folder.

Partial files (``.<stem>.<tag>-<rand>.<job>-<pid>-<host>[-<start>].partial<suffix>``) and output claims
(``.<name>.geogen-claim``) of jobs that no longer run (on this machine: their process is gone; of another machine
or without an owner: older than 24 hours). A running job's files and cancel files are never touched. Every job start does the same
in its own output folder; this command is for folders no job will run in again.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from geogen.io.claims import scan, sweep


@click.command("clean")
@click.argument("folder", required=False, default=".", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="List what would be removed, remove nothing.")
def clean(folder: Path, dry_run: bool) -> None:
    """Remove partial files and output claims left in FOLDER (default: the current folder) by jobs that were
    killed or crashed; files of running jobs are kept. Prints one line per file removed."""
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        click.echo(f"geogen: error: {folder} {what}", err=True)
        sys.exit(2)
    reasons = {e.path: e.reason for e in scan(folder)}
    removed = sweep(folder, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for path in removed:
        click.echo(f"{verb} {path} ({reasons.get(path, 'stale')})")
    for e in scan(folder):
        if e.stale:
            continue
        click.echo(f"kept {e.path} ({e.reason})")
    if not removed:
        click.echo(f"nothing to clean in {folder}")
