"""Exemplar pairs from files: a user's (image, class map) rasters, or the FLAIR pairs shipped with geogen.

A bundled exemplar is a folder ``geogen/data/exemplars/<name>/`` holding ``IMG_<id>_RGB.tif`` (8-bit RGB) and
``MSK_<id>.tif`` (FLAIR-1 codes, 0 = nodata) on the same grid, plus ATTRIBUTION.md. (The sketch pipeline
reads the same folders, with their GSD, through ``geogen.io.exemplars``; this module gives bare arrays.)
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

from geogen.engines.exemplar.bank import Exemplar
from geogen.errors import InputFileError, RasterError
from geogen.landcover.mapping import ClassMapping, check_codes
from geogen.landcover.vocab import FLAIR19, Vocabulary

EXEMPLAR_DIR = Path(__file__).resolve().parents[2] / "data" / "exemplars"


def _read(path: Path) -> tuple[np.ndarray, object]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                return src.read(), src.nodata
    except RasterioIOError as exc:
        raise InputFileError(f"cannot read exemplar raster {str(path)!r}: {exc}") from exc


def load_exemplar(
    image: str | Path, mask: str | Path, mapping: ClassMapping | None = None, vocab: Vocabulary = FLAIR19
) -> Exemplar:
    """Read an exemplar pair: bands 1-3 of an 8-bit image and a one-band class raster of the same size.

    The class raster is turned into engine codes by ``mapping`` (its nodata value -> 0), or must hold them.

    Raises:
        InputFileError: a file is missing or unreadable.
        RasterError: not 8-bit RGB, not one class band, or different sizes.
        ClassMappingError: class values outside the vocabulary / mapping (all listed).
    """
    rgb, _ = _read(Path(image))
    classes, nodata = _read(Path(mask))
    if rgb.shape[0] < 3 or rgb.dtype != np.uint8:
        raise RasterError(
            f"exemplar image {str(image)!r} must be 8-bit RGB (3+ bands uint8), "
            f"got {rgb.shape[0]} {rgb.dtype} bands"
        )
    if classes.shape[0] != 1:
        raise RasterError(f"exemplar class raster {str(mask)!r} must have one band, got {classes.shape[0]}")
    if classes.shape[1:] != rgb.shape[1:]:
        raise RasterError(
            f"exemplar image {rgb.shape[2]} x {rgb.shape[1]} px and class raster "
            f"{classes.shape[2]} x {classes.shape[1]} px differ in size"
        )
    codes = (
        mapping.map_array(classes[0], nodata=nodata)
        if mapping is not None
        else check_codes(classes[0], vocab)
    )
    return np.ascontiguousarray(rgb[:3]), codes


def _files(folder: Path) -> tuple[Path, Path] | None:
    images, masks = sorted(folder.glob("IMG_*.tif")), sorted(folder.glob("MSK_*.tif"))
    return (images[0], masks[0]) if images and masks else None


def bundled_names() -> list[str]:
    """Names of the exemplars shipped with geogen (folders of ``geogen/data/exemplars``)."""
    if not EXEMPLAR_DIR.is_dir():
        return []
    return sorted(p.name for p in EXEMPLAR_DIR.iterdir() if p.is_dir() and _files(p))


def bundled_exemplars(names: list[str] | None = None) -> list[Exemplar]:
    """The shipped exemplar pairs (all of them by default), in FLAIR-1 codes.

    Raises:
        InputFileError: a named exemplar is not shipped.
    """
    known = bundled_names()
    chosen = known if names is None else names
    missing = [n for n in chosen if n not in known]
    if missing or not chosen:
        raise InputFileError(f"no bundled exemplar named {missing or chosen}; available: {known}")
    return [load_exemplar(*_files(EXEMPLAR_DIR / n)) for n in chosen]  # type: ignore[misc]
