"""Minimum-error boundary cuts (Efros & Freeman 2001): where a new patch takes over from the old pixels.

Through an overlap strip, dynamic programming finds the 8-connected path of least summed squared difference
between old and new pixels; the new patch keeps the side beyond the path, so the seam runs where the two
agree best instead of along a straight line.
"""

from __future__ import annotations

import numpy as np


def vertical_cut(error: np.ndarray) -> np.ndarray:
    """Column of the least-error top-to-bottom path through ``error`` (rows, cols), one per row."""
    rows, cols = error.shape
    acc = error.astype(np.float64)
    best = np.empty(cols)
    for r in range(1, rows):
        prev = acc[r - 1]
        best[:] = prev
        np.minimum(best[1:], prev[:-1], out=best[1:])
        np.minimum(best[:-1], prev[1:], out=best[:-1])
        acc[r] += best
    path = np.empty(rows, dtype=np.int64)
    c = int(np.argmin(acc[-1]))
    path[-1] = c
    for r in range(rows - 2, -1, -1):
        lo = max(c - 1, 0)
        c = lo + int(np.argmin(acc[r, lo : c + 2]))
        path[r] = c
    return path


def take_new(old: np.ndarray, new: np.ndarray, filled: np.ndarray, overlap: int) -> np.ndarray:
    """(P, P) bool: pixels of a patch where ``new`` replaces ``old``.

    Unfilled pixels always take the new patch. Filled pixels inside the top and left ``overlap`` strips take
    it beyond the least-error cuts through those strips (a strip with no filled pixel is not cut); filled
    pixels elsewhere keep their old value.
    """
    p = filled.shape[0]
    diff = ((new - old) ** 2).sum(axis=-1) * filled
    rows = np.arange(p)[:, None]
    cols = np.arange(p)[None, :]
    in_top, in_left = rows < overlap, cols < overlap
    ok = np.ones((p, p), dtype=bool)
    if filled[:overlap].any():
        cut = vertical_cut(diff[:overlap].T)  # one boundary row per column
        ok &= ~in_top | (rows > cut[None, :])
    if filled[:, :overlap].any():
        cut = vertical_cut(diff[:, :overlap])  # one boundary column per row
        ok &= ~in_left | (cols > cut[:, None])
    return ~filled | (filled & (in_top | in_left) & ok)
