"""Run one job in the backend process and follow it to the end.

``run_job`` starts ``geogen run job.json --progress jsonl`` with an argument list (no shell) in a cleaned
environment, turns each JSON line into a progress or log callback, and returns the backend's result or raises
with the backend's own message. It blocks, so call it from a worker thread (a QgsTask, or a Processing
algorithm) and pass ``is_cancelled`` to stop: the backend is first asked to stop (a ``cancel`` file in its
output folder, the cross-platform protocol), then killed if it has not exited after a grace period; hidden
partial files are removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qgis.PyQt.QtCore import QProcess, QProcessEnvironment

from ..common.compat import PROCESS_NOT_RUNNING, PROCESS_SEPARATE_CHANNELS
from ..common.errors import BackendError, JobCancelledError
from .backend import INSTALL_HINT, Backend, clean_environment
from .protocol import LineSplitter, parse_line, progress_percent

CANCEL_FILE = "cancel"
CANCELLED_EXIT_CODE = 130
STDERR_TAIL = 4000

ProgressCallback = Callable[[float, str], None]
LogCallback = Callable[[str, str], None]


@dataclass
class JobOutcome:
    """What a successful job produced: the backend's result record and where it was written."""

    result: dict[str, Any]
    output_dir: Path
    result_path: Path | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def outputs(self) -> list[dict[str, Any]]:
        """The output records, each with an absolute ``path``."""
        records = []
        for rec in self.result.get("outputs", []):
            p = Path(rec["path"])
            records.append({**rec, "path": str(p if p.is_absolute() else self.output_dir / p)})
        return records


def output_dir_of(job_file: Path) -> Path:
    """The output folder a job file names, resolved like the backend does (against the job file's folder)."""
    job = json.loads(job_file.read_text(encoding="utf-8"))
    out = Path(job["output"]["dir"]).expanduser()
    return out if out.is_absolute() else (job_file.parent / out).resolve()


def remove_partials(output_dir: Path) -> list[Path]:
    """Delete the backend's hidden temporary files (``.<stem>.*.partial.*``) left by a kill."""
    removed = []
    if not output_dir.is_dir():
        return removed
    for p in output_dir.iterdir():
        if p.name.startswith(".") and ".partial" in p.name and p.is_file():
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass  # Windows may still hold the handle of a just-killed process; the file is hidden
    return removed


def backend_environment() -> QProcessEnvironment:
    """The cleaned environment (see backend.clean_environment) as a QProcessEnvironment."""
    env = QProcessEnvironment()
    for key, value in clean_environment(os.environ).items():
        env.insert(key, value)
    return env


class _Follower:
    """State of one running job: reads lines, dispatches events, remembers the final one."""

    def __init__(self, on_progress: ProgressCallback | None, on_log: LogCallback | None) -> None:
        self.on_progress = on_progress
        self.on_log = on_log
        self.stdout = LineSplitter()
        self.stderr = b""
        self.started = False
        self.final: dict[str, Any] | None = None
        self.stray: list[str] = []
        self.warnings: list[str] = []

    def read(self, proc: QProcess) -> None:
        for line in self.stdout.feed(bytes(proc.readAllStandardOutput())):
            self.handle(line)
        self.stderr = (self.stderr + bytes(proc.readAllStandardError()))[-STDERR_TAIL:]

    def finish(self, proc: QProcess) -> None:
        self.read(proc)
        for line in self.stdout.flush():
            self.handle(line)

    def handle(self, line: bytes) -> None:
        event = parse_line(line)
        if event is None:
            text = line.decode("utf-8", errors="replace").strip()
            if text:
                self.stray.append(text)
                if self.on_log:
                    self.on_log("info", f"backend output: {text}")
            return
        kind = event["type"]
        if kind == "start":
            self.started = True
        elif kind == "progress":
            pct = progress_percent(event)
            if pct is not None and self.on_progress:
                self.on_progress(pct, str(event.get("stage", "")))
        elif kind == "log":
            level = "warning" if event.get("level") == "warning" else "info"
            message = str(event.get("message", ""))
            if level == "warning":
                self.warnings.append(message)
            if self.on_log:
                self.on_log(level, message)
        else:  # result or error: the last line
            self.final = event

    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", errors="replace").strip()


