"""The acquisition date of a raster (a file or a product folder) and where it was read from: one reader for all.

Order of precedence, the first source that answers wins:

1. ``given``: the date given with the input (command line ``--dates``, the job's ``inputs[].date``): the user
   knows best;
2. a date tag in the file, in ``DATE_TAGS`` order: ``GEOGEN_DATE`` (geogen outputs), then the acquisition
   tags of Sentinel-2, Landsat and other products; tags travel with the pixels;
3. an entry for the file in a geogen result record (``result.json`` or any ``*.json`` record) beside it;
4. the file's name, else its folder's name (a stack inside a folder named after its product):
   ``YYYYMMDD`` (optionally ``THHMMSS``), ``YYYY-MM-DD`` or ``YYYY_MM_DD``. Sentinel-2, Landsat and NAIP names
   carry a processing date after the acquisition date, so for them the acquisition date is taken; any other
   name with two different dates is ambiguous and refused. Names are last among these because people edit
   them;
5. the TIFF ``DateTime`` tag (``TIFFTAG_DATETIME``), last because most software writes the processing time
   there.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from geogen.errors import JobSpecError

DATE_TAGS = (
    "GEOGEN_DATE",
    "ACQUISITION_DATETIME_UTC",
    "ACQUISITION_DATETIME",
    "ACQUISITION_DATE",
    "DATE_ACQUIRED",
    "SENSING_TIME",
    "DATATAKE_1_DATATAKE_SENSING_START",
    "PRODUCT_START_TIME",
)
"""Tags read as the acquisition date, in this order."""
LAST_RESORT_TAGS = ("TIFFTAG_DATETIME",)
"""Tags read only when nothing else dates the file (usually the processing time)."""
MAX_RESULT_FILES = 200
MAX_RESULT_BYTES = 4_000_000

_TAG_DATE = re.compile(r"((?:19|20)\d{2})[-:]?(\d{2})[-:]?(\d{2})")
_COMPACT = re.compile(r"(?<!\d)((?:19|20)\d{2})(\d{2})(\d{2})(?!\d)")
_SEPARATED = re.compile(r"(?<!\d)((?:19|20)\d{2})([-_])(\d{2})\2(\d{2})(?!\d)")
# Names whose first date is the acquisition and a later one the processing (both legitimately differ).
_CONVENTIONS = (
    ("Sentinel-2", re.compile(r"S2[A-D]_MSI(?:L1C|L2A)_((?:19|20)\d{6})T\d{6}_", re.IGNORECASE)),
    ("Landsat", re.compile(r"L[COTEM]0\d_L\w{3}_\d{6}_((?:19|20)\d{6})_\d{8}_", re.IGNORECASE)),
    (
        "NAIP",
        re.compile(r"(?<![A-Za-z0-9])m_\d{7}_[a-z]{2}_\d{2}_\d{1,3}_((?:19|20)\d{6})(?!\d)", re.IGNORECASE),
    ),
)


@dataclass(frozen=True)
class DatedFile:
    """A file, its acquisition date and where the date came from (for logs and provenance).

    ``source`` is "given", "tag <KEY>", "result record <file name>", "file name" or "folder name".
    """

    path: Path
    date: dt.date
    source: str


def _date(y: str, m: str, d: str) -> dt.date | None:
    try:
        return dt.date(int(y), int(m), int(d))
    except ValueError:
        return None


def dates_in_name(name: str) -> list[dt.date]:
    """The acquisition date(s) a file name states: one for recognised conventions, else every distinct date.

    Args:
        name: a file or folder name (no directories).

    Returns:
        Distinct valid dates in order of appearance (empty when the name has none).
    """
    for _, pattern in _CONVENTIONS:
        m = pattern.search(name)
        if m:
            found = _date(m.group(1)[:4], m.group(1)[4:6], m.group(1)[6:])
            if found:
                return [found]
    hits: list[tuple[int, dt.date]] = []
    for m in _COMPACT.finditer(name):
        d = _date(*m.groups())
        if d:
            hits.append((m.start(), d))
    for m in _SEPARATED.finditer(name):
        d = _date(m.group(1), m.group(3), m.group(4))
        if d:
            hits.append((m.start(), d))
    out: list[dt.date] = []
    for _, d in sorted(hits, key=lambda h: h[0]):
        if d not in out:
            out.append(d)
    return out


def _date_from_name(path: Path) -> dt.date | None:
    """The one date in ``path``'s own name, or None.

    Raises:
        JobSpecError: the name holds two different dates and follows no known naming convention.
    """
    found = dates_in_name(path.name)
    if len(found) > 1:
        raise JobSpecError(
            f"the name of {path} holds {len(found)} different dates ({', '.join(map(str, found))}), so its "
            "acquisition date is ambiguous; give it with --dates (or the job's inputs[].date)"
        )
    return found[0] if found else None


def _read_tags(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    import rasterio
    from rasterio.errors import RasterioIOError

    try:
        with rasterio.open(path) as ds:
            return dict(ds.tags())
    except RasterioIOError:
        return {}  # unreadable rasters are reported when their pixels are read


def _date_from_tags(tags: dict[str, str], keys: Sequence[str]) -> tuple[dt.date, str] | None:
    """The first date found in ``tags`` under ``keys``, with the key it came from."""
    for key in keys:
        m = _TAG_DATE.search(str(tags.get(key, "")))
        if m:
            found = _date(*m.groups())
            if found:
                return found, key
    return None


def _date_from_results(path: Path) -> tuple[dt.date, Path] | None:
    """The date a geogen result record (``*.json`` beside ``path``) gives the file, and that record."""
    target = path.resolve()
    try:
        candidates = sorted(path.parent.glob("*.json"))[:MAX_RESULT_FILES]
    except OSError:
        return None
    for record in candidates:
        try:
            if record.stat().st_size > MAX_RESULT_BYTES:
                continue
            data = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        outputs = data.get("outputs") if isinstance(data, dict) else None
        if not isinstance(outputs, list):
            continue
        for entry in outputs:
            if not isinstance(entry, dict) or not entry.get("path") or not entry.get("date"):
                continue
            listed = Path(str(entry["path"]))
            listed = listed if listed.is_absolute() else record.parent / listed
            if listed.resolve() != target:
                continue
            try:
                return dt.date.fromisoformat(str(entry["date"])[:10]), record
            except ValueError:
                continue
    return None


def acquisition_date(path: str | Path, given: dt.date | None = None) -> DatedFile | None:
    """The date of the raster at ``path`` and its source (see the module docstring), None when nothing says.

    Raises:
        JobSpecError: the file's (or, when it has none, its folder's) name holds two different dates and
            nothing before it in the order answers.
    """
    p = Path(path)
    if given is not None:
        return DatedFile(p, given, "given")
    tags = _read_tags(p)
    tagged = _date_from_tags(tags, DATE_TAGS)
    if tagged:
        return DatedFile(p, tagged[0], f"tag {tagged[1]}")
    recorded = _date_from_results(p)
    if recorded:
        return DatedFile(p, recorded[0], f"result record {recorded[1].name}")
    named = _date_from_name(p)
    if named:
        return DatedFile(p, named, "file name")
    folder = _date_from_name(p.parent) if p.parent.name else None
    if folder:
        return DatedFile(p, folder, "folder name")
    last = _date_from_tags(tags, LAST_RESORT_TAGS)
    if last:
        return DatedFile(p, last[0], f"tag {last[1]}")
    return None
