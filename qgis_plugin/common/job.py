"""Job documents (``job.json``) for the backend, built as plain dicts; see ``geogen job-schema``.

Paths inside a job directory are written relative to it, so the directory can be moved or sent elsewhere as a
whole (the backend resolves relative paths against the job file's folder).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError

SPEC_VERSION = 2  # the backend still reads version 1 files (geogen.spec.migrate)
JOB_FILE = "job.json"
RESULT_FILE = "result.json"
TASKS = ("sketch", "superres", "text", "temporal")


@dataclass(frozen=True)
class RunOptions:
    """What every task shares: engine, model, seed, steps and the output file stem."""

    engine: str | None = None
    model: str | None = None
    seed: int = 0
    steps: int | None = None
    name: str = "geogen"


@dataclass(frozen=True)
class Area:
    """An area of interest: ``bounds`` (left, bottom, right, top) in ``crs`` ("EPSG:n" or WKT)."""

    bounds: tuple[float, float, float, float]
    crs: str

    def to_json(self) -> dict[str, Any]:
        """The job spec's ``aoi`` object."""
        return {"bounds": [float(v) for v in self.bounds], "crs": self.crs}


def relative_to_job(path: str | Path, job_dir: Path) -> str:
    """``path`` relative to ``job_dir`` when it lies inside it (POSIX separators), else absolute."""
    p = Path(path)
    try:
        return p.resolve().relative_to(job_dir.resolve()).as_posix()
    except ValueError:
        return str(p.resolve())


def _compact(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != [] and v != {}}


def _base(task: str, options: RunOptions) -> dict[str, Any]:
    return _compact(
        {
            "version": SPEC_VERSION,
            "task": task,
            "engine": options.engine or None,
            "model": options.model or None,
            "seed": int(options.seed),
            "steps": int(options.steps) if options.steps else None,
            "output": {"dir": ".", "name": options.name, "overwrite": True, "result": RESULT_FILE},
        }
    )


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def sketch_job(
    landcover: str,
    options: RunOptions,
    *,
    class_field: str | None = None,
    layer: str | None = None,
    mapping: str | None = None,
    aoi: Area | None = None,
    gsd: float | None = None,
    date: dt.date | None = None,
    prompt: str | None = None,
    exemplar: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A sketch job: land-cover polygons (with ``class_field``) or a class raster -> synthetic image."""
    return {
        **_base("sketch", options),
        **_compact(
            {
                "landcover": landcover,
                "layer": layer,
                "class_field": class_field,
                "mapping": mapping,
                "aoi": aoi.to_json() if aoi else None,
                "gsd": gsd or None,
                "date": _date(date),
                "prompt": prompt or None,
                "exemplar": {"image": exemplar[0], "mask": exemplar[1]} if exemplar else None,
            }
        ),
    }


def superres_job(
    input_path: str,
    options: RunOptions,
    *,
    aoi: Area | None = None,
    target_gsd: float | None = None,
    bands: list[str] | None = None,
) -> dict[str, Any]:
    """A super-resolution job on a Sentinel-2 stack (file, band folder, .SAFE or its .zip)."""
    return {
        **_base("superres", options),
        **_compact(
            {
                "input": input_path,
                "aoi": aoi.to_json() if aoi else None,
                "target_gsd": target_gsd or None,
                "bands": bands or None,
            }
        ),
    }


def text_job(
    prompt: str,
    aoi: Area,
    gsd: float,
    options: RunOptions,
    *,
    date: dt.date | None = None,
    cloud_cover: float | None = None,
    guidance_scale: float | None = None,
) -> dict[str, Any]:
    """A text-to-image job over ``aoi`` at ``gsd`` metres per pixel.

    Raises:
        InputError: the prompt is empty or the GSD is not positive.
    """
    if not prompt.strip():
        raise InputError("a text-to-scene job needs a prompt")
    if not gsd > 0:
        raise InputError(f"GSD must be positive, got {gsd!r}")
    return {
        **_base("text", options),
        **_compact(
            {
                "prompt": prompt.strip(),
                "aoi": aoi.to_json(),
                "gsd": gsd,
                "date": _date(date),
                "cloud_cover": cloud_cover,
                "guidance_scale": guidance_scale,
            }
        ),
    }


def temporal_job(
    target_dates: list[dt.date],
    options: RunOptions,
    *,
    inputs: Iterable[str] = (),
    seed_image: str | None = None,
    aoi: Area | None = None,
    gsd: float | None = None,
    cloud_max: float | None = None,
    prompt: str | None = None,
    controlnet: str | None = None,
) -> dict[str, Any]:
    """A temporal job: observed frames (``inputs``) and/or a seed image -> frames at ``target_dates``.

    ``options.model`` is the DiffusionSat model and ``controlnet`` its 3-D (temporal) ControlNet (job option
    ``controlnet``). A ControlNet given without a model becomes the job's ``model``: the backend then finds
    the DiffusionSat model under it (in its folder, else the only one installed).

    Raises:
        InputError: no target date.
    """
    if not target_dates:
        raise InputError("a temporal job needs at least one target date")
    job = _base("temporal", options)
    if controlnet and not options.model:
        job["model"] = controlnet
    elif controlnet:
        job["options"] = {"controlnet": controlnet}
    return {
        **job,
        **_compact(
            {
                "inputs": [{"path": p} for p in inputs],
                "seed_image": {"path": seed_image} if seed_image else None,
                "target_dates": [d.isoformat() for d in target_dates],
                "aoi": aoi.to_json() if aoi else None,
                "gsd": gsd or None,
                "cloud_max": cloud_max,
                "prompt": prompt or None,
            }
        ),
    }


def parse_dates(text: str) -> list[dt.date]:
    """Dates from "2020-01-15, 2020-06-01" (commas, semicolons or spaces between ISO dates).

    Raises:
        InputError: a token is not an ISO date (YYYY-MM-DD).
    """
    dates = []
    for token in text.replace(";", ",").replace(" ", ",").split(","):
        token = token.strip()
        if not token:
            continue
        try:
            dates.append(dt.date.fromisoformat(token))
        except ValueError:
            raise InputError(f"not a date: {token!r} (expected YYYY-MM-DD)") from None
    return dates


def write_job(job: dict[str, Any], job_dir: Path) -> Path:
    """Write ``job`` as this run's own file ``job_dir/job-<time>-<random>.json`` and return its path.

    Each run gets its own file, so two runs started in one folder never read each other's job; ``job.json`` is
    refreshed as a copy of the latest one (what a person re-runs with ``geogen run job.json``). Both are written
    under unique temporary names, then renamed.
    """
    job_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(job, indent=2) + "\n"
    stamp = f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    path = job_dir / f"job-{stamp}.json"
    for target in (path, job_dir / JOB_FILE):
        tmp = job_dir / f".{target.name}.{stamp}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    return path
