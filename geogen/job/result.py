"""result.json: what a job produced, for the plugin and for people."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from geogen.records import OutputRecord

RESULT_VERSION = 1


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
