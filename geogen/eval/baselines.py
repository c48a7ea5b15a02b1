"""Floor baselines for the sketch task, to beat in every evaluation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from geogen.landcover.fallback import closest_available
from geogen.landcover.vocab import FLAIR19, NODATA, Vocabulary


def flat_fill(
    class_map: np.ndarray, exemplars: Sequence[tuple[np.ndarray, np.ndarray]], vocab: Vocabulary = FLAIR19
) -> np.ndarray:
    """(3, H, W) uint8: each class filled with the exemplars' mean colour of that class (or of its stand-in,
    by the closest-class fallback rule); nodata (0) stays 0."""
    sums: dict[int, np.ndarray] = {}
    counts: dict[int, int] = {}
    for image, mask in exemplars:
        img, m = np.asarray(image, dtype=np.float64), np.asarray(mask)
        for code in np.unique(m).tolist():
            if code == NODATA:
                continue
            sel = m == code
            sums[code] = sums.get(code, 0) + img[:, sel].sum(axis=1)
            counts[code] = counts.get(code, 0) + int(sel.sum())
    cm = np.asarray(class_map)
    out = np.zeros((3, *cm.shape), dtype=np.uint8)
    for code in np.unique(cm).tolist():
        if code == NODATA:
            continue
        src = closest_available(code, counts, vocab)
        colour = np.clip(np.rint(sums[src] / counts[src]), 0, 255).astype(np.uint8)
        out[:, cm == code] = colour[:, None]
    return out
