"""The steps every sketch pipeline takes, whichever engine draws: reading the classes, the provenance metadata,
the RGB + alpha output and its record.

The exemplar, window-by-window and ControlNet pipelines differ in how they draw; what they read, how they tag
and where they write is the same, so it is written once here (where they generate is ``sketch_area``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from shapely.geometry.base import BaseGeometry

from geogen.io.aoi import Area, area_from_spec, centroid_lonlat
from geogen.io.classmap import ClassSource, open_class_source
from geogen.io.outputs import RGBA_BANDS, RGBAOutput
from geogen.landcover.mapping import code_lookup
from geogen.landcover.vocab import Vocabulary, get_vocabulary
from geogen.pipelines.sketch_area import drawn_pixels, sketch_output_crs
from geogen.progress import Reporter
from geogen.records import OutputRecord
from tiles import Grid

if TYPE_CHECKING:
    from geogen.spec import SketchJob

SCAN_PIXELS_PER_TILE = 1 << 20
"""Class raster pixels a sketch job may read per tile of its budget (a 512 px tile at half the raster's GSD)."""


def open_sketch_source(job: SketchJob) -> tuple[Vocabulary, ClassSource]:
    """The job's vocabulary and its land-cover input, mapped to that vocabulary.

    A class raster is read only under the job's area of interest, and at most ``SCAN_PIXELS_PER_TILE`` pixels
    per tile the job may use (checked from its header, so a huge declared size is refused at once).

    Raises:
        ClassMappingError, VectorError, RasterError: see ``open_class_source`` and ``code_lookup``.
        AreaTooLargeError, GeometryError: a class raster too large for the job, or missing its area.
    """
    vocab = get_vocabulary(job.vocabulary)
    source = open_class_source(
        job.landcover,
        code_lookup(job.mapping, vocab),
        class_field=job.class_field,
        layer=job.layer,
        area=area_from_spec(job.aoi) if job.aoi is not None else None,
        max_pixels=job.max_tiles * SCAN_PIXELS_PER_TILE,
    )
    return vocab, source


def sketch_metadata(job: SketchJob, area: Area, gsd: float, vocabulary: str) -> dict[str, Any]:
    """The provenance metadata every sketch output carries (a pipeline adds its own keys after these)."""
    lon, lat = centroid_lonlat(area)
    return {
        "gsd_m": gsd,
        "lon": round(lon, 6),
        "lat": round(lat, 6),
        "date": job.date.isoformat() if job.date else None,
        "place": job.place,
        "vocabulary": vocabulary,
    }


def sketch_output(
    job: SketchJob, source: ClassSource, grid: Grid, tags: dict[str, str], reporter: Reporter
) -> RGBAOutput:
    """The job's RGB + alpha GeoTIFF on ``grid`` (``output.final``), warped to the output CRS if one applies.

    Raises:
        OutputError: the output cannot be written, or exists and the job does not overwrite.
    """
    return RGBAOutput(
        Path(job.output.dir) / f"{job.output.name}.tif",
        grid,
        tags,
        crs=sketch_output_crs(job, source),
        overwrite=job.output.overwrite,
        progress=lambda done, total: reporter.progress(done, total, "reproject"),
    )


def read_drawn(
    source: ClassSource, grid: Grid, polygon: BaseGeometry | None, present: set[int]
) -> np.ndarray:
    """The drawn pixels of ``grid`` (see ``drawn_pixels``); the class codes under them are added to ``present``."""
    codes = source.read(grid)
    valid = drawn_pixels(codes, polygon, grid)
    present.update(int(c) for c in np.unique(codes[valid]))
    return valid


def sketch_record(
    job: SketchJob,
    path: Path,
    grid: Grid,
    names: list[str],
    gsd: float,
    extra: dict[str, Any] | None = None,
) -> OutputRecord:
    """The record of a sketch output: its RGBA bands, the job's date, the classes drawn and the GSD (+ ``extra``)."""
    return OutputRecord.on_grid(
        path, grid, RGBA_BANDS, date=job.date, extra={"classes": names, "gsd_m": gsd, **(extra or {})}
    )
