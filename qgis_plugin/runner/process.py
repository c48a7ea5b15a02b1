"""Run one job in the backend process and follow it to the end.

``run_job`` starts ``geogen run job.json --progress jsonl`` with an argument list (no shell) in the backend's
allowlisted environment (see backend.py), turns each JSON line into a progress or log callback, and returns the
backend's result or raises with the backend's own message. It blocks, so call it from a worker thread (a
QgsTask, or a Processing algorithm) and pass ``is_cancelled`` to stop.

Several jobs may share one output folder (two Processing runs into the same folder, the dock and a model), so
everything the runner touches there belongs to its own job only. Each run gets a job id (``new_job_id``),
given to the backend as ``GEOGEN_JOB_ID``; the backend's contract (geogen/job/runner.py) names everything
after it:

- Cancel writes ``cancel-<job id>`` in the output folder: the backend stops at its next cancellation point
  (exit 130), or at once if the file is there when it starts; it is killed if it has not exited after a grace
  period. The folder-wide ``cancel`` file ("cancel every job in this folder") is not the plugin's, and a
  starting job leaves other jobs' cancel files alone. Only a backend older than job ids (its ``start`` line
  has no ``job_id``) is asked through ``cancel``, the one file it watches; the plugin then deletes it only if
  it created it.
- After a failed, cancelled or killed job, only that job's debris is removed (``remove_partials``): hidden
  ``.partial`` files whose name carries ``.<job id>-``, and output claims (``.<name>.geogen-claim``) that
  record this job id, with any final file the killed job had already committed under such a claim. Another
  job's partial files, claims and outputs in the same folder are never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qgis.PyQt.QtCore import QProcess, QProcessEnvironment

from ..common.compat import PROCESS_NOT_RUNNING, PROCESS_SEPARATE_CHANNELS
from ..common.errors import BackendError, BackendNotFoundError, JobCancelledError
from .backend import INSTALL_HINT, Backend, check_program, clean_environment
from .protocol import LineSplitter, parse_line, progress_percent

JOB_ID_ENV = "GEOGEN_JOB_ID"
CANCEL_PREFIX = "cancel-"  # + job id: the per-job cancel file in the output folder
LEGACY_CANCEL_FILE = "cancel"  # what backends older than job ids watch (folder-wide)
CLAIM_SUFFIX = ".geogen-claim"
JOB_ID_PATTERN = re.compile(r"[0-9a-z]{4,32}")  # what the backend accepts as GEOGEN_JOB_ID
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
    job_id: str = ""

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


def new_job_id() -> str:
    """A fresh job id: 32 lowercase hex characters (the backend accepts ``[0-9a-z]{4,32}``)."""
    return uuid.uuid4().hex


def cancel_file_of(output_dir: Path, job_id: str) -> Path:
    """The file that asks the job ``job_id`` writing into ``output_dir`` (and no other) to stop."""
    return output_dir / f"{CANCEL_PREFIX}{job_id}"


def _claim_owner(path: Path) -> str | None:
    """The job id recorded in an output claim, or None when it cannot be read."""
    try:
        with path.open("rb") as f:
            record = json.loads(f.read(65536).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return str(record.get("job")) if isinstance(record, dict) and record.get("job") else None


def remove_partials(output_dir: Path, job_id: str, *, committed_since: float | None = None) -> list[Path]:
    """Delete what the job ``job_id`` left in ``output_dir`` after a kill or failure: its hidden temporary files
    (``.<stem>.<tag>.<job id>-<pid>-<host>.partial<suffix>`` and their GDAL sidecars) and its output claims.

    A claim of this job that is still there means the backend died without ending the job (killed, crashed):
    with ``committed_since`` (the wall-clock time the job started), a final file under that claim written after
    that time is this job's own commit and is removed too, so that a stopped job leaves nothing under final
    names; an older file there (what the job would have replaced) is kept.

    Files of other jobs (another job id in the name, or a claim recorded by another job) are left alone: they
    may be running right now.
    """
    removed: list[Path] = []
    if not job_id or not output_dir.is_dir():
        return removed
    token = f".{job_id}-"

    def unlink(path: Path) -> None:
        try:
            path.unlink()
            removed.append(path)
        except OSError:
            pass  # Windows may still hold the handle of a just-killed process; the file is hidden

    for p in sorted(output_dir.iterdir()):
        name = p.name
        if not name.startswith(".") or not p.is_file():
            continue
        if ".partial" in name and token in name:
            unlink(p)
        elif name.endswith(CLAIM_SUFFIX) and _claim_owner(p) == job_id:
            final = output_dir / name[1 : -len(CLAIM_SUFFIX)]
            if committed_since is not None and final.is_file() and final.stat().st_mtime >= committed_since:
                unlink(final)
                sidecar = final.with_name(final.name + ".aux.xml")
                if sidecar.is_file():
                    unlink(sidecar)
            unlink(p)
    return removed


def backend_environment(job_id: str | None = None) -> QProcessEnvironment:
    """The backend's environment (see backend.clean_environment) as a QProcessEnvironment; with ``job_id`` as
    GEOGEN_JOB_ID (never one inherited from QGIS's own environment)."""
    env = QProcessEnvironment()
    for key, value in clean_environment(os.environ).items():
        if key.upper() != JOB_ID_ENV:
            env.insert(key, value)
    if job_id:
        env.insert(JOB_ID_ENV, job_id)
    return env


class _Follower:
    """State of one running job: reads lines, dispatches events, remembers the final one."""

    def __init__(self, on_progress: ProgressCallback | None, on_log: LogCallback | None) -> None:
        self.on_progress = on_progress
        self.on_log = on_log
        self.stdout = LineSplitter()
        self.stderr = b""
        self.started = False
        self.start_event: dict[str, Any] = {}
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
            self.start_event = event
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
    job_id: str | None = None,
) -> JobOutcome:
    """Run ``job_file`` with ``backend`` and wait for it; see the module docstring.

    Args:
        on_progress: called with (percent 0-100, stage) for each progress line.
        on_log: called with (level "info"|"warning", message) for each log line and any stray output.
        is_cancelled: polled every ``poll_ms``; once true, the job is stopped.
        cancel_grace_s: how long the backend may take to stop by itself before it is killed.
        job_id: the job's id (default: a fresh ``new_job_id()``); names its cancel and partial files.

    Raises:
        BackendError: the backend could not start, reported an error, crashed, or spoke no protocol.
        JobCancelledError: ``is_cancelled`` became true; nothing was produced.
    """
    job_id = job_id or new_job_id()
    if not JOB_ID_PATTERN.fullmatch(job_id):
        raise ValueError(f"invalid job id {job_id!r}: 4-32 lowercase letters or digits")
    job_file = Path(job_file).resolve()
    output_dir = output_dir_of(job_file)
    output_dir.mkdir(parents=True, exist_ok=True)
    cancel_file = cancel_file_of(output_dir, job_id)
    follower = _Follower(on_progress, on_log)

    try:  # find_backend checked it; a Backend built in code is checked here (never a script host)
        check_program(Path(backend.program), backend.source)
    except BackendNotFoundError as exc:
        raise BackendError(f"could not start the geogen backend {backend.describe()}: {exc}") from None

    proc = QProcess()
    proc.setProcessChannelMode(PROCESS_SEPARATE_CHANNELS)
    proc.setProcessEnvironment(backend_environment(job_id))
    proc.setWorkingDirectory(str(job_file.parent))
    started_at = time.time()  # files this job commits are newer (see remove_partials)
    proc.start(backend.program, backend.argv("run", str(job_file), "--progress", "jsonl"))
    if not proc.waitForStarted(start_timeout_ms):
        raise BackendError(
            f"could not start the geogen backend {backend.describe()}: {proc.errorString()}. {INSTALL_HINT}"
        )

    cancel_at: float | None = None
    killed = False
    legacy_cancel = False
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
                if "job_id" not in follower.start_event:  # a backend older than job ids: folder-wide file
                    cancel_file = output_dir / LEGACY_CANCEL_FILE
                    legacy_cancel = not cancel_file.exists()  # delete only a file this run created
                try:
                    cancel_file.touch()  # this job (only) stops at its next cancellation point
                    cancel_at = now
                except OSError:  # e.g. a read-only folder: no cooperative cancel, stop the process instead
                    proc.kill()
                    killed = True
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
        if cancel_file.name != LEGACY_CANCEL_FILE or legacy_cancel:
            with contextlib.suppress(OSError):
                cancel_file.unlink(missing_ok=True)

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
        remove_partials(output_dir, job_id, committed_since=started_at)
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
        result=result,
        output_dir=output_dir,
        result_path=result_path,
        warnings=follower.warnings,
        job_id=job_id,
    )
