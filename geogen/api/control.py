"""How a Python caller follows and stops a job: a progress callback or Reporter, a cancel token or Event.

The library never installs signal handlers (that is the command line's business): a caller cancels by setting
its token or ``threading.Event``, from any thread or from inside its progress callback, and the job stops at its
next progress report with ``CancelledError``, leaving no partial output behind.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

from geogen.job.runner import CANCEL_FILE, CancelToken
from geogen.progress import Reporter

logger = logging.getLogger("geogen")

ProgressCallback: TypeAlias = Callable[[int, int, str], None]
"""``callback(done, total, stage)``: ``done`` of ``total`` steps of the stage named ``stage``."""

Progress: TypeAlias = ProgressCallback | Reporter | None
Cancel: TypeAlias = CancelToken | threading.Event | None

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class CallbackReporter:
    """A Reporter for library callers: progress to a plain callable, log lines to the ``geogen`` logger.

    The token is checked right after each callback returns, so a callback that sets it stops the job at once.
    """

    def __init__(self, callback: ProgressCallback | None, token: CancelToken) -> None:
        """Report to ``callback`` (None: log lines only) and check ``token`` after each call of it."""
        self.callback = callback
        self.token = token
        self.warnings: list[str] = []

    def progress(self, done: int, total: int, stage: str = "") -> None:
        """Hand ``(done, total, stage)`` to the callback, then stop the job if it asked to cancel.

        Raises:
            CancelledError: the token was set (by the callback or by anyone else).
        """
        if self.callback is not None:
            self.callback(int(done), int(total), stage)
            self.token.check()

    def log(self, message: str, level: str = "info") -> None:
        """Send a log line to the ``geogen`` logger at its level; warnings are also kept for the result."""
        if level == "warning":
            self.warnings.append(message)
        logger.log(_LEVELS.get(level, logging.INFO), message)

    def event(self, payload: dict[str, Any]) -> None:
        """Machine events (the job's start) go to the ``geogen`` logger at debug level."""
        logger.debug("event: %s", payload)


def is_reporter(obj: object) -> bool:
    """True for an object with the Reporter methods (``progress``, ``log``, ``event``)."""
    return all(callable(getattr(obj, name, None)) for name in ("progress", "log", "event"))


def cancel_token(cancel: Cancel, output_dir: str | Path) -> CancelToken:
    """The token the job runner checks: the caller's request linked to the job's cancel file.

    A caller's ``CancelToken`` that watches a cancel file of its own is used as is; otherwise the job also stops
    when a file named ``cancel`` appears in its output folder (what the QGIS plugin does), as a job run by
    ``geogen run`` would.

    Raises:
        TypeError: ``cancel`` is neither a CancelToken, a threading.Event nor None.
    """
    if isinstance(cancel, CancelToken):
        if cancel.cancel_file is not None:
            return cancel
        event: threading.Event | None = cancel.event
    elif cancel is None or isinstance(cancel, threading.Event):
        event = cancel
    else:
        raise TypeError(
            f"cancel must be a geogen CancelToken or a threading.Event, got {type(cancel).__name__}"
        )
    return CancelToken(Path(output_dir) / CANCEL_FILE, event=event)


def reporter_for(progress: Progress, token: CancelToken) -> Reporter:
    """The Reporter that receives the job's progress: the caller's own, or one wrapping its callback.

    Raises:
        TypeError: ``progress`` is neither a Reporter, a callable nor None.
    """
    if is_reporter(progress):
        return progress  # type: ignore[return-value]
    if progress is None or callable(progress):
        return CallbackReporter(progress, token)
    raise TypeError(
        f"progress must be a callable (done, total, stage) or a geogen Reporter, got {type(progress).__name__}"
    )
