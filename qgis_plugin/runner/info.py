"""What the installed backend offers (``geogen info --json``): version, tasks, engines, models; cached."""

from __future__ import annotations

import json
from typing import Any

from qgis.PyQt.QtCore import QProcess

from ..common.compat import PROCESS_SEPARATE_CHANNELS
from ..common.errors import BackendError, GeogenPluginError
from .backend import Backend, find_backend
from .process import backend_environment

_CACHE: dict[tuple[str, ...], dict[str, Any]] = {}


def backend_info(backend: Backend, *, refresh: bool = False, timeout_ms: int = 60000) -> dict[str, Any]:
    """The backend's self-description, asked once per backend command.

    Raises:
        BackendError: the backend did not start, timed out or printed something that is not its info JSON.
    """
    if not refresh and backend.command in _CACHE:
        return _CACHE[backend.command]
    proc = QProcess()
    proc.setProcessChannelMode(PROCESS_SEPARATE_CHANNELS)
    proc.setProcessEnvironment(backend_environment())
    proc.start(backend.program, backend.argv("info", "--json"))
    if not proc.waitForStarted(timeout_ms):
        raise BackendError(f"could not start the geogen backend {backend.describe()}: {proc.errorString()}")
    if not proc.waitForFinished(timeout_ms):
        proc.kill()
        proc.waitForFinished(5000)
        raise BackendError(
            f"the geogen backend {backend.describe()} did not answer `info --json` within "
            f"{timeout_ms // 1000} s"
        )
    out = bytes(proc.readAllStandardOutput()).decode("utf-8", errors="replace")
    err = bytes(proc.readAllStandardError()).decode("utf-8", errors="replace").strip()
    try:
        info = json.loads(out)
    except ValueError:
        info = None
    if proc.exitCode() != 0 or not isinstance(info, dict) or "engines" not in info:
        detail = (err or out).strip().splitlines()[-1:] or ["no output"]
        raise BackendError(
            f"{backend.describe()} is not a working geogen backend (`info --json` exit code "
            f"{proc.exitCode()}: {detail[0][:300]})"
        )
    _CACHE[backend.command] = info
    return info


def clear_cache() -> None:
    _CACHE.clear()


def current_info() -> dict[str, Any] | None:
    """The info of the backend found now, or None when there is none (callers then offer defaults only)."""
    try:
        return backend_info(find_backend())
    except GeogenPluginError:
        return None


def engines_for(info: dict[str, Any] | None, task: str) -> list[str]:
    """Names of the engines serving ``task``, the default first."""
    engines = [e for e in (info or {}).get("engines", []) if e.get("task") == task]
    engines.sort(key=lambda e: not e.get("default", False))
    return [str(e["name"]) for e in engines]


def models_for(info: dict[str, Any] | None, task: str) -> list[str]:
    """Names of installed models usable for ``task`` (from an optional ``models`` list in the info)."""
    names = []
    for m in (info or {}).get("models", []) or []:
        if isinstance(m, dict) and (m.get("task") in (None, task) or task in (m.get("tasks") or [])):
            if m.get("installed", True) and m.get("name"):
                names.append(str(m["name"]))
    return names
