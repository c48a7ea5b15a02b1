"""Refill: pixels whose pasted source class differs from the target class get texture of the right class.

Quilting places whole patches, so along class boundaries some pixels carry the wrong class. They are
re-quilted with smaller windows cut from exemplar areas of the right class only (16, 8, then 4 px by
default), in raster order with overlaps of a quarter window: each window is chosen among a few random
candidates (any orientation) by how well it matches the right-class pixels already around it (original or
refilled), and joined to earlier refill windows along minimum-error cuts. Only wrong pixels (and pixels this
refill placed) are ever written, so correct texture is never touched. Pixels still left (a class too thin in
the exemplars for even the smallest window) get the colours of randomly drawn exemplar pixels of that class.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from geogen.engines.exemplar.bank import ExemplarBank
from geogen.engines.exemplar.orient import ORIENTATIONS
from geogen.engines.exemplar.seams import take_new

_CANDIDATES = 16


def _pool(bank: ExemplarBank, codes: frozenset[int], size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(exemplar, row, col) of the ``size`` windows made of one of ``codes`` only."""
    parts = [bank.windows(code, size) for code in sorted(codes)]
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]


def _positions(n: int, size: int, step: int) -> list[int]:
    return list(range(0, max(n - size, 0) + 1, step)) + ([n - size] if (n - size) % step else [])


def _refill_size(
    canvas: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
    bank: ExemplarBank,
    rng: np.random.Generator,
    size: int,
    accepted: Mapping[int, frozenset[int]],
) -> None:
    overlap = max(1, size // 4)
    step = size - overlap
    wrong = (source != target) & (target != 0)
    writable = wrong.copy()  # wrong pixels and those this pass has refilled
    pools = {}
    for code in np.unique(target[wrong]).tolist():
        pool = _pool(bank, accepted.get(code, frozenset({code})), size)
        if len(pool[0]):
            pools[code] = pool
    if not pools:
        return
    h, w = target.shape
    for y in _positions(h, size, step):
        for x in _positions(w, size, step):
            win_wrong = wrong[y : y + size, x : x + size]
            if not win_wrong.any():
                continue
            tgt = target[y : y + size, x : x + size]
            for code in np.unique(tgt[win_wrong]).tolist():
                if code not in pools:
                    continue
                e_pool, y_pool, x_pool = pools[code]
                pick = rng.integers(0, len(e_pool), size=_CANDIDATES)
                o = rng.integers(0, ORIENTATIONS, size=_CANDIDATES)
                cand = bank.gather(e_pool[pick], y_pool[pick], x_pool[pick], o, size)
                old = canvas[y : y + size, x : x + size]
                src = source[y : y + size, x : x + size]
                good = (src == code) & (tgt == code)
                if good.any():
                    err = ((cand[:, good] - old[good]) ** 2).sum(axis=(1, 2))
                    new = cand[int(np.argmin(err))]
                else:
                    new = cand[0]
                mine = (tgt == code) & writable[y : y + size, x : x + size]
                take = take_new(old, new, good, overlap) & mine
                old[take] = new[take]
                src[take] = code
                wrong[y : y + size, x : x + size] &= ~take


def refill(
    canvas: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
    bank: ExemplarBank,
    rng: np.random.Generator,
    sizes: tuple[int, ...],
    accepted: Mapping[int, frozenset[int]] | None = None,
) -> None:
    """Fix, in place, ``canvas`` (H, W, 3) pixels whose ``source`` class != ``target`` (nodata ignored).

    ``accepted`` gives, per target class, the exemplar classes whose texture may stand in for it (a scarce
    class borrowing from its closest class); by default only the class itself. ``source`` is updated to the
    target class where fixed.
    """
    accepted = accepted or {}
    for size in sizes:
        if not ((source != target) & (target != 0)).any():
            return
        _refill_size(canvas, source, target, bank, rng, size, accepted)
    wrong = (source != target) & (target != 0)
    for code in np.unique(target[wrong]).tolist():
        pixels = np.concatenate([bank.pixels(c) for c in sorted(accepted.get(code, frozenset({code})))])
        if len(pixels) == 0:
            continue
        where = np.nonzero(wrong & (target == code))
        canvas[where] = pixels[rng.integers(0, len(pixels), size=len(where[0]))]
        source[where] = code
