"""Run a validated job: dispatch to its task pipeline, time it, write result.json atomically.

Cancellation is cooperative and works the same on every platform: the runner checks, at every progress report
and before every commit, whether a cancel was requested and raises CancelledError. Requests: SIGTERM/SIGINT where
the OS delivers them; in the job's output folder, a file ``cancel-<job id>`` (that job only; the id is in the
``start`` event, or chosen by the caller with ``GEOGEN_JOB_ID``), or a file ``cancel`` created or touched after the
job started (every job in the folder; one already there at the start is stale and ignored, never deleted).
Each job owns its outputs (``geogen.io.claims``): its final names are claimed at the start, its partial files
carry its id, and a failed or cancelled job leaves nothing under final names.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import threading
import time
from pathlib import Path
from typing import Any

import geogen
from geogen.engines.base import Engine
from geogen.engines.registry import get_engine
from geogen.errors import CancelledError, ModelError, OutputError
from geogen.io.claims import CANCEL_FILE, JOB_CANCEL_PREFIX, job_scope, new_job_id
from geogen.io.gdal_env import bounded_gdal_cache
from geogen.io.geotiff import commit_file, prepare_output, temp_sibling
from geogen.job.result import JobResult
from geogen.pipelines import run_task
from geogen.progress import Reporter
from geogen.spec import Job, job_hash

_FileState = tuple[int, int, int]


def _file_state(path: Path | None) -> _FileState | None:
    """(mtime_ns, device, inode) of a regular file at ``path``; None when absent, not a file or unreadable."""
    if path is None:
        return None
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(st.st_mode):
        return None  # a folder (or anything else) named ``cancel`` is not a request
    return (st.st_mtime_ns, st.st_dev, st.st_ino)


class CancelToken:
    """Set by a signal handler or by a cancel file; checked at every progress report and before every commit.

    ``cancel_file`` (the folder-wide ``cancel`` by default, once the job runs) counts only when it appears or
    changes after the token started watching it: one present at the start is stale and ignored (never deleted).
    ``job_file`` (``cancel-<job id>``, set by ``watch``) counts whenever it exists, and is removed by
    ``release`` when the job ends. ``event`` lets a caller share its own ``threading.Event`` (the Python API
    links the caller's token or event this way); a fresh one by default.
    """

    def __init__(self, cancel_file: Path | None = None, *, event: threading.Event | None = None) -> None:
        self._event = event if event is not None else threading.Event()
        self.cancel_file = cancel_file
        self.job_file: Path | None = None
        self._baseline = _file_state(cancel_file)

    def watch(self, folder: Path, job_id: str) -> None:
        """Watch ``folder``'s cancel files for job ``job_id``: ``cancel-<job_id>``, and ``cancel`` (unless the
        token watches a cancel file of its own) from now on."""
        folder = Path(folder)
        if self.cancel_file is None:
            self.cancel_file = folder / CANCEL_FILE
        self._baseline = _file_state(self.cancel_file)
        self.job_file = folder / f"{JOB_CANCEL_PREFIX}{job_id}"

    def release(self) -> None:
        """The job ended: remove its own ``cancel-<job id>`` file, if any (only a regular file)."""
        if self.job_file is not None and _file_state(self.job_file) is not None:
            with contextlib.suppress(OSError):
                self.job_file.unlink()

    def requested(self) -> bool:
        """Whether a cancel was requested (event, per-job file, or a new folder-wide file)."""
        if self._event.is_set():
            return True
        if self.job_file is not None and _file_state(self.job_file) is not None:
            return True
        state = _file_state(self.cancel_file)
        return state is not None and state != self._baseline

    @property
    def event(self) -> threading.Event:
        """The event that ``set`` sets (shared with whoever passed it in)."""
        return self._event

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self.requested():
            raise CancelledError("job cancelled")


class _CheckingReporter:
    """Wraps a reporter so that every progress report is also a cancellation point."""

    def __init__(self, inner: Reporter, token: CancelToken) -> None:
        self.inner = inner
        self.token = token

    def progress(self, done: int, total: int, stage: str = "") -> None:
        self.token.check()
        self.inner.progress(done, total, stage)

    def log(self, message: str, level: str = "info") -> None:
        self.inner.log(message, level)

    def event(self, payload: dict[str, Any]) -> None:
        self.inner.event(payload)

    @property
    def warnings(self) -> list[str]:
        return getattr(self.inner, "warnings", [])


def install_signal_handlers(token: CancelToken) -> None:
    """SIGTERM (QGIS's Cancel on POSIX) and SIGINT (Ctrl+C) request a cancel instead of killing mid-write.

    The first signal only sets the token: raising inside native code (torch, GDAL) can abort the process, so the
    job stops at its next progress report, cleanly. A second signal raises at once.
    """

    def handler(signum: int, frame: Any) -> None:
        if token.is_set():
            raise CancelledError(f"job cancelled by signal {signal.Signals(signum).name}")
        token.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError, OSError):  # not in the main thread, or unsupported here
            signal.signal(sig, handler)


def write_json_atomic(path: Path, payload: dict[str, Any], *, overwrite: bool = True) -> None:
    """Write ``payload`` as JSON at ``path`` in one step (see ``commit_file``: never replaces a file without
    ``overwrite``).

    Raises:
        OutputError: ``path`` exists without ``overwrite``, or cannot be written.
        CancelledError: the job was cancelled before the commit.
    """
    tmp = temp_sibling(path, "json")
    try:
        try:
            tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
        commit_file(tmp, path, overwrite=overwrite)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def build_engine(job: Job) -> Engine:
    """The job's engine, built from its validated options.

    Raises:
        EngineError: unknown engine for the task.
        OptionsError: invalid ``options`` for that engine.
    """
    cls = get_engine(job.task, job.engine)
    return cls(cls.parse_options(job.options), seed=job.seed)


def preflight(job: Job) -> Engine:
    """Cheap checks before a pipeline's heavy imports (torch, diffusers); returns the engine to run.

    Raises:
        EngineError: unknown engine for the task.
        OptionsError: invalid options for the engine.
        ModelError: a weights engine without a model, or a model name the store does not know.
    """
    engine = build_engine(job)
    if not engine.needs_weights():
        return engine
    if not job.model:
        # a model_optional engine (temporal with observed dates only) lets its pipeline say what is missing
        if not engine.model_optional:
            raise ModelError(
                f"the {engine.name} engine needs a model: pass --model NAME_OR_PATH (installed models: "
                "`geogen models list`; published ones: `geogen models pull NAME`)"
            )
        return engine
    from geogen.store import resolve

    names = [job.model]
    # the other model fields the engine declares, e.g. options.controlnet
    for field in engine.field_model_kinds:
        key = field.removeprefix("options.")
        value = job.options.get(key) if field.startswith("options.") else None
        if isinstance(value, str) and value:
            names.append(value)
    problems = []  # every missing model named at once, not one per run
    for name in names:
        try:
            resolve(name)
        except ModelError as exc:
            problems.append(str(exc))
    if problems:
        raise ModelError("; ".join(problems))
    return engine


def run_job(job: Job, reporter: Reporter, token: CancelToken | None = None) -> tuple[JobResult, Path]:
    """Execute ``job`` and write its result record; returns the result and the record's path.

    Raises:
        GeogenError: any user-facing problem, raised by the pipeline (nothing partial is left behind).
    """
    engine = preflight(job)
    out_dir = Path(job.output.dir)
    created = not out_dir.exists()  # a folder this job creates is removed again if it fails leaving it empty
    job_id = new_job_id()
    token = token or CancelToken()
    token.watch(out_dir, job_id)
    try:
        # the job's scope: claims on its final names, its partials, its commits (removed again if it fails)
        with job_scope(job_id, check=token.check):
            record = out_dir / job.output.result
            image = out_dir / f"{job.output.name}.tif"  # named in "being written by another job" too
            label = f"{image} (and its result record {record.name})" if job.task != "temporal" else None
            result_path = prepare_output(record, overwrite=job.output.overwrite, claim_label=label)
            checking = _CheckingReporter(reporter, token)
            reporter.event(
                {
                    "type": "start",
                    "task": job.task,
                    "geogen_version": geogen.__version__,
                    "job_id": job_id,
                    "pid": os.getpid(),
                    "cancel_file": str(token.job_file),
                }
            )
            t0 = time.perf_counter()
            with bounded_gdal_cache():  # memory follows the tile band, not the area read (geogen.io.gdal_env)
                produced = run_task(job, engine, checking)
            elapsed = time.perf_counter() - t0
            result = JobResult(
                task=job.task,
                engine=engine.name,
                spec_hash=job_hash(job),
                outputs=produced.outputs,
                timings={"total_s": round(elapsed, 3), **produced.extra.pop("timings", {})},
                geogen_version=geogen.__version__,
                warnings=list(checking.warnings),
                summary=produced.summary,
                extra=produced.extra,
            )
            write_json_atomic(result_path, result.to_json(), overwrite=job.output.overwrite)
    except BaseException:
        token.release()  # before the rmdir: its cancel-<job id> file would keep the folder
        if created:
            with contextlib.suppress(OSError):
                out_dir.rmdir()  # only if empty
        raise
    finally:
        token.release()
    return result, result_path
