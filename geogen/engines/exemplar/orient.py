"""The 8 orientations of a square patch (4 rotations x optional mirror), applied to two image axes.

Orientation ``o`` in 0..7 is ``rot90(k = o // 2)`` followed by a left-right mirror when ``o`` is odd.
"""

from __future__ import annotations

import numpy as np

ORIENTATIONS = 8


def orient(patch: np.ndarray, o: int, axes: tuple[int, int] = (0, 1)) -> np.ndarray:
    """``patch`` seen in orientation ``o`` (a view when possible); ``axes`` are its (row, col) axes."""
    out = np.rot90(patch, o // 2, axes=axes)
    return np.flip(out, axis=axes[1]) if o % 2 else out
