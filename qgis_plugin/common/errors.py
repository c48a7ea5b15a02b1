"""The plugin's own exceptions: each carries one message fit for the message bar."""

from __future__ import annotations


class GeogenPluginError(Exception):
    """Base of every error the plugin reports to the user."""


class BackendNotFoundError(GeogenPluginError):
    """No usable geogen backend executable was found (the message says what to install and where)."""


class BackendError(GeogenPluginError):
    """The backend process failed: its own error message, or what went wrong with the process.

    Attributes:
        error_type: the backend's error class name (e.g. ``"InputFileError"``), or ``None``.
        exit_code: the process exit code, or ``None`` when it did not exit normally.
    """

    def __init__(self, message: str, error_type: str | None = None, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.exit_code = exit_code


class JobCancelledError(GeogenPluginError):
    """The user cancelled the job; the backend was stopped and its partial files removed.

    Attributes:
        killed: True when the backend had to be killed, False when it stopped by itself at the cancel file.
    """

    def __init__(self, message: str = "job cancelled", killed: bool = False) -> None:
        super().__init__(message)
        self.killed = killed


class InputError(GeogenPluginError):
    """A parameter or layer given to the plugin cannot make a job (named with its value)."""
