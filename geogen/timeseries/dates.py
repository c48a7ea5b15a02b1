"""The dates of a time series' frames: each frame must have one (``geogen.io.dates`` reads it), one per date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from geogen.errors import JobSpecError
from geogen.io.dates import DATE_TAGS, DatedFile, acquisition_date


def frame_date(path: str | Path, given: dt.date | None = None) -> DatedFile:
    """The date of the frame at ``path`` (``geogen.io.dates.acquisition_date``); a frame needs one.

    Raises:
        JobSpecError: no date anywhere, or an ambiguous file name (the message names the file).
    """
    found = acquisition_date(path, given)
    if found is None:
        raise JobSpecError(
            f"no date for {Path(path)}: no date tag ({', '.join(DATE_TAGS[:2])}, TIFFTAG_DATETIME), no entry in "
            "a geogen result.json beside it and no YYYYMMDD or YYYY-MM-DD in its name; give it with --dates "
            "(or the job's inputs[].date)"
        )
    return found


def check_unique(files: Sequence[DatedFile]) -> None:
    """Refuse two frames of the same date (a time stack holds one frame per date).

    Raises:
        JobSpecError: naming the date and both files.
    """
    seen: dict[dt.date, DatedFile] = {}
    for f in files:
        if f.date in seen:
            first = seen[f.date]
            raise JobSpecError(
                f"two frames have the date {f.date}: {first.path} ({first.source}) and {f.path} "
                f"({f.source}); "
                "a sequence holds one frame per date: drop one or correct its date"
            )
        seen[f.date] = f
