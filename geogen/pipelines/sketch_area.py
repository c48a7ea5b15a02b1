"""Where a sketch job generates, whichever engine draws it: the area, the working grid, the drawn pixels and
the output CRS.

Without an area of interest the land-cover input's extent is the area; a class raster used at its own pixel
size keeps its own grid (pixel-exact conditions), anything else gets a snapped metric grid over the area. The
drawn pixels are those with a class and, when the job gives an area of interest, inside it. A geographic
land-cover input gets its output warped back to its CRS unless the job names another.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from geogen.errors import GeometryError
from geogen.io.aoi import Area, area_from_spec, is_geographic, reproject_geometry, working_grid
from geogen.io.classmap import ClassSource, RasterClassSource
from geogen.io.raster import read_grid
from geogen.io.rasterize import rasterize_classes
from tiles import Grid

if TYPE_CHECKING:
    from geogen.spec import SketchJob


def sketch_area(job: SketchJob, source: ClassSource) -> Area:
    """The job's area of interest, else the land-cover input's extent.

    Raises:
        GeometryError: the area does not overlap the land-cover input (or is not valid).
        InputFileError, VectorError: see ``area_from_spec``.
    """
    area = Area(box(*source.bounds), source.crs) if job.aoi is None else area_from_spec(job.aoi)
    if not area.to_crs(source.crs).geometry.intersects(box(*source.bounds)):
        raise GeometryError(
            f"the land-cover input {Path(job.landcover).name} does not overlap the area of interest"
        )
    return area


def sketch_grid(job: SketchJob, source: ClassSource, area: Area, gsd: float) -> Grid:
    """The class raster's own grid when used as is (pixel-exact conditions), else a snapped metric grid.

    Raises:
        GeometryError: see ``working_grid``.
    """
    if (
        isinstance(source, RasterClassSource)
        and job.aoi is None
        and source.native_res
        and abs(source.native_res - gsd) < 1e-9
        and not is_geographic(source.crs)
    ):
        return read_grid(source.path)
    return working_grid(area, gsd)


def sketch_output_crs(job: SketchJob, source: ClassSource) -> str | None:
    """The CRS to warp the output to: the job's, else a geographic land-cover input's own, else none."""
    return job.output.crs or (source.crs if is_geographic(source.crs) else None)


def aoi_polygon(job: SketchJob, area: Area, grid: Grid) -> BaseGeometry | None:
    """The job's area of interest in ``grid``'s CRS, or None when the job gives none (the whole input is drawn)."""
    return reproject_geometry(area.geometry, area.crs, grid.crs) if job.aoi is not None else None


def drawn_pixels(codes: np.ndarray, polygon: BaseGeometry | None, grid: Grid) -> np.ndarray:
    """Pixels of ``grid`` with a drawn class (code != 0) and, when ``polygon`` is given, inside it."""
    valid = codes != 0
    if polygon is not None and not polygon.contains(box(*grid.bounds)):
        valid &= rasterize_classes([(polygon, 1)], grid) == 1
    return valid
