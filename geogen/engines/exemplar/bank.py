"""The exemplar bank: every candidate source patch of the exemplars, indexed for fast class-layout search.

Built once per job (or per exemplar set) and shared by every window. A candidate is a source position
(exemplar, row, col) on a ``stride`` lattice times one of the 8 orientations. For each position the bank
keeps a coarse class layout (majority class per ``CELL`` x ``CELL`` cell, in all 8 orientations), the
classes it contains, its dominant class and that class's share. For the refill step it keeps, per class and
size, the positions of windows made of that class only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from geogen.engines.exemplar.orient import ORIENTATIONS, orient
from geogen.errors import EngineError, RasterError
from geogen.landcover.vocab import NODATA

CELL = 4
"""Side, in pixels, of the cells of the coarse class layouts."""

USAGE_CELL = 8
"""Side, in pixels, of the cells in which the reuse of exemplar regions is counted."""

Exemplar = tuple[np.ndarray, np.ndarray]
"""(image (3, h, w) uint8, class map (h, w) int; 0 = nodata), as the engine takes it."""


def _box_counts(indicator: np.ndarray, size: int) -> np.ndarray:
    """Sum of ``indicator`` over every ``size`` x ``size`` window (valid positions), via an integral image."""
    ii = np.zeros((indicator.shape[0] + 1, indicator.shape[1] + 1), dtype=np.int32)
    np.cumsum(np.cumsum(indicator, axis=0, dtype=np.int32), axis=1, out=ii[1:, 1:])
    return ii[size:, size:] - ii[:-size, size:] - ii[size:, :-size] + ii[:-size, :-size]


def majority(mask: np.ndarray, cell: int, codes: np.ndarray) -> np.ndarray:
    """Majority class of each ``cell`` x ``cell`` block (nodata only where the block is all nodata)."""
    h, w = (mask.shape[0] // cell) * cell, (mask.shape[1] // cell) * cell
    blocks = mask[:h, :w].reshape(h // cell, cell, w // cell, cell)
    counts = np.stack([(blocks == c).sum(axis=(1, 3)) for c in codes])
    out = codes[np.argmax(counts, axis=0)].astype(np.uint8)
    out[counts.sum(axis=0) == 0] = NODATA
    return out


def check_exemplars(exemplars: Sequence[Exemplar], patch: int) -> None:
    """Validate exemplar pairs before anything is computed from them.

    Raises:
        RasterError: no exemplar, wrong shapes or dtypes, or an exemplar smaller than a patch.
    """
    if len(exemplars) == 0:
        raise RasterError("the exemplar engine needs at least one exemplar (image, class map) pair")
    for k, pair in enumerate(exemplars):
        if len(pair) != 2:
            raise RasterError(f"exemplar {k} must be an (image, class map) pair, got {len(pair)} items")
        image, mask = np.asarray(pair[0]), np.asarray(pair[1])
        if image.ndim != 3 or image.shape[0] != 3 or image.dtype != np.uint8:
            raise RasterError(
                f"exemplar {k}: the image must be (3, h, w) uint8 RGB, got {image.dtype} {image.shape}"
            )
        if mask.shape != image.shape[1:] or mask.dtype.kind not in "iu":
            raise RasterError(
                f"exemplar {k}: the class map must be an integer array of shape {image.shape[1:]}, "
                f"got {mask.dtype} {mask.shape}"
            )
        if mask.min() < 0 or mask.max() > 255:
            raise RasterError(f"exemplar {k}: class codes must lie in 0..255, got {mask.min()}..{mask.max()}")
        if min(mask.shape) < patch:
            raise RasterError(
                f"exemplar {k} is {mask.shape[1]} x {mask.shape[0]} px, smaller than a {patch} px patch"
            )


@dataclass
class ExemplarBank:
    """Candidate patches of a set of exemplars (build with :meth:`build`; read-only afterwards)."""

    patch: int
    stride: int
    images: list[np.ndarray]
    """float32 (h, w, 3) per exemplar."""
    masks: list[np.ndarray]
    """uint8 (h, w) per exemplar."""
    class_pixels: dict[int, int]
    """Pixels of each class over all exemplars."""
    pos_e: np.ndarray
    pos_y: np.ndarray
    pos_x: np.ndarray
    pos_present: np.ndarray
    """(positions, classes) bool: which classes (``codes`` order) each position's patch contains."""
    pos_dominant: np.ndarray
    pos_purity: np.ndarray
    """Dominant class of each position's patch and its share of the patch's pixels."""
    pos_valid: np.ndarray
    """Positions with no nodata pixel."""
    layouts: np.ndarray
    """(positions * 8, cells) uint8: coarse layout of candidate ``pos * 8 + o``."""
    codes: np.ndarray
    """Classes present in the exemplars, ascending."""
    _windows: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False
    )
    _pixels: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls, exemplars: Sequence[Exemplar], patch: int = 32, stride: int = 8, max_positions: int = 60_000
    ) -> ExemplarBank:
        """Index every ``stride``-th patch position of ``exemplars``.

        Large exemplars get a coarser stride (the next multiples of 4 px) so that no more than
        ``max_positions`` positions are indexed: memory and search time stay bounded.

        Raises:
            RasterError: invalid exemplars (see :func:`check_exemplars`).
            EngineError: ``patch`` or ``stride`` not positive multiples of the layout cell (4 px).
        """
        if patch <= 0 or patch % CELL or stride <= 0 or stride % CELL:
            raise EngineError(
                f"patch and stride must be positive multiples of {CELL} px, "
                f"got patch={patch}, stride={stride}"
            )
        check_exemplars(exemplars, patch)
        images = [
            np.ascontiguousarray(np.moveaxis(np.asarray(im), 0, -1), dtype=np.float32) for im, _ in exemplars
        ]
        masks = [np.asarray(m).astype(np.uint8) for _, m in exemplars]
        all_codes, all_counts = np.unique(np.concatenate([m.ravel() for m in masks]), return_counts=True)
        class_pixels = {int(c): int(n) for c, n in zip(all_codes, all_counts, strict=True) if c != NODATA}
        if not class_pixels:
            raise RasterError("the exemplars' class maps are nodata (0) everywhere")
        codes = np.array(sorted(class_pixels), dtype=np.uint8)
        g = patch // CELL
        while sum(
            ((m.shape[0] - patch) // stride + 1) * ((m.shape[1] - patch) // stride + 1) for m in masks
        ) > max(max_positions, 1) and stride < min(min(m.shape) for m in masks):
            stride += CELL

        pe, py, px, present, dominant, purity, valid, layouts = [], [], [], [], [], [], [], []
        for e, mask in enumerate(masks):
            ys = np.arange(0, mask.shape[0] - patch + 1, stride)
            xs = np.arange(0, mask.shape[1] - patch + 1, stride)
            grid_y, grid_x = np.meshgrid(ys, xs, indexing="ij")
            gy, gx = grid_y.ravel(), grid_x.ravel()
            counts = np.stack([_box_counts(mask == c, patch)[gy, gx] for c in codes], axis=1)
            nod = _box_counts(mask == NODATA, patch)[gy, gx]
            coarse = sliding_window_view(majority(mask, CELL, codes), (g, g))[gy // CELL, gx // CELL]
            pe.append(np.full(len(gy), e, dtype=np.int32))
            py.append(gy.astype(np.int32))
            px.append(gx.astype(np.int32))
            present.append(counts > 0)
            dominant.append(codes[np.argmax(counts, axis=1)])
            purity.append(counts.max(axis=1) / float(patch * patch))
            valid.append(nod == 0)
            layouts.append(
                np.stack(
                    [orient(coarse, o, axes=(1, 2)).reshape(len(gy), g * g) for o in range(ORIENTATIONS)],
                    axis=1,
                )
            )
        return cls(
            patch=patch,
            stride=stride,
            images=images,
            masks=masks,
            class_pixels=class_pixels,
            pos_e=np.concatenate(pe),
            pos_y=np.concatenate(py),
            pos_x=np.concatenate(px),
            pos_present=np.concatenate(present),
            pos_dominant=np.concatenate(dominant),
            pos_purity=np.concatenate(purity),
            pos_valid=np.concatenate(valid),
            layouts=np.ascontiguousarray(np.concatenate(layouts).reshape(-1, g * g)),
            codes=codes,
        )

    @property
    def n_positions(self) -> int:
        """Number of candidate source positions (each comes in 8 orientations)."""
        return len(self.pos_e)

    def code_index(self, code: int) -> int | None:
        """Column of ``code`` in ``pos_present``, or None when the exemplars lack it."""
        i = int(np.searchsorted(self.codes, code))
        return i if i < len(self.codes) and self.codes[i] == code else None

    def pure_positions(self, code: int, purity: float) -> np.ndarray:
        """Positions whose patch is at least ``purity`` of class ``code`` and has no nodata."""
        return np.flatnonzero((self.pos_dominant == code) & (self.pos_purity >= purity) & self.pos_valid)

    def patches(self, pos: np.ndarray, o: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixels (k, P, P, 3) float32 and classes (k, P, P) uint8 of candidates (position, orientation)."""
        e, y, x = self.pos_e[pos], self.pos_y[pos], self.pos_x[pos]
        return self.gather(e, y, x, o, self.patch), self.gather(e, y, x, o, self.patch, masks=True)

    def gather(
        self, e: np.ndarray, y: np.ndarray, x: np.ndarray, o: np.ndarray, size: int, masks: bool = False
    ) -> np.ndarray:
        """Windows (exemplar, row, col) of side ``size`` in orientations ``o``: (k, size, size, 3) float32
        pixels, or (k, size, size) uint8 classes when ``masks``."""
        sources = self.masks if masks else self.images
        out = np.empty((len(e), size, size, *sources[0].shape[2:]), dtype=sources[0].dtype)
        for ex in np.unique(e).tolist():
            sel = np.flatnonzero(e == ex)
            view = sliding_window_view(sources[ex], (size, size), axis=(0, 1))  # (h', w', [3,] s, s)
            block = view[y[sel], x[sel]]
            if not masks:
                block = np.moveaxis(block, 1, -1)
            for oi in np.unique(o[sel]).tolist():
                part = o[sel] == oi
                out[sel[part]] = orient(block[part], oi, axes=(1, 2))
        return out

    def windows(self, code: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(exemplar, row, col) of every ``size`` x ``size`` window made of class ``code`` only (cached)."""
        key = (int(code), int(size))
        if key not in self._windows:
            es, ys, xs = [], [], []
            for e, mask in enumerate(self.masks):
                if min(mask.shape) < size:
                    continue
                yy, xx = np.nonzero(_box_counts(mask == code, size) == size * size)
                es.append(np.full(len(yy), e, dtype=np.int32))
                ys.append(yy.astype(np.int32))
                xs.append(xx.astype(np.int32))
            self._windows[key] = (np.concatenate(es), np.concatenate(ys), np.concatenate(xs))
        return self._windows[key]

    def pixels(self, code: int) -> np.ndarray:
        """(n, 3) float32 colours of every exemplar pixel of class ``code`` (cached)."""
        if code not in self._pixels:
            self._pixels[code] = np.concatenate(
                [im[m == code] for im, m in zip(self.images, self.masks, strict=True)]
            )
        return self._pixels[code]

    def new_usage(self) -> list[np.ndarray]:
        """Zeroed reuse counters, one (h / USAGE_CELL, w / USAGE_CELL) grid per exemplar."""
        return [
            np.zeros((-(-m.shape[0] // USAGE_CELL), -(-m.shape[1] // USAGE_CELL)), dtype=np.float32)
            for m in self.masks
        ]
