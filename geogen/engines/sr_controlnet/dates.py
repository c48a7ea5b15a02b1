"""Acquisition dates of Sentinel-2 inputs, for the metadata the model reads and for naming multi-date outputs.

A date given with the input wins; else a GeoTIFF's ``ACQUISITION_DATETIME_UTC`` / ``ACQUISITION_DATE`` tag;
else the first ``YYYYMMDD`` (optionally followed by ``THHMMSS``) in the file or folder name, as in every ESA
product name (``S2A_MSIL2A_20170613T101031_...``). None when nothing says.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

_TAGS = (
    "ACQUISITION_DATETIME_UTC",
    "ACQUISITION_DATETIME",
    "ACQUISITION_DATE",
    "DATATAKE_1_DATATAKE_SENSING_START",
    "PRODUCT_START_TIME",
    "SENSING_TIME",
)
_NAME_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})(\d{2})(\d{2})(?:T\d{6})?(?!\d)")
_ISO_DATE = re.compile(r"((?:19|20)\d{2})-(\d{2})-(\d{2})")


def _valid(y: str, m: str, d: str) -> dt.date | None:
    try:
        return dt.date(int(y), int(m), int(d))
    except ValueError:
        return None


def date_from_name(name: str) -> dt.date | None:
    """The first valid ``YYYYMMDD`` date in ``name``, or None."""
    for m in _NAME_DATE.finditer(name):
        found = _valid(*m.groups())
        if found:
            return found
    return None


def date_from_tags(path: Path) -> dt.date | None:
    """The acquisition date a GeoTIFF's tags record, or None (also for folders and unreadable files)."""
    if not path.is_file():
        return None
    import rasterio
    from rasterio.errors import RasterioIOError

    try:
        with rasterio.open(path) as ds:
            tags = ds.tags()
    except RasterioIOError:
        return None
    for key in _TAGS:
        m = _ISO_DATE.search(tags.get(key, ""))
        if m and _valid(*m.groups()):
            return _valid(*m.groups())
    return None


def acquisition_date(path: str | Path, given: dt.date | None = None) -> dt.date | None:
    """The date of the Sentinel-2 input at ``path`` (``given`` wins; see the module docstring)."""
    if given is not None:
        return given
    p = Path(path)
    return date_from_tags(p) or date_from_name(p.name) or date_from_name(p.parent.name)
