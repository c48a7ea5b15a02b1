"""Dated input frames on a generation canvas: co-registered, checked against the area, cloud-filtered.

Each frame is resampled onto the layout's canvas (``temporal.coregister``); a frame with no valid pixel over
the area (the layout's output window) is refused, one covering only part of it is used with a warning, and one
whose cloud fraction over the area exceeds ``cloud_max`` is set aside (listed, not an error).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from geogen.errors import GeometryError
from geogen.io.dates import DatedFile
from geogen.progress import Reporter
from geogen.timeseries.clouds import cloud_fraction, too_cloudy
from geogen.timeseries.condition import ConditionFrame
from geogen.timeseries.coregister import FramePixels, coregister
from geogen.timeseries.placement import Placement


@dataclass
class KnownFrame:
    """A frame known before generation: file, role, pixels on the canvas, cloud fraction over the area."""

    file: DatedFile
    role: str
    pixels: FramePixels
    cloud: float | None

    def condition(self) -> ConditionFrame:
        """The frame as the 3-D ControlNet reads it (its date, colours, valid mask and cloud cover)."""
        return ConditionFrame(self.file.date, self.pixels.rgb, self.pixels.valid, self.cloud)


def read_known(
    files: Sequence[tuple[DatedFile, str]], layout: Placement, cloud_max: float | None, reporter: Reporter
) -> tuple[list[KnownFrame], list[dict[str, Any]]]:
    """``(file, role)`` frames on the canvas, in date order, split into kept and excluded (too cloudy).

    Raises:
        GeometryError: a frame with no data over the area (naming the file).
        InputFileError, RasterError: a frame that cannot be read.
    """
    kept, excluded = [], []
    area = layout.output_window
    for n, (f, role) in enumerate(sorted(files, key=lambda x: x[0].date), start=1):
        reporter.progress(n - 1, len(files), "co-register")
        pixels = coregister(f.path, layout.canvas)
        valid = pixels.valid[area.slices[0], area.slices[1]]
        if not valid.any():
            raise GeometryError(f"{f.path} does not overlap the area (no valid pixel of it falls inside)")
        if valid.mean() < 1.0:
            missing = int(valid.size - np.count_nonzero(valid))
            cover = math.floor(1000 * valid.mean()) / 10  # floored: never "100 %" with pixels missing
            reporter.log(
                f"{f.path.name} covers {cover:g} % of the area; {missing} px of it are nodata", "warning"
            )
        cloud = None
        if pixels.cloud is not None:
            cloud = cloud_fraction(pixels.cloud[area.slices[0], area.slices[1]], valid)
        elif cloud_max is not None:
            reporter.log(f"{f.path.name} has no cloud band: cloud_max cannot be checked for it", "warning")
        if cloud is not None and too_cloudy(cloud, cloud_max):  # unknown cover never excludes a frame
            reporter.log(
                f"{f.path.name} ({f.date}) is {cloud:.0%} cloudy over the area, above cloud_max "
                f"{cloud_max:.0%}: not used"
            )
            excluded.append(
                {"path": str(f.path), "date": f.date.isoformat(), "cloud_fraction": round(cloud, 4)}
            )
            continue
        kept.append(KnownFrame(f, role, pixels, cloud))
    reporter.progress(len(files), len(files), "co-register")
    return kept, excluded
