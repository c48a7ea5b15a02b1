"""A QgsTask that owns one backend process, for the dock (Processing algorithms call run_job directly).

``run()`` (worker thread) only runs the process; ``finished()`` (main thread) hands the outcome to a callback,
which adds layers and shows messages. Keep a reference to the task until it has finished.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qgis.core import QgsTask

from ..common.compat import TASK_CAN_CANCEL
from ..common.errors import GeogenPluginError, JobCancelledError
from ..common.log import log
from .backend import Backend
from .process import JobOutcome, new_job_id, run_job


class GeogenTask(QgsTask):
    """Runs ``job_file`` with ``backend``; ``on_finished(task)`` runs on the main thread when it ends.

    After it ends, exactly one of ``outcome`` (success), ``error`` (a message) or ``cancelled`` is set.
    ``job_id`` names the job's cancel and partial files in its output folder (see process.py): Cancel stops
    this job only, and only its own debris is removed.
    """

    def __init__(
        self,
        description: str,
        backend: Backend,
        job_file: Path,
        on_finished: Callable[[GeogenTask], None] | None = None,
        cancel_grace_s: float = 5.0,
        job_id: str | None = None,
    ) -> None:
        super().__init__(description, TASK_CAN_CANCEL)
        self.job_id = job_id or new_job_id()
        self.backend = backend
        self.job_file = Path(job_file)
        self.on_finished = on_finished
        self.cancel_grace_s = cancel_grace_s
        self.outcome: JobOutcome | None = None
        self.error: str | None = None
        self.cancelled = False
        self.killed = False  # the backend ignored the cancel request and was killed
        self.stage = ""
        self.percent = 0.0  # readable after QGIS has deleted the C++ task

    def _progress(self, percent: float, stage: str) -> None:
        self.stage = stage
        self.percent = percent
        self.setProgress(percent)

    def run(self) -> bool:
        try:
            self.outcome = run_job(
                self.backend,
                self.job_file,
                on_progress=self._progress,
                on_log=lambda level, msg: log(msg, level),
                is_cancelled=self.isCanceled,
                cancel_grace_s=self.cancel_grace_s,
                job_id=self.job_id,
            )
            return True
        except JobCancelledError as exc:
            self.cancelled = True
            self.killed = exc.killed
        except GeogenPluginError as exc:
            self.error = str(exc)
        except Exception as exc:  # a bug here must not take QGIS down with it
            self.error = f"unexpected error in the geogen plugin: {type(exc).__name__}: {exc}"
        return False

    def finished(self, result: bool) -> None:
        if not result and not self.cancelled and self.error is None:
            self.cancelled = self.isCanceled()  # cancelled before run() started
            if not self.cancelled:
                self.error = "the geogen task ended without a result"
        if self.on_finished is not None:
            self.on_finished(self)
