"""What the sharpening engines read from a scene: guide bands, scene statistics, filled holes, windows.

Shared by the classical engine (``classical``) and the scene-trained CNN (``cnn``), so neither borrows the
other's private helpers. Every filter here is local (radius ``fill_radius()``), which is what lets a window
read with a halo match the same window cut from a whole-scene run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from geogen.io.sentinel2 import S2Stack
from tiles import Window

GUIDE_BANDS = ("B02", "B03", "B04", "B08")
_FILL_SIGMA = 1.5
_FILL_TRUNCATE = 3.0


@dataclass(frozen=True)
class BandModel:
    """Scene-wide statistics of a band: its mean (to fill holes) and, for coarse bands, the pan regression.

    Attributes:
        mean: mean of the band's valid pixels over the scene.
        weights: one regression weight per guide band; None: no usable regression (falls back to bicubic).
        intercept: the regression's constant term.
    """

    mean: float
    weights: np.ndarray | None = None
    intercept: float = 0.0


def fill_radius() -> int:
    """Radius in pixels of the hole-filling filter of ``fill_invalid``."""
    return int(_FILL_TRUNCATE * _FILL_SIGMA + 0.5)


def fill_invalid(x: np.ndarray, valid: np.ndarray, fallback: float) -> np.ndarray:
    """``x`` with invalid pixels replaced by a Gaussian-weighted mean of valid neighbours (or ``fallback``).

    Purely local (radius ``fill_radius()``), so nodata zeros never leak into later filters.
    """
    if valid.all():
        return x
    v = valid.astype(np.float32)
    num = ndimage.gaussian_filter(
        np.where(valid, x, 0).astype(np.float32), _FILL_SIGMA, mode="reflect", truncate=_FILL_TRUNCATE
    )
    den = ndimage.gaussian_filter(v, _FILL_SIGMA, mode="reflect", truncate=_FILL_TRUNCATE)
    local = np.where(den > 1e-3, num / np.maximum(den, 1e-3), np.float32(fallback))
    return np.where(valid, x, local).astype(np.float32)


def lcm(values: Sequence[int]) -> int:
    """Least common multiple of ``values`` (1 when empty): the alignment every band's grid shares."""
    out = 1
    for v in values:
        out = out * v // math.gcd(out, v)
    return out


def expand_window(window: Window, shape: tuple[int, int], halo: int, align: int) -> Window:
    """``window`` grown by ``halo``, snapped outwards to multiples of ``align`` and clipped to ``shape``.

    An engine that sharpens a window from the window grown by ``halo(factor)`` (at most ``halo``) and snapped
    to ``align`` reads nothing outside this region, so a stack cut to the region (its origin on the
    ``align`` lattice, its edges the scene's or beyond the engine's reach) gives the engine the same pixels
    as the whole scene.
    """
    rows, cols = shape
    c0 = max(0, (window.col_off - halo) // align * align)
    r0 = max(0, (window.row_off - halo) // align * align)
    c1 = min(cols, -(-(window.col_end + halo) // align) * align)
    r1 = min(rows, -(-(window.row_end + halo) // align) * align)
    return Window(c0, r0, c1 - c0, r1 - r0)


def guide_bands(stack: S2Stack) -> list[str]:
    """The finest-grid bands that guide the sharpening: the 10 m bands, or any band on the finest grid."""
    fine = [b for b in stack.bands if stack.factor(b) == 1]
    preferred = [b for b in GUIDE_BANDS if b in fine]
    return preferred or fine


def read_guides(
    stack: S2Stack, guides: Sequence[str], block: Window, models: Mapping[str, BandModel]
) -> tuple[np.ndarray, np.ndarray]:
    """Filled guide bands (k, h, w) over ``block`` and the pixels where all of them are valid."""
    arrays, valid = [], np.ones((block.height, block.width), bool)
    for g in guides:
        data, v = stack.read(g, block)
        arrays.append(fill_invalid(data, v, models[g].mean if g in models else 0.0))
        valid &= v
    return np.stack(arrays), valid
