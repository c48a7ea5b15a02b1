"""What a finished job hands back to Python callers: the files it wrote and everything its result.json holds."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geogen.job.result import JobResult
from geogen.records import OutputRecord


@dataclass(frozen=True)
class Result:
    """The outcome of one geogen job, as recorded in its result.json.

    Attributes:
        task: the task that ran ("superres", "sketch", "text" or "temporal").
        engine: the engine's name, as written in the GeoTIFF tags and result.json.
        outputs: one record per file written (path, bands, CRS, bounds, size, kind, synthetic, date).
        result_path: where the result record (result.json) was written.
        summary: a human-readable line about the run (may be empty).
        warnings: the warnings the job raised, in order.
        timings: seconds per stage, with ``total_s``.
        spec_hash: sha256 of the job's canonical JSON (same job, same hash).
        geogen_version: the geogen version that ran the job.
        extra: task-specific details (e.g. a temporal job's plan).
    """

    task: str
    engine: str
    outputs: list[OutputRecord]
    result_path: Path
    summary: str = ""
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    spec_hash: str = ""
    geogen_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def paths(self) -> list[Path]:
        """The paths of the files written, in the order of ``outputs``."""
        return [Path(o.path) for o in self.outputs]

    def to_json(self) -> dict[str, Any]:
        """The result record as a JSON-ready dict, equal to the contents of ``result_path``.

        Returns:
            The same dict that ``json.load`` gives for the result.json the job wrote.
        """
        record = self._job_result().to_json()
        out: dict[str, Any] = json.loads(json.dumps(record, default=str))
        return out

    def _job_result(self) -> JobResult:
        return JobResult(
            task=self.task,
            engine=self.engine,
            spec_hash=self.spec_hash,
            outputs=self.outputs,
            timings=self.timings,
            geogen_version=self.geogen_version,
            warnings=self.warnings,
            summary=self.summary,
            extra=self.extra,
        )

    @classmethod
    def from_job_result(cls, result: JobResult, result_path: Path) -> Result:
        """The Python view of the job runner's record.

        Args:
            result: what ``geogen.job.runner.run_job`` returned.
            result_path: where that record was written.

        Returns:
            A ``Result`` holding the same values.
        """
        return cls(
            task=result.task,
            engine=result.engine,
            outputs=list(result.outputs),
            result_path=Path(result_path),
            summary=result.summary,
            warnings=list(result.warnings),
            timings=dict(result.timings),
            spec_hash=result.spec_hash,
            geogen_version=result.geogen_version,
            extra=dict(result.extra),
        )
