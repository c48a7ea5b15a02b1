"""Exemplar pairs (an RGB image and its class map on the same grid) for the texture-by-numbers engine.

The bundled default pairs are real IGN FLAIR #1 patches (0.2 m) under geogen/data/exemplars/; users may pass their
own pair (any GSD; the mask in the engine's vocabulary codes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from geogen.errors import RasterError
from geogen.io.raster import dataset_grid, open_raster

EXEMPLAR_ROOT = Path(__file__).resolve().parent.parent / "data" / "exemplars"


@dataclass(frozen=True)
class Exemplar:
    name: str
    image: np.ndarray  # (3, h, w) uint8
    mask: np.ndarray  # (h, w) class codes
    gsd: float


def read_exemplar(image_path: str | Path, mask_path: str | Path, name: str | None = None) -> Exemplar:
    """Read an exemplar pair.

    Raises:
        InputFileError, RasterError: unreadable files, fewer than 3 bands, or image and mask on different grids.
    """
    with open_raster(image_path) as ds:
        if ds.count < 3:
            raise RasterError(f"exemplar image {image_path} needs 3 bands (RGB), has {ds.count}")
        img_grid = dataset_grid(ds, require_crs=False)
        image = ds.read([1, 2, 3])
    with open_raster(mask_path) as ds:
        mask_grid = dataset_grid(ds, require_crs=False)
        mask = ds.read(1)
    if image.shape[1:] != mask.shape or not np.allclose(img_grid.res, mask_grid.res):
        raise RasterError(f"exemplar image {image_path} and mask {mask_path} are not on the same grid")
    if image.dtype != np.uint8:
        lo, hi = np.percentile(image, [1, 99])
        image = np.clip((image - lo) / max(hi - lo, 1e-9) * 255, 0, 255).astype(np.uint8)
    return Exemplar(name or Path(image_path).stem, image, mask.astype(np.int32), float(img_grid.res[0]))


def load_exemplars(image: str | Path | None = None, mask: str | Path | None = None) -> list[Exemplar]:
    """The user's pair when given, else every bundled pair (folders holding image.tif + mask.tif)."""
    if image is not None and mask is not None:
        return [read_exemplar(image, mask)]
    pairs = []
    for folder in sorted(p for p in EXEMPLAR_ROOT.iterdir() if p.is_dir()):
        imgs, masks = sorted(folder.glob("IMG_*.tif")), sorted(folder.glob("MSK_*.tif"))
        if imgs and masks:
            pairs.append(read_exemplar(imgs[0], masks[0], folder.name))
    if not pairs:
        raise RasterError(f"no bundled exemplars found under {EXEMPLAR_ROOT}; reinstall geogen")
    return pairs


def resample_exemplar(ex: Exemplar, gsd: float) -> Exemplar:
    """The exemplar at ``gsd`` metres: area-averaged image, nearest-neighbour mask (codes stay exact)."""
    factor = ex.gsd / gsd
    if abs(factor - 1) < 1e-6:
        return ex
    h, w = ex.mask.shape
    nh, nw = max(8, int(round(h * factor))), max(8, int(round(w * factor)))
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