def _failure(follower: _Follower, proc: QProcess, backend: Backend) -> BackendError:
    code = proc.exitCode()
    final = follower.final
    if final is not None and final.get("type") == "error":
        return BackendError(
            str(final.get("message") or "the backend reported an error without a message"),
            error_type=final.get("error"),
            exit_code=code,
        )
    detail = follower.stderr_text().splitlines()[-5:] or follower.stray[-3:]
    tail = ("; last output: " + " | ".join(detail)) if detail else ""
    if proc.exitStatus() == QProcess.ExitStatus.CrashExit:
        return BackendError(f"the geogen backend crashed{tail}", exit_code=None)
    if code != 0:
        return BackendError(f"the geogen backend failed with exit code {code}{tail}", exit_code=code)
    stray = f"; it printed {follower.stray[0][:200]!r}" if follower.stray else ""
    return BackendError(
        f"the geogen backend ended without reporting a result (its output is not geogen's "
        f"JSON-lines protocol{stray}); is {backend.program} really geogen?",
        exit_code=code,
    )


def run_job(
    backend: Backend,
    job_file: Path,
    *,
    on_progress: ProgressCallback | None = None,
    on_log: LogCallback | None = None,
    is_cancelled: Callable[[], bool] | None = None,
    cancel_grace_s: float = 5.0,
    poll_ms: int = 100,
    start_timeout_ms: int = 30000,
) -> JobOutcome:
    """Run ``job_file`` with ``backend`` and wait for it; see the module docstring.

    Args:
        on_progress: called with (percent 0-100, stage) for each progress line.
        on_log: called with (level "info"|"warning", message) for each log line and any stray output.
        is_cancelled: polled every ``poll_ms``; once true, the job is stopped.
        cancel_grace_s: how long the backend may take to stop by itself before it is killed.

    Raises:
        BackendError: the backend could not start, reported an error, crashed, or spoke no protocol.
        JobCancelledError: ``is_cancelled`` became true; nothing was produced.
    """
    job_file = Path(job_file).resolve()
    output_dir = output_dir_of(job_file)
    output_dir.mkdir(parents=True, exist_ok=True)
    cancel_file = output_dir / CANCEL_FILE
    follower = _Follower(on_progress, on_log)

    proc = QProcess()
    proc.setProcessChannelMode(PROCESS_SEPARATE_CHANNELS)
    proc.setProcessEnvironment(backend_environment())
    proc.setWorkingDirectory(str(job_file.parent))
    proc.start(backend.program, backend.argv("run", str(job_file), "--progress", "jsonl"))
    if not proc.waitForStarted(start_timeout_ms):
        raise BackendError(
            f"could not start the geogen backend {backend.describe()}: {proc.errorString()}. {INSTALL_HINT}"
        )

    cancel_at: float | None = None
    killed = False
    try:
        while True:
            proc.waitForReadyRead(poll_ms)
            follower.read(proc)
            if proc.state() == PROCESS_NOT_RUNNING:
                break
            if killed or is_cancelled is None or not is_cancelled():
                continue
            now = time.monotonic()
            if cancel_at is None and follower.started:
                cancel_file.touch()  # the backend stops at its next progress report
                cancel_at = now
            elif cancel_at is None or now - cancel_at > cancel_grace_s:
                # not started (nothing written yet), or deaf to the file: kill (TerminateProcess on Windows)
                proc.kill()
                killed = True
        proc.waitForFinished(10000)
        follower.finish(proc)
    finally:
        if proc.state() != PROCESS_NOT_RUNNING:  # an exception in a callback: never leave the process behind
            proc.kill()
            proc.waitForFinished(5000)
        if cancel_file.exists():
            with contextlib.suppress(OSError):
                cancel_file.unlink()

    cancelled = killed or (
        cancel_at is not None
        and (
            proc.exitCode() == CANCELLED_EXIT_CODE
            or follower.final is None
            or follower.final.get("error") == "CancelledError"
        )
    )
    success = (
        not cancelled
        and proc.exitStatus() == QProcess.ExitStatus.NormalExit
        and proc.exitCode() == 0
        and follower.final is not None
        and follower.final.get("type") == "result"
    )
    if not success:
        remove_partials(output_dir)
    if cancelled:
        raise JobCancelledError("job cancelled", killed=killed)
    if not success:
        raise _failure(follower, proc, backend)
    final = follower.final or {}
    result = final.get("result")
    result_path = Path(final["result_path"]) if final.get("result_path") else None
    if not isinstance(result, dict) and result_path is not None and result_path.is_file():
        result = json.loads(result_path.read_text(encoding="utf-8"))
    if not isinstance(result, dict):
        raise BackendError("the geogen backend reported success but no result record")
    return JobOutcome(
        result=result, output_dir=output_dir, result_path=result_path, warnings=follower.warnings
    )
