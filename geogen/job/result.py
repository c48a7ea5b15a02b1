"""result.json: what a job produced, for the plugin and for people."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from os import PathLike
from typing import Any

RESULT_VERSION = 1


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
class JobResult:
    """Everything ``result.json`` records."""

    task: str
    engine: str
    spec_hash: str
    outputs: list[OutputRecord]
    timings: dict[str, float]
    geogen_version: str
    warnings: list[str] = field(default_factory=list)
    summary: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": RESULT_VERSION,
            "task": self.task,
            "engine": self.engine,
            "spec_hash": self.spec_hash,
            "geogen_version": self.geogen_version,
            "summary": self.summary,
            "outputs": [o.to_json() for o in self.outputs],
            "timings": self.timings,
            "warnings": self.warnings,
            **({"extra": self.extra} if self.extra else {}),
        }


@dataclass
class PipelineOutput:
    """What a task pipeline hands back to the runner."""

    outputs: list[OutputRecord]
    engine: str
    summary: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
