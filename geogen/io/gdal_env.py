"""Bounded memory by default: GDAL's block cache capped from the tile band instead of GDAL's 5 % of RAM.

GDAL keeps every block it has read or written in a process-wide cache (``GDAL_CACHEMAX``, by default 5 % of the
RAM), so a job that streams a raster tile band by tile band would still grow with the area it has read. geogen
caps the cache while a job runs: twice the bytes of one row of input blocks across the area (the blocks that
neighbouring windows share; ``INPUT_BLOCK_ROWS`` rows, every band), within ``MIN_CACHE``..``MAX_CACHE``
(64..256 MiB), and restores the previous value afterwards (a process that runs many jobs, e.g. QGIS, gets its own
cache size back). A ``GDAL_CACHEMAX`` the user set, in whatever form GDAL accepts ("512", "512MB", "10%"), in the
environment, in a ``rasterio.Env`` or as a GDAL config option, is the user's choice and is left alone.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MIB = 2**20
MIN_CACHE = 64 * MIB
MAX_CACHE = 256 * MIB
INPUT_BLOCK_ROWS = 256
"""Rows of a typical input block (tiled GeoTIFFs, COGs: 256 or 512; Sentinel-2 JP2: larger, then the cap)."""

_KEY = "GDAL_CACHEMAX"
_LOCK = threading.RLock()
_ours: int | None = None  # the size geogen set and has not restored yet


def cache_bound(tile_band_bytes: int = 0) -> int:
    """The cache size (bytes) for a job whose band of input blocks (every band) is ``tile_band_bytes``."""
    return int(min(MAX_CACHE, max(MIN_CACHE, 2 * int(tile_band_bytes))))


def _config() -> Any:
    """GDAL_CACHEMAX as rasterio reports it: rasterio >= 1.4 the cache size in bytes (an int, always), older
    versions the config option's text (None when unset)."""
    from rasterio.env import get_gdal_config

    with contextlib.suppress(Exception):
        return get_gdal_config(_KEY)
    return None


def _rasterio_env_value() -> Any:
    """GDAL_CACHEMAX of the ``rasterio.Env`` in force, if it sets one."""
    from rasterio.env import getenv, hasenv

    with contextlib.suppress(Exception):
        if hasenv():
            return getenv().get(_KEY)
    return None


def _is_ours(value: Any) -> bool:
    return _ours is not None and value is not None and str(value).strip() == str(_ours)


def user_set() -> bool:
    """Whether the user chose GDAL_CACHEMAX (environment, ``rasterio.Env``, GDAL config option): then geogen does
    not touch it."""
    if os.environ.get(_KEY):
        return True
    if _rasterio_env_value() is not None:
        return True
    value = _config()
    return isinstance(value, str) and bool(value.strip()) and not _is_ours(value)  # rasterio < 1.4: an option


def configured() -> Any:
    """GDAL_CACHEMAX when geogen (inside a job) or the user set it: an int (bytes, rasterio >= 1.4) or the text
    of the option (older rasterio); None when it is GDAL's machine-dependent default."""
    with _LOCK:
        if _ours is None and not user_set():
            return None
        value = _config()
        if isinstance(value, str) and not value.strip():
            return None
        if value is None and os.environ.get(_KEY):
            return os.environ[_KEY]
        return value


@dataclass(frozen=True)
class Saved:
    """What ``set_cache`` replaced: the value to put back (None: there was none) and geogen's own cap then."""

    value: Any
    ours: int | None


def _apply(value: Any) -> None:
    from rasterio.env import set_gdal_config

    if value is None:  # rasterio < 1.4: the option was unset
        from rasterio._env import del_gdal_config

        del_gdal_config(_KEY)
        return
    try:
        n = int(str(value).strip())
    except ValueError:
        set_gdal_config(_KEY, value)  # a text form only older rasterio reports (and accepts back)
    else:
        set_gdal_config(_KEY, n)  # rasterio >= 1.4 calls GDALSetCacheMax64: applies at once


def set_cache(nbytes: int) -> Saved | None:
    """Set GDAL's block cache to ``nbytes`` unless the user set GDAL_CACHEMAX; returns what to restore (None: the
    user's setting was left alone)."""
    global _ours
    with _LOCK:
        if user_set():
            return None
        saved = Saved(_config(), _ours)
        _apply(int(nbytes))
        _ours = int(nbytes)
        return saved


def restore_cache(saved: Saved) -> None:
    """Put back what ``set_cache`` replaced (unset GDAL_CACHEMAX again where it was unset)."""
    global _ours
    with _LOCK:
        _apply(saved.value)
        _ours = saved.ours


@contextlib.contextmanager
def bounded_gdal_cache(tile_band_bytes: int = 0) -> Iterator[int]:
    """GDAL's block cache capped at ``cache_bound(tile_band_bytes)`` inside; the previous size restored after.

    Yields the bound in bytes (the user's own GDAL_CACHEMAX, when set, is kept and yielded as 0).
    """
    bound = cache_bound(tile_band_bytes)
    saved = set_cache(bound)
    try:
        yield 0 if saved is None else bound
    finally:
        if saved is not None:
            restore_cache(saved)


def raise_cache(tile_band_bytes: int) -> None:
    """Inside a job (``bounded_gdal_cache``), widen the cap to ``cache_bound(tile_band_bytes)`` once the tile band
    is known; outside one (a library call) GDAL's cache is not touched."""
    global _ours
    with _LOCK:
        if _ours is None or user_set():
            return
        n = cache_bound(tile_band_bytes)
        _apply(n)
        _ours = n


DEFAULT_CACHE_BYTES = 16 * 2**30 * 5 // 100
"""GDAL's default cache (5 % of the RAM) on a 16 GiB machine: the warp's strips when no one set GDAL_CACHEMAX, so
that a library call reads the same windows (and writes the same pixels) on every machine."""
_ASSUMED_RAM = 16 * 2**30  # for a user's "NN%" where the OS does not tell the RAM (Windows: no os.sysconf)
_UNITS = {
    "": 0,
    "B": 1,
    "K": 2**10,
    "KB": 2**10,
    "M": 2**20,
    "MB": 2**20,
    "G": 2**30,
    "GB": 2**30,
    "T": 2**40,
}


def _ram_bytes() -> int:
    sysconf = getattr(os, "sysconf", None)
    if sysconf is not None:
        with contextlib.suppress(ValueError, OSError, TypeError):
            return int(sysconf("SC_PHYS_PAGES")) * int(sysconf("SC_PAGE_SIZE"))
    return _ASSUMED_RAM


def cache_bytes() -> int:
    """GDAL's block cache size as set by geogen (inside a job) or the user; ``DEFAULT_CACHE_BYTES`` when no one set
    it (GDAL's own default depends on the machine's RAM). GDAL_CACHEMAX: MB below 100000, bytes above, a size
    with a unit ("512MB"), or a percentage of the RAM."""
    value = configured()
    if value is None or isinstance(value, bool):
        return DEFAULT_CACHE_BYTES
    if isinstance(value, int):
        return value  # rasterio >= 1.4: GDAL's cache size in bytes
    text = str(value).strip().upper().replace(" ", "")
    try:
        if text.endswith("%"):
            return int(_ram_bytes() * float(text[:-1]) / 100)
        num = text.rstrip("KMGTB")
        unit = _UNITS.get(text[len(num) :])
        n = float(num)
    except ValueError:
        return DEFAULT_CACHE_BYTES
    if unit is None:
        return DEFAULT_CACHE_BYTES
    if unit:
        return int(n * unit)
    return int(n) * 1024 * 1024 if n < 100000 else int(n)
