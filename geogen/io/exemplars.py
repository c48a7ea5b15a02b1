"""Exemplar pairs (an RGB image and its class map on the same grid) for the texture-by-numbers engine.

The bundled default pairs are real IGN FLAIR #1 patches (0.2 m) under geogen/data/exemplars/; users may pass their
own pair (any GSD; the mask in the engine's vocabulary codes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from geogen.errors import InputFileError, RasterError
from geogen.io.raster import check_pixels, dataset_grid, open_raster, reading
from geogen.landcover.mapping import ClassMapping, check_codes
from geogen.landcover.vocab import FLAIR19, Vocabulary

EXEMPLAR_ROOT = Path(__file__).resolve().parent.parent / "data" / "exemplars"
MAX_EXEMPLAR_PIXELS = 1 << 26
"""Largest exemplar image or class raster read (8192 x 8192 px): exemplars are read whole."""


@dataclass(frozen=True)
class Exemplar:
    name: str
    image: np.ndarray  # (3, h, w) uint8
    mask: np.ndarray  # (h, w) class codes
    gsd: float


def read_exemplar(
    image_path: str | Path,
    mask_path: str | Path,
    name: str | None = None,
    *,
    mapping: ClassMapping | None = None,
    vocab: Vocabulary = FLAIR19,
) -> Exemplar:
    """Read an exemplar pair: bands 1-3 of an 8-bit image and a one-band class raster on the same grid.

    The class raster is turned into engine codes by ``mapping`` (its nodata value -> 0), or must hold them.

    Raises:
        InputFileError: a file is missing.
        RasterError: unreadable, not 8-bit RGB, not one class band, or image and mask on different grids.
        ClassMappingError: class values outside the vocabulary / mapping (all listed).
    """
    with open_raster(image_path) as ds:
        if ds.count < 3 or ds.dtypes[0] != "uint8":
            raise RasterError(
                f"exemplar image {image_path} must be 8-bit RGB (3+ bands uint8), "
                f"got {ds.count} {ds.dtypes[0]} bands"
            )
        img_grid = dataset_grid(ds, require_crs=False)
        check_pixels(ds.width, ds.height, MAX_EXEMPLAR_PIXELS, image_path, "exemplar image")
        with reading(image_path):
            image = ds.read([1, 2, 3])
    with open_raster(mask_path) as ds:
        if ds.count != 1:
            raise RasterError(f"exemplar class raster {mask_path} must have one band, got {ds.count}")
        mask_grid = dataset_grid(ds, require_crs=False)
        check_pixels(ds.width, ds.height, MAX_EXEMPLAR_PIXELS, mask_path, "exemplar class raster")
        with reading(mask_path):
            classes, nodata = ds.read(1), ds.nodata
    if image.shape[1:] != classes.shape or not np.allclose(img_grid.res, mask_grid.res):
        raise RasterError(
            f"exemplar image {image_path} and class raster {mask_path} are not on the same grid"
        )
    codes = mapping.map_array(classes, nodata=nodata) if mapping is not None else check_codes(classes, vocab)
    return Exemplar(
        name or Path(image_path).stem,
        np.ascontiguousarray(image),
        codes.astype(np.int32),
        float(img_grid.res[0]),
    )


def bundled_names() -> list[str]:
    """Names of the exemplars shipped with geogen (folders of geogen/data/exemplars with an IMG_ and MSK_ file)."""
    if not EXEMPLAR_ROOT.is_dir():
        return []
    return sorted(p.name for p in EXEMPLAR_ROOT.iterdir() if p.is_dir() and _pair_files(p))


def _pair_files(folder: Path) -> tuple[Path, Path] | None:
    images, masks = sorted(folder.glob("IMG_*.tif")), sorted(folder.glob("MSK_*.tif"))
    return (images[0], masks[0]) if images and masks else None


def load_exemplars(
    image: str | Path | None = None, mask: str | Path | None = None, *, names: list[str] | None = None
) -> list[Exemplar]:
    """The user's pair when given, else the bundled pairs (all, or those ``names``).

    Raises:
        InputFileError: a named exemplar is not shipped, or none is.
    """
    if image is not None and mask is not None:
        return [read_exemplar(image, mask)]
    known = bundled_names()
    chosen = known if names is None else names
    missing = [n for n in chosen if n not in known]
    if missing or not chosen:
        raise InputFileError(
            f"no bundled exemplar named {missing or chosen} under {EXEMPLAR_ROOT}; available: {known}"
        )
    return [read_exemplar(*_pair_files(EXEMPLAR_ROOT / n), name=n) for n in chosen]  # type: ignore[misc]


def resample_exemplar(ex: Exemplar, gsd: float) -> Exemplar:
    """The exemplar at ``gsd`` metres: area-averaged image, nearest-neighbour mask (codes stay exact)."""
    factor = ex.gsd / gsd
    if abs(factor - 1) < 1e-6:
        return ex
    h, w = ex.mask.shape
    nh, nw = max(8, round(h * factor)), max(8, round(w * factor))
    if factor < 1:  # coarser: low-pass first so textures average instead of aliasing
        sigma = 0.5 / factor
        src = np.stack([ndimage.gaussian_filter(b.astype(np.float32), sigma) for b in ex.image])
    else:
        src = ex.image.astype(np.float32)
    img = np.stack([ndimage.zoom(b, (nh / h, nw / w), order=1) for b in src])
    rows = np.minimum((np.arange(nh) + 0.5) * h / nh, h - 1).astype(int)
    cols = np.minimum((np.arange(nw) + 0.5) * w / nw, w - 1).astype(int)
    mask = ex.mask[np.ix_(rows, cols)]
    return Exemplar(ex.name, np.clip(np.rint(img), 0, 255).astype(np.uint8), mask, gsd)
