"""Older job files, upgraded to the current spec before validation: a v1 job keeps working unchanged.

v1 -> v2: engines became registered classes with typed options; the superres engine ``diffusionsat`` is now
``diffusionsat-sr`` (the name its GeoTIFF tags always carried). Options keep their keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from geogen.errors import JobSpecError

CURRENT_VERSION = 2
RENAMED_ENGINES: dict[tuple[int, str, str], str] = {(1, "superres", "diffusionsat"): "diffusionsat-sr"}


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data, version=2)
    renamed = RENAMED_ENGINES.get((1, str(out.get("task")), str(out.get("engine"))))
    if renamed is not None:
        out["engine"] = renamed
    return out


STEPS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` upgraded step by step to ``CURRENT_VERSION`` (a job without ``version`` is taken as current).

    Raises:
        JobSpecError: a version this geogen does not know (newer, or not a whole number).
    """
    version = data.get("version", CURRENT_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= CURRENT_VERSION:
        raise JobSpecError(
            f"job spec version {version!r} is not supported (this geogen reads versions 1 to {CURRENT_VERSION})"
        )
    while version < CURRENT_VERSION:
        data = STEPS[version](data)
        version = data["version"]
    return data
