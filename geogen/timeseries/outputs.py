"""Writing a sequence: one Cloud-Optimized GeoTIFF per date on the requested grid, and what result.json says.

Every frame (observed or generated) is red, green, blue + alpha (0 where an observed frame has no data) with
``GEOGEN_DATE`` and the provenance tags of ``geogen.io.tags``: generated frames are flagged synthetic and
record model, ControlNet, conditioning dates and metadata; observed ones record their source file, how their
date was found, how their colours were made and how they were resampled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.enums import ColorInterp

from geogen.io.dates import DatedFile
from geogen.io.geotiff import GeoTIFFWriter
from geogen.io.tags import provenance_tags
from geogen.records import OutputRecord
from geogen.timeseries.coregister import FramePixels
from geogen.timeseries.datacube import CubeFrame
from geogen.timeseries.placement import Placement

BANDS = ["red", "green", "blue"]


@dataclass
class StackFrame:
    """A frame of the output stack on the generated canvas, with its tags and result-record extras.

    Attributes:
        date: the frame's date.
        kind: "observed" or "generated" (a synthetic input counts as generated).
        rgb: (3, H, W) uint8 on the canvas.
        valid: (H, W) bool, or None when every pixel is valid.
        source: the input file name (observed frames).
        tags: GeoTIFF tags.
        extra: ``OutputRecord.extra`` entries.
    """

    date: dt.date
    kind: str
    rgb: np.ndarray
    valid: np.ndarray | None
    source: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def observed_frame(file: DatedFile, role: str, pixels: FramePixels, cloud: float | None) -> StackFrame:
    """An input frame (``role`` "input" or "seed") as written: as observed, unless the file says synthetic."""
    kind = "generated" if pixels.synthetic else "observed"
    info = {
        "role": role,
        "source": str(file.path),
        "date_source": file.source,
        "rendering": pixels.rendering,
        "resampling": "exact copy" if pixels.exact else "bilinear",
        "cloud_fraction": None if cloud is None else round(cloud, 4),
    }
    tags = provenance_tags(
        engine="coregister",
        synthetic=pixels.synthetic,
        task="temporal",
        extra={"date": file.date.isoformat(), "kind": kind, **info, "source": file.path.name},
    )
    return StackFrame(file.date, kind, pixels.rgb, pixels.valid, file.path.name, tags, info)


def crop(frame: StackFrame, layout: Placement) -> tuple[np.ndarray, np.ndarray]:
    """The frame's colours and valid mask on the requested grid (the canvas cut to the output window)."""
    rows, cols = layout.output_window.slices
    valid = np.ones(layout.grid.shape, bool) if frame.valid is None else frame.valid[rows, cols]
    return frame.rgb[:, rows, cols], valid


def cube_frame(frame: StackFrame, layout: Placement) -> CubeFrame:
    """The frame as one date of the datacube."""
    return CubeFrame(frame.date, frame.kind, *crop(frame, layout), frame.source)


def write_frame(frame: StackFrame, layout: Placement, path: Path, *, overwrite: bool) -> OutputRecord:
    """The frame's Cloud-Optimized GeoTIFF on the requested grid (RGB + alpha) and its result record.

    Raises:
        OutputError: the file exists (without ``overwrite``) or cannot be written.
    """
    grid = layout.grid
    rgb, valid = crop(frame, layout)
    with GeoTIFFWriter(
        path,
        grid,
        3,
        "uint8",
        alpha=True,
        band_descriptions=BANDS,
        colorinterp=[ColorInterp.red, ColorInterp.green, ColorInterp.blue],
        tags=frame.tags,
        overwrite=overwrite,
    ) as writer:
        writer.write(grid.full_window, rgb, None if valid.all() else valid)
    return OutputRecord.on_grid(
        path,
        grid,
        [*BANDS, "alpha"],
        kind=frame.kind,
        synthetic=frame.kind != "observed",
        date=frame.date,
        extra={"gsd_m": grid.res[0], **frame.extra},
    )
