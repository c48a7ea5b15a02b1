"""The base of every engine's typed ``options`` and the one wording of an invalid option.

It sits at the bottom of the package (beside ``geogen.errors``) so that the diffusion core, the engines and
the front ends can all declare or check options without importing one another.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class EngineOptions(BaseModel):
    """Base of every engine's options: frozen, strictly typed, unknown keys refused, no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def describe_error(err: dict[str, Any]) -> str:
    """One pydantic validation error as ``options.<key>: <problem>, got <value>``."""
    key = ".".join(str(x) for x in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    value = err.get("input")
    if err["type"] == "extra_forbidden":
        return f"options.{key}: unknown option"
    shown = "" if err["type"] == "missing" else f", got {value!r}"
    return f"options.{key}: {msg[0].lower() + msg[1:] if msg else msg}{shown}"
