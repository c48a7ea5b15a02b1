"""The engine's options as the options model a pipeline reads, or an error naming the engine.

A pipeline serves every engine of a family, third-party ones included; it reads the fields of one options
model, so an engine whose options model does not derive from it is refused before any work.
"""

from __future__ import annotations

from typing import TypeVar

from geogen.engines.base import Engine, EngineOptions
from geogen.errors import EngineError

OptionsT = TypeVar("OptionsT", bound=EngineOptions)


def options_as(engine: Engine, model: type[OptionsT], need: str) -> OptionsT:
    """``engine.options`` when it is a ``model``.

    Raises:
        EngineError: it is not; the message is "<task> engine '<name>': ``need`` (it has <its model>)".
    """
    if not isinstance(engine.options, model):
        raise EngineError(
            f"{engine.task} engine {engine.name!r}: {need} (it has {type(engine.options).__qualname__})"
        )
    return engine.options
