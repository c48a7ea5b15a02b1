"""Progress reporting: one interface, two renderings (JSON lines for the plugin, a bar for people).

The JSON-lines protocol (``geogen run --progress jsonl``), one object per line on stdout:
    {"type": "start", "task": ..., "total": n}
    {"type": "progress", "done": i, "total": n, "stage": "..."}
    {"type": "log", "level": "info"|"warning", "message": "..."}
    {"type": "result", "result_path": "...", "result": {...}}      (last line on success)
    {"type": "error", "message": "...", "error": "ClassName"}       (last line on failure)
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Protocol, TextIO


class Reporter(Protocol):
    def progress(self, done: int, total: int, stage: str = "") -> None: ...
    def log(self, message: str, level: str = "info") -> None: ...
    def event(self, payload: dict[str, Any]) -> None: ...


class NullReporter:
    """Reports nothing (library use, tests)."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def progress(self, done: int, total: int, stage: str = "") -> None:
        pass

    def log(self, message: str, level: str = "info") -> None:
        if level == "warning":
            self.warnings.append(message)

    def event(self, payload: dict[str, Any]) -> None:
        pass


class JsonlReporter:
    """One JSON object per line, flushed at once, for the QGIS plugin and other programs."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.warnings: list[str] = []

    def event(self, payload: dict[str, Any]) -> None:
        self.stream.write(json.dumps(payload, default=str) + "\n")
        self.stream.flush()

    def progress(self, done: int, total: int, stage: str = "") -> None:
        self.event({"type": "progress", "done": int(done), "total": int(total), "stage": stage})

    def log(self, message: str, level: str = "info") -> None:
        if level == "warning":
            self.warnings.append(message)
        self.event({"type": "log", "level": level, "message": message})


class BarReporter:
    """A one-line progress bar on stderr for people at a terminal."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.warnings: list[str] = []
        self._t0 = time.monotonic()
        self._last = 0.0

    def progress(self, done: int, total: int, stage: str = "") -> None:
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        frac = done / total if total else 1.0
        filled = round(frac * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{stage:<12.12} [{bar}] {done}/{total} {now - self._t0:6.1f}s")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()

    def log(self, message: str, level: str = "info") -> None:
        if level == "warning":
            self.warnings.append(message)
            self.stream.write(f"warning: {message}\n")
            self.stream.flush()

    def event(self, payload: dict[str, Any]) -> None:
        pass
