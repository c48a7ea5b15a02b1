"""The ControlNet's condition image: Sentinel-2 bands prepared exactly as DiffusionSat's SR model was trained.

DiffusionSat's training code (``train_controlnet.py`` run with ``--num_channels 13 --flip_bgr``
``--dropped_bands 0 9 10``, and ``data_util.SentinelNormalize``) turns a 13-band fMoW-Sentinel L1C image into
the condition like this:

1. every band, in DN (reflectance x 10000), is mapped from [mean - 2 std, mean + 2 std] to [0, 255], clipped
   and truncated to uint8 (``astype(uint8)``), then divided by 255 (``ToTensor``);
2. B02, B03, B04 become B04, B03, B02 (``SentinelFlipBGR``), then B01, B09, B10 are dropped: 10 channels
   ``CONDITION_BANDS``;
3. the image is resized bilinearly to the condition size (``transforms.Resize``; done per window by
   ``ConditionCanvas``).

The mean and standard deviation are fixed per band (``FMOW_MEAN``/``FMOW_STD``, fMoW-Sentinel statistics, in
the code) unless ``normalisation="scene"`` asks for the scene's own, computed here in one pass of bounded
memory. Bands are brought to the 10 m grid by nearest neighbour (block repetition, what an export of all bands
at 10 m gives). B10 (cirrus, L1C only) and B01/B09 are not needed: an L2A stack (12 bands, no B10) works
unchanged, but its bottom-of-atmosphere values are darker than the top-of-atmosphere L1C the model saw (a
warning says so).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from geogen.errors import InputFileError
from geogen.io.sentinel2 import S2Stack
from geogen.sensors.sentinel2 import REFLECTANCE_SCALE
from tiles import Window

CONDITION_BANDS: tuple[str, ...] = ("B04", "B03", "B02", "B05", "B06", "B07", "B08", "B8A", "B11", "B12")
"""The 10 condition channels, in the order the released SR ControlNet reads them."""

# DiffusionSat data_util.SentinelNormalize (fMoW-Sentinel, L1C DN), bands B01..B08, B8A, B09, B10, B11, B12.
_FMOW_ORDER = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
FMOW_MEAN: dict[str, float] = dict(
    zip(
        _FMOW_ORDER,
        (
            1370.19151926,
            1184.3824625,
            1120.77120066,
            1136.26026392,
            1263.73947144,
            1645.40315151,
            1846.87040806,
            1762.59530783,
            1972.62420416,
            582.72633433,
            14.77112979,
            1732.16362238,
            1247.91870117,
        ),
        strict=True,
    )
)
FMOW_STD: dict[str, float] = dict(
    zip(
        _FMOW_ORDER,
        (
            633.15169573,
            650.2842772,
            712.12507725,
            965.23119807,
            948.9819932,
            1108.06650639,
            1258.36394548,
            1233.1492281,
            1364.38688993,
            472.37967789,
            14.3114637,
            1310.36996126,
            1087.6020813,
        ),
        strict=True,
    )
)
NEUTRAL = 127
"""uint8 value of a band's mean (255 / 2, truncated): what nodata pixels of the condition become."""

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Normalisation:
    """Per-band mean and standard deviation in DN (reflectance x 10000); ``source`` is "fmow" or "scene"."""

    mean: dict[str, float]
    std: dict[str, float]
    source: str

    def to_uint8(self, band: str, dn: np.ndarray) -> np.ndarray:
        """DN of ``band`` from mean -/+ 2 std to 0..255, clipped and truncated (``SentinelNormalize``)."""
        lo = self.mean[band] - 2.0 * self.std[band]
        hi = self.mean[band] + 2.0 * self.std[band]
        scaled = (np.asarray(dn, np.float64) - lo) / (hi - lo) * 255.0
        return np.clip(scaled, 0.0, 255.0).astype(np.uint8)

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "mean": {b: round(self.mean[b], 3) for b in CONDITION_BANDS},
            "std": {b: round(self.std[b], 3) for b in CONDITION_BANDS},
        }


FMOW_NORMALISATION = Normalisation(FMOW_MEAN, FMOW_STD, "fmow")


