"""The Sentinel-2 inputs of a diffusion SR job: one or several dates on one 10 m grid, their footprint and
outputs (read from the job, so here in ``pipelines``, not in the engine's folder).

The first input's 10 m grid, cut to the area of interest, is the footprint every date is super-resolved on, so
the outputs of a multi-date job are co-registered pixel for pixel; every other input must be on that same
pixel grid (same CRS, pixel size and pixel phase: true of products of one MGRS tile), else it is refused with
a request to resample it first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from geogen.errors import JobSpecError, RasterError
from geogen.io.aoi import aoi_window, parse_crs
from geogen.io.dates import acquisition_date
from geogen.io.geotiff import prepare_output
from geogen.io.sentinel2 import S2Stack
from geogen.sensors.sentinel2 import RGB_BANDS, normalise_band
from geogen.spec import DatedInput, SuperresJob
from tiles import Grid, Window


@dataclass
class SRInput:
    """One date of the job: its stack, the footprint's window in the stack's grid, its date, its output."""

    stack: S2Stack
    window: Window
    date: dt.date | None
    path: Path


def job_inputs(job: SuperresJob) -> list[DatedInput]:
    """The job's Sentinel-2 inputs: ``job.inputs`` when given, else ``job.input`` alone."""
    if job.inputs:
        return list(job.inputs)
    assert job.input is not None  # the spec's validator: exactly one of input / inputs
    return [DatedInput(path=job.input)]


def check_bands_option(job: SuperresJob, engine: str) -> None:
    """Refuse ``bands`` other than the red, green and blue the ``engine`` writes.

    Raises:
        JobSpecError: another band was asked for.
    """
    if job.bands and any(normalise_band(b) not in RGB_BANDS for b in job.bands):
        raise JobSpecError(
            f"bands: the {engine} engine writes red, green and blue ({', '.join(RGB_BANDS)}) "
            f"only; got {', '.join(job.bands)}"
        )


def aligned_window(footprint: Grid, stack: S2Stack) -> Window:
    """``footprint``'s pixels in ``stack``'s grid, which must be the same pixel grid.

    Raises:
        RasterError: the stack is on another grid (the message says to resample it first).
    """
    g = stack.grid
    same_crs = g.crs == footprint.crs or parse_crs(g.crs) == parse_crs(footprint.crs)
    col, row = ~g.transform @ (footprint.transform.c, footprint.transform.f)
    same_res = all(abs(a - b) <= 1e-6 * a for a, b in zip(g.res, footprint.res, strict=True))
    if not (same_crs and same_res and abs(col - round(col)) < 1e-3 and abs(row - round(row)) < 1e-3):
        raise RasterError(
            f"{stack.source} is not on the same {footprint.res[0]:g} m pixel grid as the first input "
            f"({footprint.crs}); resample it onto that grid to super-resolve the dates together"
        )
    return Window(round(col), round(row), footprint.width, footprint.height)


def input_date(item: DatedInput) -> dt.date | None:
    """The input's acquisition date (``geogen.io.dates``: given, tags, result record, name), None if unknown.

    Raises:
        JobSpecError: the input's name holds two different dates and nothing else dates it.
    """
    found = acquisition_date(item.path, item.date)
    return found.date if found else None


def output_paths(job: SuperresJob, dates: list[dt.date | None]) -> list[Path]:
    """``NAME.tif`` for one input, ``NAME_YYYY-MM-DD.tif`` per date for several (``_inputN`` when undated).

    Raises:
        OutputError: a file exists (without ``overwrite``) or the folder is not writable.
    """
    folder, stem = Path(job.output.dir), job.output.name
    if len(dates) == 1:
        names = [f"{stem}.tif"]
    else:
        labels = [d.isoformat() if d else f"input{i + 1}" for i, d in enumerate(dates)]
        labels = [lab if labels.count(lab) == 1 else f"{lab}_{i + 1}" for i, lab in enumerate(labels)]
        names = [f"{stem}_{lab}.tif" for lab in labels]
    return [prepare_output(folder / n, overwrite=job.output.overwrite) for n in names]


def plan_inputs(
    job: SuperresJob, items: list[DatedInput], stacks: list[S2Stack]
) -> tuple[Grid, list[SRInput]]:
    """The shared 10 m footprint and, per input, its window, date and output file.

    Raises:
        GeometryError, RasterError, OutputError: see ``aoi_window``, ``aligned_window``, ``output_paths``.
    """
    footprint = stacks[0].grid[aoi_window(job.aoi, stacks[0].grid)]
    dates = [input_date(i) for i in items]
    paths = output_paths(job, dates)
    return footprint, [
        SRInput(s, aligned_window(footprint, s), d, p) for s, d, p in zip(stacks, dates, paths, strict=True)
    ]
