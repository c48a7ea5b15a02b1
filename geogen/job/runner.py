"""Run a validated job: dispatch to its task pipeline, time it, write result.json atomically.

Cancellation is cooperative and works the same on every platform: the runner checks, at every progress report,
whether a cancel was requested (SIGTERM/SIGINT where the OS delivers them, or a file named ``cancel`` in the
job's output folder, which the QGIS plugin creates before it kills the process) and raises CancelledError;
pipelines write through GeoTIFFWriter, which leaves nothing under final names when interrupted.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import geogen
from geogen.engines.base import Engine
from geogen.engines.registry import get_engine
from geogen.errors import CancelledError, ModelError
from geogen.io.geotiff import commit_file, prepare_output, temp_sibling
from geogen.job.result import JobResult
from geogen.pipelines import run_task
from geogen.progress import Reporter
from geogen.spec import Job, job_hash

CANCEL_FILE = "cancel"


class CancelToken:
    """Set by a signal handler or by the presence of a cancel file; checked between tiles.

    ``event`` lets a caller share its own ``threading.Event`` (the Python API links the caller's token or event
    to the job's cancel file this way); a fresh one by default.
    """

    def __init__(self, cancel_file: Path | None = None, *, event: threading.Event | None = None) -> None:
        self._event = event if event is not None else threading.Event()
        self.cancel_file = cancel_file

    @property
    def event(self) -> threading.Event:
        """The event that ``set`` sets (shared with whoever passed it in)."""
        return self._event

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set() or (self.cancel_file is not None and self.cancel_file.exists()):
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


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    tmp = temp_sibling(path, "json")
    try:
        tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
        commit_file(tmp, path)
    finally:
        if tmp.exists():
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
        if (
            not engine.model_optional
        ):  # e.g. temporal with observed dates only: the pipeline says what is missing
            raise ModelError(
                f"the {engine.name} engine needs a model: pass --model NAME_OR_PATH (installed models: "
                "`geogen models list`; published ones: `geogen models pull NAME`)"
            )
        return engine
    from geogen.store import resolve

    resolve(job.model)
    return engine


def run_job(job: Job, reporter: Reporter, token: CancelToken | None = None) -> tuple[JobResult, Path]:
    """Execute ``job`` and write its result record; returns the result and the record's path.

    Raises:
        GeogenError: any user-facing problem, raised by the pipeline (nothing partial is left behind).
    """
    engine = preflight(job)
    out_dir = Path(job.output.dir)
    result_path = prepare_output(out_dir / job.output.result, overwrite=True)
    token = token or CancelToken(out_dir / CANCEL_FILE)
    if token.cancel_file is not None and token.cancel_file.exists():
        token.cancel_file.unlink()  # a stale request from an earlier run
    checking = _CheckingReporter(reporter, token)
    reporter.event({"type": "start", "task": job.task, "geogen_version": geogen.__version__})
    t0 = time.perf_counter()
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
    write_json_atomic(result_path, result.to_json())
    return result, result_path
