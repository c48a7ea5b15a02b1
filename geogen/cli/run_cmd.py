"""`geogen run JOB.json`: execute a job file (the plugin's entry point)."""

from __future__ import annotations

from pathlib import Path

import click

from geogen import api
from geogen.cli.execute import execute
from geogen.cli.options import progress_option


@click.command("run")
@click.argument("job_file", type=click.Path(dir_okay=False, path_type=Path))
@progress_option
def run(job_file: Path, progress: str) -> None:
    """Run the job described by JOB_FILE (JSON; see `geogen job-schema`)."""
    execute(lambda reporter, token: api.run(job_file, progress=reporter, cancel=token), progress)
