"""The Sentinel-2 inputs of an SR job: one or several dates on one 10 m grid, their footprint and outputs.

The first input's 10 m grid, cut to the area of interest, is the footprint every date is super-resolved on, so
the outputs of a multi-date job are co-registered pixel for pixel; every other input must be on that same
pixel grid (same CRS, pixel size and pixel phase: true of products of one MGRS tile), else it is refused with
a request to resample it first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from geogen.io.s2bands import RGB_BANDS
from geogen.engines.sr_controlnet.dates import acquisition_date
from geogen.errors import JobSpecError, RasterError
from geogen.io.aoi import aoi_window, parse_crs
from geogen.io.geotiff import prepare_output
from geogen.io.s2bands import normalise_band
from geogen.io.sentinel2 import S2Stack
from geogen.job.spec import DatedInput, SuperresJob
from tiles import Grid, Window


@dataclass
class SRInput:
    """One date of the job: its stack, the footprint's window in the stack's grid, its date, its output."""

    stack: S2Stack
    window: Window
    date: dt.date | None
    path: Path


def job_inputs(job: SuperresJob) -> list[DatedInput]:
    """The job's Sentinel-2 inputs: ``job.inputs`` when the spec has that field, else ``job.input`` alone."""
    extra = getattr(job, "inputs", None)
    return list(extra) if extra else [DatedInput(path=job.input)]


def check_bands_option(job: SuperresJob) -> None:
    """Refuse ``bands`` other than the red, green and blue this engine writes.

    Raises:
        JobSpecError: another band was asked for.
    """
    if job.bands and any(normalise_band(b) not in RGB_BANDS for b in job.bands):
        raise JobSpecError(
            f"bands: the diffusionsat engine writes red, green and blue ({', '.join(RGB_BANDS)}) "
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
    same_res = all(abs(a - b) <= 1e-6 * a for a, b in zip(g.res, footprint.res))
    if not (same_crs and same_res and abs(col - round(col)) < 1e-3 and abs(row - round(row)) < 1e-3):
        raise RasterError(
            f"{stack.source} is not on the same {footprint.res[0]:g} m pixel grid as the first input "
            f"({footprint.crs}); resample it onto that grid to super-resolve the dates together"
        )
    return Window(int(round(col)), int(round(row)), footprint.width, footprint.height)


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
    dates = [acquisition_date(i.path, i.date) for i in items]
    paths = output_paths(job, dates)
    return footprint, [
        SRInput(s, aligned_window(footprint, s), d, p) for s, d, p in zip(stacks, dates, paths)
    ]


def source_level(stack: S2Stack) -> str | None:
    """ "L1C" or "L2A" from the product metadata, the product name, or the presence of B10 (L1C only)."""
    if stack.level:
        return stack.level
    name = Path(stack.source).name.upper()
    if "MSIL2A" in name or "_L2A" in name:
        return "L2A"
    if "MSIL1C" in name or "_L1C" in name or "L1C_" in name or "B10" in stack.bands:
        return "L1C"
    return None


def level_warning(stack: S2Stack) -> str | None:
    """A warning for L2A input: the released model saw L1C (top of atmosphere) values."""
    if source_level(stack) != "L2A":
        return None
    return (
        f"{Path(stack.source).name} is L2A (bottom of atmosphere); DiffusionSat's SR model was trained on "
        "L1C "
        "(top of atmosphere) values, so its colours may be off before the consistency step"
    )
