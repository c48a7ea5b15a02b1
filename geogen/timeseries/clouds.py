"""Cloud cover of a frame from its own cloud band, and the ``cloud_max`` filter.

A cloud band is recognised by its band description:
- a cloud probability (s2cloudless ``CLP``, Sen2Cor ``MSK_CLDPRB``, any description with "cloud" and "prob"):
  values in [0, 1], or percent when they exceed 1; a pixel is cloudy at probability >=
  ``PROBABILITY_THRESHOLD`` (s2cloudless's default threshold);
- a cloud mask (``CLM``, "cloud mask", "clouds"): non-zero is cloudy;
- Sen2Cor's scene classification (``SCL``): classes 8, 9 (cloud medium / high probability) and 10 (cirrus);
- Sentinel-2's ``QA60`` bitmask: bit 10 (opaque clouds) or bit 11 (cirrus).
Each is turned into a cloudiness in [0, 1] per pixel before resampling; the cloud fraction of a frame is the
share of its valid pixels inside the area whose resampled cloudiness reaches the threshold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import rasterio

PROBABILITY_THRESHOLD = 0.4
SCL_CLOUD_CLASSES = (8, 9, 10)
QA60_CLOUD_BITS = (10, 11)

_KINDS = (
    (
        "probability",
        re.compile(r"(?<![A-Za-z])CLP(?![A-Za-z])|CLDPRB|cloud.*prob|prob.*cloud", re.IGNORECASE),
    ),
    ("scl", re.compile(r"(?<![A-Za-z])SCL(?![A-Za-z])|scene.?classification", re.IGNORECASE)),
    ("qa60", re.compile(r"QA60", re.IGNORECASE)),
    ("mask", re.compile(r"(?<![A-Za-z])CLM(?![A-Za-z])|cloud", re.IGNORECASE)),
)


@dataclass(frozen=True)
class CloudBand:
    """Which band of a file says where clouds are, and how to read it."""

    index: int
    kind: str
    description: str


def find_cloud_band(ds: rasterio.io.DatasetReader) -> CloudBand | None:
    """The first band whose description names clouds (see the module docstring), or None."""
    for kind, pattern in _KINDS:
        for i, desc in enumerate(ds.descriptions, start=1):
            if desc and pattern.search(desc):
                return CloudBand(i, kind, desc)
    return None


def cloudiness(values: np.ndarray, kind: str) -> np.ndarray:
    """Per-pixel cloudiness in [0, 1] (float32) from a cloud band's raw values (NaN stays NaN)."""
    v = np.asarray(values, dtype=np.float64)
    if kind == "probability":
        finite = v[np.isfinite(v)]
        if finite.size and finite.max() > 1.0:
            v = v / 100.0
        return np.clip(v, 0.0, 1.0).astype(np.float32)
    if kind == "scl":
        return np.where(np.isfinite(v), np.isin(v, SCL_CLOUD_CLASSES), np.nan).astype(np.float32)
    if kind == "qa60":
        bits = np.nan_to_num(v).astype(np.int64)
        cloudy = np.zeros(v.shape, bool)
        for bit in QA60_CLOUD_BITS:
            cloudy |= (bits >> bit) & 1 == 1
        return np.where(np.isfinite(v), cloudy, np.nan).astype(np.float32)
    return np.where(np.isfinite(v), v > 0, np.nan).astype(np.float32)


def cloud_fraction(cloud: np.ndarray, valid: np.ndarray) -> float | None:
    """Share of ``valid`` pixels whose cloudiness is at least ``PROBABILITY_THRESHOLD`` (None: none valid)."""
    use = valid & np.isfinite(cloud)
    if not use.any():
        return None
    return float(np.mean(cloud[use] >= PROBABILITY_THRESHOLD))


def too_cloudy(fraction: float | None, cloud_max: float | None) -> bool:
    """True when a known cloud fraction exceeds ``cloud_max`` (unknown cover never excludes a frame)."""
    return cloud_max is not None and fraction is not None and fraction > cloud_max
