"""The backend's JSON-lines protocol (``geogen run --progress jsonl``): one JSON object per stdout line.

{"type": "start", ...}
{"type": "progress", "done": i, "total": n, "stage": "..."}
{"type": "log", "level": "info"|"warning", "message": "..."}
{"type": "result", "result_path": "...", "result": {...}}   last line on success
{"type": "error", "error": "ClassName", "message": "..."}   last line on failure
"""

from __future__ import annotations

import json
from typing import Any

EVENT_TYPES = ("start", "progress", "log", "result", "error")


def parse_line(line: bytes | str) -> dict[str, Any] | None:
    """The event on one line, or None when the line is not a protocol event (stray output, garbage)."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict) or event.get("type") not in EVENT_TYPES:
        return None
    return event


def progress_percent(event: dict[str, Any]) -> float | None:
    """0-100 from a progress event, or None when it carries no usable numbers."""
    try:
        done, total = float(event["done"]), float(event["total"])
    except (KeyError, TypeError, ValueError):
        return None
    if total <= 0:
        return None
    return max(0.0, min(100.0, 100.0 * done / total))


class LineSplitter:
    """Turns chunks of bytes into complete lines (a line may arrive in pieces)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        return [ln.rstrip(b"\r") for ln in lines]

    def flush(self) -> list[bytes]:
        rest, self._buffer = self._buffer, b""
        return [rest.rstrip(b"\r")] if rest.strip() else []
