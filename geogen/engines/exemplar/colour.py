"""A slow, seeded colour modulation in map coordinates, so that repeated source texture never looks identical.

Value noise: random values on a lattice every ``scale`` pixels, keyed by (seed, lattice row, lattice col,
channel) through an integer hash, interpolated with smoothstep weights. Being a function of the absolute pixel
position, it continues seamlessly across windows of a tiled run. A shared luminance term plus a weaker
per-channel term keep hues natural.
"""

from __future__ import annotations

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_K = (
    np.uint64(0x9E3779B97F4A7C15),
    np.uint64(0xC2B2AE3D27D4EB4F),
    np.uint64(0x165667B19E3779F9),
    np.uint64(0xD6E8FEB86659FD93),
)


def _hash_uniform(seed: int, rows: np.ndarray, cols: np.ndarray, channel: int) -> np.ndarray:
    """Uniform values in [-1, 1) from a splitmix64-style hash of integer lattice coordinates."""
    with np.errstate(over="ignore"):
        z = (
            np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * _K[0]
            + rows.astype(np.int64).astype(np.uint64) * _K[1]
            + cols.astype(np.int64).astype(np.uint64) * _K[2]
            + np.uint64(channel) * _K[3]
        )
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 52) - 1.0


def _value_noise(
    seed: int, shape: tuple[int, int], origin: tuple[int, int], scale: int, channel: int
) -> np.ndarray:
    h, w = shape
    r = (origin[0] + np.arange(h) + 0.5) / scale
    c = (origin[1] + np.arange(w) + 0.5) / scale
    r0, c0 = np.floor(r).astype(np.int64), np.floor(c).astype(np.int64)
    fr, fc = r - r0, c - c0
    fr, fc = fr * fr * (3 - 2 * fr), fc * fc * (3 - 2 * fc)
    lr = np.arange(r0.min(), r0.max() + 2)
    lc = np.arange(c0.min(), c0.max() + 2)
    lattice = _hash_uniform(seed, lr[:, None], lc[None, :], channel)
    ir, ic = r0 - lr[0], c0 - lc[0]
    top = lattice[ir][:, ic] * (1 - fc) + lattice[ir][:, ic + 1] * fc
    bottom = lattice[ir + 1][:, ic] * (1 - fc) + lattice[ir + 1][:, ic + 1] * fc
    return top * (1 - fr)[:, None] + bottom * fr[:, None]


def colour_field(
    seed: int, shape: tuple[int, int], origin: tuple[int, int], scale: int, amplitude: float
) -> np.ndarray:
    """(h, w, 3) float32 gains within 1 +- 1.5 * amplitude for the window at ``origin`` (row, col)."""
    lum = _value_noise(seed, shape, origin, scale, 0)
    gains = [
        1.0 + amplitude * (lum + 0.5 * _value_noise(seed, shape, origin, scale, 1 + ch)) for ch in range(3)
    ]
    return np.stack(gains, axis=-1).astype(np.float32)
