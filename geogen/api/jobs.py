"""``geogen.run``: run any job (a parsed Job, a job dict or a job file) and get its typed Result."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeAlias

from geogen.api.control import Cancel, Progress, cancel_token, reporter_for
from geogen.api.result import Result
from geogen.errors import GeogenError, os_error, os_limit_reason
from geogen.job.runner import run_job
from geogen.spec import Job, SketchJob, SuperresJob, TemporalJob, TextJob, load_job, parse_job

JobLike: TypeAlias = Job | Mapping[str, Any] | str | os.PathLike[str]
_JOB_TYPES = (SuperresJob, SketchJob, TextJob, TemporalJob)


def as_job(job: JobLike) -> Job:
    """``job`` validated: a parsed Job as is, a dict checked by the job spec, a path read as a job file.

    Relative paths in a dict are taken from the current directory; in a job file, from the file's folder.

    Raises:
        InputFileError: a job file that is missing or unreadable.
        JobSpecError: not a valid job (OptionsError for options its engine does not accept).
        EngineError: no such engine for the task.
        TypeError: ``job`` is none of the above.
    """
    if isinstance(job, _JOB_TYPES):
        return job
    if isinstance(job, Mapping):
        return parse_job(dict(job), base_dir=Path.cwd())
    if isinstance(job, (str, os.PathLike)):
        return load_job(Path(job))
    raise TypeError(f"job must be a geogen Job, a dict or a job file path, got {type(job).__name__}")


def run(job: JobLike, *, progress: Progress = None, cancel: Cancel = None) -> Result:
    """Run a job and return what it produced.

    Args:
        job: a parsed ``Job`` (``geogen.spec``), a job dict as in a job JSON file (see ``geogen
            job-schema``; relative paths from the current directory), or the path of a job JSON file (relative
            paths from the file's folder).
        progress: a callable ``(done, total, stage)`` called as the job advances (warnings and log lines then go
            to the ``logging`` logger "geogen"), or a ``geogen.progress.Reporter``; None: log lines only.
        cancel: a ``geogen.job.runner.CancelToken`` or a ``threading.Event``; setting it (from another thread,
            or from the progress callback) stops the job at its next progress report. The job also stops when a
            file named ``cancel`` appears in its output folder.

    Returns:
        The job's ``Result``: the files written and everything its result.json records.

    Raises:
        GeogenError: any problem with the job or its inputs, with a message for people; the subclass says which
            (JobSpecError, OptionsError, InputFileError, EngineError, ModelError, AreaTooLargeError...).
            Nothing partial is left behind.
        CancelledError: the job was cancelled (a GeogenError too).
        TypeError: ``job``, ``progress`` or ``cancel`` is of a type not listed here.
    """
    parsed = as_job(job)
    token = cancel_token(cancel, parsed.output.dir)
    try:
        record, result_path = run_job(parsed, reporter_for(progress, token), token)
    except GeogenError:
        raise
    except Exception as exc:  # an OS limit met where no reader or writer named it: still the user's to fix
        if os_limit_reason(exc) is None:
            raise
        raise os_error(exc, parsed.output.dir) from None
    return Result.from_job_result(record, result_path)
