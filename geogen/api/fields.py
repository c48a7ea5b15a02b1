"""Python arguments -> job-spec fields: paths made absolute, areas, dates, model references, options.

Every task function builds its job dict with these, so that a job made in Python and the same job made on the
command line are the same job (same spec, same hash). Paths are resolved against the current directory.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

from geogen.errors import JobSpecError
from geogen.options import EngineOptions
from geogen.spec import AreaOfInterest, Exemplar, LoraRef

PathLike: TypeAlias = str | os.PathLike[str]
DateLike: TypeAlias = dt.date | str
Bounds: TypeAlias = tuple[float, float, float, float]
Aoi: TypeAlias = Bounds | Sequence[float] | PathLike | AreaOfInterest | Mapping[str, Any]
DEFAULT_AOI_CRS = "EPSG:4326"
TIF_SUFFIXES = (".tif", ".tiff")


def abspath(path: PathLike) -> str:
    """``path`` absolute (``~`` expanded, relative to the current directory)."""
    return str(Path(path).expanduser().resolve())


def model_ref(value: PathLike | None) -> str | None:
    """A model argument: an existing file or folder made absolute (jobs may run elsewhere), else a store name."""
    if value is None:
        return None
    p = Path(value).expanduser()
    return str(p.resolve()) if p.exists() else str(value)


def iso_date(value: DateLike | None) -> str | None:
    """A date as ISO ``YYYY-MM-DD`` (a datetime keeps its date); strings are left to the job's validation."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def aoi_field(aoi: Aoi | None, aoi_crs: str | None = None) -> dict[str, Any] | None:
    """The job's ``aoi``: four bounds (in ``aoi_crs``, default EPSG:4326), a vector file, or an AreaOfInterest.

    ``aoi_crs`` only applies to bounds; a vector file carries its own CRS.
    """
    if aoi is None:
        return None
    if isinstance(aoi, AreaOfInterest):
        return aoi.model_dump()
    if isinstance(aoi, Mapping):
        return dict(aoi)
    if isinstance(aoi, (str, os.PathLike)):
        return {"vector": abspath(aoi)}
    bounds = tuple(aoi)
    if len(bounds) != 4:
        raise JobSpecError(f"aoi: expected 4 numbers left, bottom, right, top, got {len(bounds)}")
    return {"bounds": bounds, "crs": aoi_crs or DEFAULT_AOI_CRS}


def file_output(output: PathLike, overwrite: bool, crs: str | None = None) -> dict[str, Any]:
    """The ``output`` of a single-file task: results next to ``output``, the record named ``<stem>.result.json``.

    Raises:
        JobSpecError: ``output`` is not a .tif path.
    """
    path = Path(abspath(output))
    try:
        is_dir = path.is_dir()
    except OSError:  # a name the OS refuses (too long...): the job spec's name rule says why
        is_dir = False
    if is_dir:
        raise JobSpecError(f"output {path} is a folder; give a .tif file path, e.g. {path / 'output.tif'}")
    if path.suffix.lower() not in TIF_SUFFIXES:
        raise JobSpecError(f"output must be a .tif file, got {path.name!r}")
    return {
        "dir": str(path.parent),
        "name": path.stem,
        "overwrite": overwrite,
        "crs": crs,
        "result": f"{path.stem}.result.json",
    }


def dated_input(item: PathLike | tuple[PathLike, DateLike | None]) -> dict[str, Any]:
    """One dated raster: a path (its date read from the file) or a ``(path, date)`` pair."""
    if isinstance(item, (str, os.PathLike)):
        return {"path": abspath(item), "date": None}
    path, date = item
    return {"path": abspath(path), "date": iso_date(date)}


def exemplar_field(exemplar: tuple[PathLike, PathLike] | Exemplar | None) -> dict[str, str] | None:
    """The exemplar engine's example: an ``(image, mask)`` pair of paths, or an Exemplar."""
    if exemplar is None:
        return None
    if isinstance(exemplar, Exemplar):
        return {"image": abspath(exemplar.image), "mask": abspath(exemplar.mask)}
    image, mask = exemplar
    return {"image": abspath(image), "mask": abspath(mask)}


def lora_field(lora: PathLike | tuple[PathLike, float] | LoraRef) -> dict[str, Any]:
    """A LoRA: a store name or .safetensors path (strength 1), a ``(name, strength)`` pair, or a LoraRef."""
    if isinstance(lora, LoraRef):
        return {"name": model_ref(lora.name), "strength": lora.strength}
    if isinstance(lora, (str, os.PathLike)):
        return {"name": model_ref(lora), "strength": 1.0}
    name, strength = lora
    return {"name": model_ref(name), "strength": float(strength)}


def options_field(options: Mapping[str, Any] | EngineOptions | None) -> dict[str, Any]:
    """The engine's ``options`` as the job records them: a dict, or the options set on a typed options model."""
    if options is None:
        return {}
    if isinstance(options, EngineOptions):
        return options.model_dump(mode="json", exclude_unset=True)
    return dict(options)
