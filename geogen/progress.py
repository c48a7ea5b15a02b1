"""Progress reporting: one interface, two renderings (JSON lines for the plugin, a bar for people).

The JSON-lines protocol (``geogen run --progress jsonl``), one object per line on stdout:
    {"type": "start", "task": ..., "total": n}
    {"type": "progress", "done": i, "total": n, "stage": "..."}
    {"type": "log", "level": "info"|"warning", "message": "..."}
    {"type": "result", "result_path": "...", "result": {...}}      (last line on success)
    {"type": "error", "message": "...", "error": "ClassName"}       (last line on failure)
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TextIO


class Reporter(Protocol):
    def progress(self, done: int, total: int, stage: str = "") -> None: ...
    def log(self, message: str, level: str = "info") -> None: ...
    def event(self, payload: dict[str, Any]) -> None: ...


def _say_warning(stream: TextIO | None, message: str) -> None:
    if stream is not None:
        stream.write(f"warning: {message}\n")
        stream.flush()


class NullReporter:
    """Reports no progress (library use, tests, scripts); warnings still go to ``warn_stream`` when given.

    The CLI passes stderr, so that a script or a pipe sees every warning whatever the progress mode.
    """

    def __init__(self, warn_stream: TextIO | None = None) -> None:
        self.warnings: list[str] = []
        self.warn_stream = warn_stream

    def progress(self, done: int, total: int, stage: str = "") -> None:
        pass

    def log(self, message: str, level: str = "info") -> None:
        if level == "warning":
            self.warnings.append(message)
            _say_warning(self.warn_stream, message)

    def event(self, payload: dict[str, Any]) -> None:
        pass


class JsonlReporter:
    """One JSON object per line, flushed at once, for the QGIS plugin and other programs.

    Warnings are ``log`` events with level "warning" and, when ``warn_stream`` is given (the CLI: stderr), also
    ``warning: ...`` lines there.
    """

    def __init__(self, stream: TextIO | None = None, warn_stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.warnings: list[str] = []
        self.warn_stream = warn_stream

    def event(self, payload: dict[str, Any]) -> None:
        self.stream.write(json.dumps(payload, default=str) + "\n")
        self.stream.flush()

    def progress(self, done: int, total: int, stage: str = "") -> None:
        self.event({"type": "progress", "done": int(done), "total": int(total), "stage": stage})

    def log(self, message: str, level: str = "info") -> None:
        if level == "warning":
            self.warnings.append(message)
            _say_warning(self.warn_stream, message)
        self.event({"type": "log", "level": level, "message": message})


class BarReporter:
    """A one-line progress bar on stderr for people at a terminal."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.warnings: list[str] = []
        self._t0 = time.monotonic()
        self._last = 0.0
        self._open = False  # a bar is on the line, not yet ended by a newline

    def progress(self, done: int, total: int, stage: str = "") -> None:
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        frac = done / total if total else 1.0
        filled = round(frac * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{stage:<12.12} [{bar}] {done}/{total} {now - self._t0:6.1f}s")
        self._open = done < total
        if not self._open:
            self.stream.write("\n")
        self.stream.flush()

    def log(self, message: str, level: str = "info") -> None:
        if level == "warning":
            self.warnings.append(message)
            if self._open:  # end the bar's line first; the next report redraws it
                self.stream.write("\n")
                self._open = False
            _say_warning(self.stream, message)

    def event(self, payload: dict[str, Any]) -> None:
        pass


def library_warning_text(
    message: warnings.WarningMessage | Warning | str, category: type | None = None
) -> str:
    """One line for a library's Python warning: its category and the first line of its text."""
    text = str(getattr(message, "message", message)).strip().splitlines()
    cat = category or getattr(message, "category", None) or type(message)
    return f"{getattr(cat, '__name__', 'Warning')}: {text[0] if text else ''}"


@contextlib.contextmanager
def capture_library_warnings(
    held: list[str], on_warning: Callable[[str], None] | None = None
) -> Iterator[list[str]]:
    """Collect the Python warnings raised inside (rasterio, shapely, pyproj, numpy...) into ``held``, one line each.

    Nothing is printed meanwhile, so no library's multi-line warning precedes geogen's one-line error; the
    caller reports ``held`` as warnings once it knows the job succeeded (``on_warning``, if given, is called
    with each new one at once, e.g. to keep it for the result record). Not thread-safe (``warnings`` is not).
    """

    def show(
        message: Any, category: type, filename: str, lineno: int, file: Any = None, line: Any = None
    ) -> None:
        text = library_warning_text(message, category)
        if text not in held:
            held.append(text)
            if on_warning is not None:
                on_warning(text)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        warnings.showwarning = show
        yield held
