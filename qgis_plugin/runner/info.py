"""What the installed backend offers, asked once per backend command and model store.

``geogen info --json`` gives the version, tasks, engines, the model-kind table (which task and engine accept a
model of each store kind) and the installed models with the tasks they serve; it is the one source of those
facts: the plugin keeps no copy. With older backends ``geogen models list --json`` gives the installed weights,
placed by that kind table. The answer depends on the model store the backend sees (``GEOGEN_HOME``),
so it is cached per backend command and store.
"""

from __future__ import annotations

import json
import os
from typing import Any

from qgis.PyQt.QtCore import QProcess

from ..common.compat import PROCESS_SEPARATE_CHANNELS
from ..common.errors import BackendError, GeogenPluginError
from .backend import Backend, find_backend
from .process import backend_environment

_CACHE: dict[tuple[tuple[str, ...], str], dict[str, Any]] = {}
STORE_ENV = "GEOGEN_HOME"


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
    key = (backend.command, os.environ.get(STORE_ENV, ""))
    if not refresh and key in _CACHE:
        return _CACHE[key]
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
    _CACHE[key] = info
    return info


def clear_cache() -> None:
    """Forget every backend's answer (after installing models, or pointing the plugin at another backend)."""
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


def _as_model(use: Any) -> bool:
    """A task entry that offers the model as the job's ``model`` (not as a ControlNet option or a LoRA)."""
    return not isinstance(use, dict) or use.get("field", "model") == "model"


def model_tasks(model: dict[str, Any], info: dict[str, Any] | None = None) -> tuple[str, ...]:
    """The tasks whose ``model`` an installed model can be: its own ``tasks`` (names, or ``{task, engine,
    field}`` objects as ``geogen info --json`` lists them) or ``task`` when given, else what the backend's
    ``model_kinds`` table (``geogen info --json``, the one source) says of its kind."""
    uses = model.get("tasks") or ([model["task"]] if model.get("task") else None)
    if uses is None:
        uses = (info or {}).get("model_kinds", {}).get(str(model.get("kind", "")), [])
    names = (str(u.get("task", "") if isinstance(u, dict) else u) for u in uses if _as_model(u))
    return tuple(dict.fromkeys(names))


def _installed(info: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [
        m
        for m in (info or {}).get("models", []) or []
        if isinstance(m, dict) and m.get("name") and m.get("installed", True)
    ]


def models_for(info: dict[str, Any] | None, task: str, exclude_kinds: tuple[str, ...] = ()) -> list[str]:
    """Names of the installed models usable for ``task``, leaving out those of ``exclude_kinds``."""
    return [
        str(m["name"])
        for m in _installed(info)
        if task in model_tasks(m, info) and str(m.get("kind", "")) not in exclude_kinds
    ]


def kinds_for_field(info: dict[str, Any] | None, task: str, field: str) -> tuple[str, ...]:
    """Store kinds the backend accepts in a job field of ``task`` (``model``, ``options.controlnet``, ``loras``),
    from its ``model_kinds`` table."""
    table = (info or {}).get("model_kinds", {}) or {}
    return tuple(
        kind
        for kind, uses in table.items()
        if any(isinstance(u, dict) and u.get("task") == task and u.get("field") == field for u in uses)
    )


def models_for_field(info: dict[str, Any] | None, task: str, field: str) -> list[str]:
    """Names of the installed models the backend accepts in ``field`` of a ``task`` job (e.g. temporal's
    ``options.controlnet``: DiffusionSat's 3-D ControlNets)."""
    kinds = kinds_for_field(info, task, field)
    return [str(m["name"]) for m in _installed(info) if str(m.get("kind", "")) in kinds]
