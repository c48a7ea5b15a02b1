"""The one grid every frame of a sequence is written on (the "requested grid").

- With an area of interest: the area's metric working grid at the job's GSD (``geogen.io.aoi.working_grid``:
  origin snapped to multiples of the GSD), in ``output.crs`` when given.
- Without one: the reference frame (the earliest input, else the seed image) gives the footprint, and its own
  pixels are kept exactly unless ``gsd`` or ``output.crs`` ask for others (then its footprint at that GSD
  and CRS).
The GSD defaults to the reference frame's pixel size.
"""

from __future__ import annotations

from pathlib import Path

from shapely.geometry import box

from geogen.errors import JobSpecError
from geogen.io.aoi import Area, parse_crs, working_grid
from geogen.timeseries.render import frame_grid
from tiles import Grid


def is_metric(crs: str) -> bool:
    """True for a projected CRS whose axes are in metres."""
    c = parse_crs(crs)
    return bool(c.is_projected and c.axis_info and c.axis_info[0].unit_name in ("metre", "meter", "m"))


def _keeps_pixels(ref: Grid, gsd: float | None, out_crs: str | None) -> bool:
    """True when nothing asks for other pixels than the reference frame's own."""
    if out_crs is not None and parse_crs(out_crs) != parse_crs(ref.crs):
        return False
    if not is_metric(ref.crs):
        return False
    return gsd is None or all(abs(gsd - r) <= 1e-9 * r for r in ref.res)


def target_grid(area: Area | None, gsd: float | None, out_crs: str | None, reference: Path | None) -> Grid:
    """The grid every frame is written on (see the module docstring): the job's area of interest, ground
    resolution and output CRS (each None when not given) and the reference frame's file (None: no frame).

    Raises:
        JobSpecError: no area and no frame, no GSD where none can be inferred, or a non-metric output CRS.
        InputFileError, RasterError: an unreadable reference frame.
    """
    if out_crs is not None and not is_metric(out_crs):
        raise JobSpecError(
            f"output.crs {out_crs!r} is not a metric projected CRS; a temporal stack is generated and "
            "written on "
            "one metric grid (leave it out to use the area's or the frames' CRS)"
        )
    ref = frame_grid(reference) if reference is not None else None  # S2 folders/.SAFE too
    if area is None:
        if ref is None:
            raise JobSpecError(
                "nothing to generate from: give observed frames (INPUTS), a --seed-image, or an area of "
                "interest "
                "(--aoi with --gsd) for the single-image model to start from"
            )
        if _keeps_pixels(ref, gsd, out_crs):
            return ref
        area = Area(box(*ref.bounds), ref.crs)
    if gsd is None:
        if ref is None or not is_metric(ref.crs):
            raise JobSpecError("give the ground resolution with --gsd (metres per pixel)")
        gsd = float(ref.res[0])
    return working_grid(area, gsd, crs=out_crs)
