"""What the installed backend offers, asked once per backend command.

``geogen info --json`` gives the version, tasks and engines; ``geogen models list --json`` the installed
weights.
"""

from __future__ import annotations

import json
from typing import Any

from qgis.PyQt.QtCore import QProcess

from ..common.compat import PROCESS_SEPARATE_CHANNELS
from ..common.errors import BackendError, GeogenPluginError
from .backend import Backend, find_backend
from .process import backend_environment

_CACHE: dict[tuple[str, ...], dict[str, Any]] = {}

# Which tasks a model of each store kind serves (kinds from the backend's model store; LoRAs are styles, not
# models to pick here).
KIND_TASKS: dict[str, tuple[str, ...]] = {
    "diffusionsat": ("text", "temporal"),
    "diffusionsat-sr-controlnet": ("superres",),
    "diffusionsat-3d-controlnet": ("temporal",),
    "controlnet": ("sketch",),
    "sd-pipeline": ("sketch", "text"),
}


def _run_json(backend: Backend, args: list[str], timeout_ms: int) -> tuple[int, Any, str]:
    """Exit code, parsed stdout JSON (None when it is not JSON) and the last error line of one backend call.

    Raises:
        BackendError: the backend did not start or did not answer in time.
    """
    proc = QProcess()
    proc.setProcessChannelMode(PROCESS_SEPARATE_CHANNELS)
    proc.setProcessEnvironment(backend_environment())
    proc.start(backend.program, backend.argv(*args))
    if not proc.waitForStarted(timeout_ms):
        raise BackendError(f"could not start the geogen backend {backend.describe()}: {proc.errorString()}")
    if not proc.waitForFinished(timeout_ms):
        proc.kill()
        proc.waitForFinished(5000)
        raise BackendError(
            f"the geogen backend {backend.describe()} did not answer `{' '.join(args)}` within "
            f"{timeout_ms // 1000} s"
        )
    out = bytes(proc.readAllStandardOutput()).decode("utf-8", errors="replace")
    err = bytes(proc.readAllStandardError()).decode("utf-8", errors="replace").strip()
    try:
        parsed = json.loads(out)
    except ValueError:
        parsed = None
    detail = (err or out).strip().splitlines()[-1:] or ["no output"]
    return proc.exitCode(), parsed, detail[0][:300]


def backend_info(backend: Backend, *, refresh: bool = False, timeout_ms: int = 60000) -> dict[str, Any]:
    """The backend's self-description, with ``models`` (installed weights; [] when it cannot list them).

    Raises:
        BackendError: the backend did not start, timed out or printed something that is not its info JSON.
    """
    if not refresh and backend.command in _CACHE:
        return _CACHE[backend.command]
    code, info, detail = _run_json(backend, ["info", "--json"], timeout_ms)
    if code != 0 or not isinstance(info, dict) or "engines" not in info:
        raise BackendError(
            f"{backend.describe()} is not a working geogen backend (`info --json` exit code {code}: {detail})"
        )
    if "models" not in info:
        try:
            code, listing, _ = _run_json(backend, ["models", "list", "--json"], timeout_ms)
        except BackendError:
            listing = None
        models = listing.get("models") if code == 0 and isinstance(listing, dict) else None
        info = {**info, "models": [m for m in models or [] if isinstance(m, dict)]}
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


def model_tasks(model: dict[str, Any]) -> tuple[str, ...]:
    """The tasks an installed model serves: its own ``task``/``tasks`` when given, else from its kind."""
    if model.get("tasks"):
        return tuple(model["tasks"])
    if model.get("task"):
        return (str(model["task"]),)
    return KIND_TASKS.get(str(model.get("kind", "")), ())


def models_for(info: dict[str, Any] | None, task: str) -> list[str]:
    """Names of the installed models usable for ``task``."""
    return [
        str(m["name"])
        for m in (info or {}).get("models", []) or []
        if m.get("name") and m.get("installed", True) and task in model_tasks(m)
    ]
