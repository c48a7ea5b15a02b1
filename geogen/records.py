"""What a pipeline produced: one record per file written, and the outputs a task hands to the job runner.

Kept below the engines and pipelines so that both can describe their files without importing the job layer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from os import PathLike
from typing import Any


@dataclass
class OutputRecord:
    """One file a job wrote."""

    path: str
    bands: list[str]
    crs: str
    bounds: tuple[float, float, float, float]
    width: int
    height: int
    kind: str = "generated"  # "generated" (synthetic), "derived" (sharpened observation) or "observed"
    synthetic: bool = True
    date: dt.date | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def on_grid(cls, path: str | PathLike[str], grid: Any, bands: list[str], **fields: Any) -> OutputRecord:
        """The record of the file at ``path`` laid out on ``grid`` (a ``tiles.Grid``: CRS, bounds, size)."""
        return cls(
            path=str(path),
            bands=bands,
            crs=grid.crs,
            bounds=grid.bounds,
            width=grid.width,
            height=grid.height,
            **fields,
        )

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["date"] = self.date.isoformat() if self.date else None
        d["bounds"] = list(self.bounds)
        return d


def stage_seconds(start: float, **ends: float) -> dict[str, float]:
    """The seconds of consecutive stages for result.json's timings, rounded to milliseconds: ``name=end`` in
    order, each stage running from the previous end (``start`` for the first) to its own."""
    seconds, last = {}, start
    for name, end in ends.items():
        seconds[name] = round(end - last, 3)
        last = end
    return seconds


@dataclass
class PipelineOutput:
    """What a task pipeline hands back to the runner."""

    outputs: list[OutputRecord]
    engine: str
    summary: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
