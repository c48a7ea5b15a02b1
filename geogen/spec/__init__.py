"""The job spec: the one versioned contract between the QGIS plugin (or any client) and the backend.

Below the pipelines (which read jobs) and above the engines (whose registry validates a job's ``options``).
``jobs`` holds the models and their reading and writing; ``migrate`` upgrades older versions.
"""

from geogen.spec.jobs import (
    SPEC_VERSION,
    TASKS,
    AreaOfInterest,
    DatedInput,
    Exemplar,
    Job,
    LoraRef,
    OutputSpec,
    SketchJob,
    SuperresJob,
    TemporalJob,
    TextJob,
    job_hash,
    job_to_dict,
    json_schema,
    load_job,
    parse_job,
    save_job,
)

__all__ = [
    "SPEC_VERSION",
    "TASKS",
    "AreaOfInterest",
    "DatedInput",
    "Exemplar",
    "Job",
    "LoraRef",
    "OutputSpec",
    "SketchJob",
    "SuperresJob",
    "TemporalJob",
    "TextJob",
    "job_hash",
    "job_to_dict",
    "json_schema",
    "load_job",
    "parse_job",
    "save_job",
]
