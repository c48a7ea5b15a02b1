"""Which engine classes serve which task: ``(task, name) -> Engine class``, the one table every front end reads.

Built-in engines live one folder each under ``geogen/engines/``; each folder's ``contract.py`` declares its
engine class(es) with ``@register_engine``. Other packages add engines the same way: call ``register_engine``
(or list the module under the ``geogen.engines`` entry-point group, loaded on first lookup).
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from importlib.metadata import entry_points
from typing import TypeVar

from geogen.engines.base import Engine, EngineOptions
from geogen.errors import EngineError

TASKS = ("superres", "sketch", "text", "temporal")
ENTRY_POINT_GROUP = "geogen.engines"
BUILTIN_MODULES = (
    "geogen.engines.sharpen.contract",
    "geogen.engines.sr_controlnet.contract",
    "geogen.engines.sr_temporal.contract",
    "geogen.engines.exemplar.contract",
    "geogen.engines.sketch_controlnet.contract",
    "geogen.engines.text_diffusionsat.contract",
    "geogen.engines.temporal_controlnet.contract",
)

_ENGINES: dict[tuple[str, str], type[Engine]] = {}
_SEQUENCE: dict[type[Engine], int] = {}
_loaded = False

E = TypeVar("E", bound=type[Engine])


def register_engine(cls: E) -> E:
    """Register an engine class under ``(cls.task, cls.name)``; usable as a class decorator.

    Raises:
        EngineError: the class leaves abstract methods of its family unimplemented, the task is unknown, or the
            name (or an alias) is taken by another class.
    """
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise EngineError(
            f"{cls.task} engine {cls.name!r} cannot be registered: it does not implement {missing}"
        )
    if not isinstance(getattr(cls, "name", None), str) or not cls.name:
        raise EngineError(f"engine class {cls.__qualname__} has no name: set the class attribute `name`")
    if not (isinstance(cls.options_model, type) and issubclass(cls.options_model, EngineOptions)):
        raise EngineError(
            f"{cls.task} engine {cls.name!r}: options_model must derive from geogen.EngineOptions "
            "(frozen, strict, unknown keys refused)"
        )
    if cls.task not in TASKS:
        raise EngineError(
            f"engine {cls.name!r} declares unknown task {cls.task!r}; tasks: {', '.join(TASKS)}"
        )
    for name in (cls.name, *cls.aliases):
        other = _ENGINES.get((cls.task, name))
        if other is not None and other is not cls:
            raise EngineError(f"{cls.task} engine name {name!r} is already taken by {other.__qualname__}")
    default = next(
        (c for (t, _), c in _ENGINES.items() if t == cls.task and c.default and c is not cls), None
    )
    if cls.default and default is not None:
        raise EngineError(
            f"{cls.task} engine {cls.name!r} says it is the task's default, but {default.name!r} already is"
        )
    for name in (cls.name, *cls.aliases):
        _ENGINES[(cls.task, name)] = cls
    _SEQUENCE.setdefault(cls, len(_SEQUENCE))
    return cls


def unregister_engine(cls: type[Engine]) -> None:
    """Remove ``cls`` (and its aliases) from the registry; for tests and plugins that unload."""
    for key in [k for k, v in _ENGINES.items() if v is cls]:
        del _ENGINES[key]
    _SEQUENCE.pop(cls, None)


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True  # set first: a module being loaded may look engines up
    try:
        for module in BUILTIN_MODULES:
            importlib.import_module(module)
    except BaseException:
        _loaded = False  # try again next time rather than run with half a registry
        raise
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:  # another package's bug must not break geogen: skip it, say so
            warnings.warn(
                f"geogen: skipped the engines of entry point {ep.name!r} ({ep.value}): "
                f"{type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )


def _rank(cls: type[Engine]) -> tuple[int, bool, int, int]:
    """Listing order, the same whatever order modules were imported in.

    Task, default first, built-ins in ``BUILTIN_MODULES`` order (then each module's own order), other packages'
    engines last.
    """
    module = cls.__module__
    builtin = BUILTIN_MODULES.index(module) if module in BUILTIN_MODULES else len(BUILTIN_MODULES)
    return TASKS.index(cls.task), not cls.default, builtin, _SEQUENCE.get(cls, 0)


def list_engines(task: str | None = None) -> list[type[Engine]]:
    """Every registered engine (of ``task`` when given), each once, in a stable order (the default first)."""
    _load()
    found = {cls for (t, _), cls in _ENGINES.items() if task is None or t == task}
    return sorted(found, key=_rank)


def get_engine(task: str, name: str | None = None) -> type[Engine]:
    """The engine class ``name`` (or an alias of it) for ``task``; the task's default when ``name`` is None.

    Raises:
        EngineError: unknown task, or no such engine for the task (the message lists the known ones).
    """
    if task not in TASKS:
        raise EngineError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")
    known = list_engines(task)
    if not known:
        raise EngineError(f"no engine is available for task {task!r} in this version of geogen")
    if name is None:
        return next((e for e in known if e.default), known[0])
    cls = _ENGINES.get((task, name))
    if cls is None:
        raise EngineError(
            f"unknown engine {name!r} for task {task!r}; known: {', '.join(e.name for e in known)}"
        )
    return cls


def engine_table() -> list[dict[str, object]]:
    """Every engine's ``info()``: the table ``geogen info --json`` prints and the QGIS plugin reads."""
    return [cls.info() for cls in list_engines()]