def check_bands(stack: S2Stack) -> None:
    """Refuse a stack without the 10 condition bands.

    Raises:
        InputFileError: the missing bands are named.
    """
    missing = [b for b in CONDITION_BANDS if b not in stack.bands]
    if missing:
        raise InputFileError(
            f"{stack.source} lacks {', '.join(missing)}: the DiffusionSat SR model reads the 10 bands "
            f"{', '.join(sorted(CONDITION_BANDS))} (B01, B09 and B10 are optional, it drops them)"
        )


def scene_normalisation(
    stack: S2Stack, *, rows_per_read: int = 1024, progress: Progress | None = None
) -> Normalisation:
    """Mean and standard deviation of every condition band over the scene's valid pixels, in DN.

    Each band is read at its native resolution in strips of ``rows_per_read`` rows, its moments merged strip
    by strip (Chan et al.), so memory is one strip whatever the scene size.

    Raises:
        InputFileError: a band has no valid pixel.
    """
    mean: dict[str, float] = {}
    std: dict[str, float] = {}
    for k, band in enumerate(CONDITION_BANDS):
        f = stack.factor(band)
        native = stack.band_grid(band)
        n, mu, m2 = 0, 0.0, 0.0
        for r0 in range(0, native.height, rows_per_read):
            h = min(rows_per_read, native.height - r0)
            values, valid = stack.read(band, Window(0, r0 * f, native.width * f, h * f))
            v = values[valid].astype(np.float64) * float(REFLECTANCE_SCALE)
            if v.size == 0:
                continue
            vm = float(v.mean())
            vm2 = float(((v - vm) ** 2).sum())
            total = n + v.size
            delta = vm - mu
            mu += delta * v.size / total
            m2 += vm2 + delta * delta * n * v.size / total
            n = total
        if n == 0:
            raise InputFileError(f"band {band} of {stack.source} has no valid pixel")
        mean[band], std[band] = mu, max((m2 / n) ** 0.5, 1.0)
        if progress is not None:
            progress(k + 1, len(CONDITION_BANDS))
    return Normalisation(mean, std, "scene")


def read_band_10m(stack: S2Stack, band: str, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """``band`` over ``window`` of the finest grid (any window, also off the scene), by block repetition."""
    f = stack.factor(band)
    c0, r0 = window.col_off // f * f, window.row_off // f * f
    c1, r1 = -(-window.col_end // f) * f, -(-window.row_end // f) * f
    values, valid = stack.read(band, Window(c0, r0, c1 - c0, r1 - r0))
    if f > 1:
        values = np.repeat(np.repeat(values, f, axis=0), f, axis=1)
        valid = np.repeat(np.repeat(valid, f, axis=0), f, axis=1)
    rows = slice(window.row_off - r0, window.row_off - r0 + window.height)
    cols = slice(window.col_off - c0, window.col_off - c0 + window.width)
    return values[rows, cols], valid[rows, cols]


def read_condition(stack: S2Stack, window: Window, norm: Normalisation) -> tuple[np.ndarray, np.ndarray]:
    """The 10 condition channels (uint8, ``CONDITION_BANDS`` order) over ``window`` of the 10 m grid.

    Returns:
        (channels (10, h, w) uint8, valid (h, w) bool: every condition band valid). Invalid pixels inside the
        scene are ``NEUTRAL``; beyond the scene's edge the nearest edge pixels are repeated.
    """
    scene = window.intersection(stack.grid.full_window)
    out = np.full((len(CONDITION_BANDS), window.height, window.width), NEUTRAL, np.uint8)
    valid = np.zeros((window.height, window.width), bool)
    if scene is None:
        return out, valid
    inner = scene.relative_to(window)
    ok = np.ones((scene.height, scene.width), bool)
    for i, band in enumerate(CONDITION_BANDS):
        values, band_valid = read_band_10m(stack, band, scene)
        channel = norm.to_uint8(band, values * float(REFLECTANCE_SCALE))
        out[i][inner.slices] = np.where(band_valid, channel, NEUTRAL)
        ok &= band_valid
    valid[inner.slices] = ok
    pad = ((inner.row_off, window.height - inner.row_end), (inner.col_off, window.width - inner.col_end))
    if any(p for pair in pad for p in pair):
        out = np.stack([np.pad(c[inner.slices], pad, mode="edge") for c in out])
    return out, valid
