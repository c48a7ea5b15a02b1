"""Sentinel-2 MSI facts: band names, order and native resolutions, the DN scale and the MTF gain.

Only constants and tiny pure functions about the sensor live here; reading products is ``geogen.io``'s job.
"""

from __future__ import annotations

import re

import numpy as np

S2_BANDS: tuple[str, ...] = (
    "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12",
)  # fmt: skip
"""Every MSI band in Sentinel-2 order (also the ``band_id`` order of the product metadata)."""
NATIVE_RES: dict[str, int] = {
    "B01": 60, "B02": 10, "B03": 10, "B04": 10, "B05": 20, "B06": 20, "B07": 20,
    "B08": 10, "B8A": 20, "B09": 60, "B10": 60, "B11": 20, "B12": 20,
}  # fmt: skip
"""Native ground sampling distance of each band, in metres."""
RGB_BANDS: tuple[str, ...] = ("B04", "B03", "B02")
"""True colour: red, green, blue."""

REFLECTANCE_SCALE = 10000
"""DN per unit reflectance: L1C/L2A products store reflectance x 10000, and so do geogen's uint16 outputs."""
OFFSET_BASELINE = 4
"""Processing baseline (major, "04.00") from which product DN carry an additive offset (``*_ADD_OFFSET``)."""
MTF_GAIN_AT_NYQUIST = 0.3
"""MSI modulation transfer at the Nyquist frequency of a band's grid (as in the S2 sharpening literature)."""

# "B2", "B02", "b8a" as a whole token: not preceded or followed by a letter or digit ("T33UUB" is no band)
_TOKEN = re.compile(r"(?<![A-Za-z0-9])B(0?[1-9]|1[0-2]|8A)(?![A-Za-z0-9])", re.IGNORECASE)


def _canonical(number: str) -> str:
    number = number.upper()
    return "B8A" if number == "8A" else f"B{int(number):02d}"


def normalise_band(name: str) -> str | None:
    """The canonical name of a band spelt ``name`` ("B2", "b02", "B8a" -> "B02", "B02", "B8A"), else None."""
    m = re.fullmatch(r"\s*B(0?[1-9]|1[0-2]|8A)\s*", name, re.IGNORECASE)
    return _canonical(m.group(1)) if m else None


def find_band(text: str) -> str | None:
    """The one band named in ``text`` (a file name or band description) as a token, else None.

    ``S2A_MSIL2A_..._B8A.tif`` -> "B8A"; ``s2cloudless_cloud_probability_CLP`` -> None. Texts naming two
    different bands are ambiguous and give None.
    """
    found = {_canonical(m.group(1)) for m in _TOKEN.finditer(text)}
    return found.pop() if len(found) == 1 else None


def sort_bands(bands: list[str] | tuple[str, ...] | set[str]) -> list[str]:
    """Canonical band names in Sentinel-2 order (B01, ..., B08, B8A, B09, ..., B12)."""
    return sorted(bands, key=S2_BANDS.index)


def to_dn(reflectance: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """uint16 DN (reflectance x ``REFLECTANCE_SCALE``, rounded); valid pixels stay >= 1 so 0 means nodata only.

    ``valid`` broadcasts against ``reflectance`` (a (rows, cols) mask applies to every band).
    """
    dn = np.clip(np.rint(reflectance * REFLECTANCE_SCALE), 1, np.iinfo(np.uint16).max)
    return np.where(valid, dn, 0).astype(np.uint16)
