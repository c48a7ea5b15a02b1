"""Exemplar pairs from files: a user's (image, class map) rasters, or the FLAIR pairs shipped with geogen.

A bundled exemplar is a folder ``geogen/data/exemplars/<name>/`` holding ``image.tif`` (8-bit RGB) and
``mask.tif`` (class codes of the engine's vocabulary, 0 = nodata) on the same grid, plus ATTRIBUTION.md.
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
        raise RasterError(f"exemplar image {str(image)!r} must be 8-bit RGB (3+ bands uint8), got {rgb.shape[0]} {rgb.dtype} bands")
    if classes.shape[0] != 1:
        raise RasterError(f"exemplar class raster {str(mask)!r} must have one band, got {classes.shape[0]}")
    if classes.shape[1:] != rgb.shape[1:]:
        raise RasterError(f"exemplar image {rgb.shape[2]} x {rgb.shape[1]} px and class raster {classes.shape[2]} x {classes.shape[1]} px differ in size")
    codes = mapping.map_array(classes[0], nodata=nodata) if mapping is not None else check_codes(classes[0], vocab)
    return np.ascontiguousarray(rgb[:3]), codes


def bundled_names() -> list[str]:
    """Names of the exemplars shipped with geogen (folders of ``geogen/data/exemplars``)."""
    return sorted(p.name for p in EXEMPLAR_DIR.iterdir() if (p / "image.tif").is_file()) if EXEMPLAR_DIR.is_dir() else []


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
    return [load_exemplar(EXEMPLAR_DIR / n / "image.tif", EXEMPLAR_DIR / n / "mask.tif") for n in chosen]
