"""Bounded memory by default: GDAL's block cache capped from the tile band instead of GDAL's 5 % of RAM.

GDAL keeps every block it has read or written in a process-wide cache (``GDAL_CACHEMAX``, by default 5 % of the
RAM), so a job that streams a raster tile band by tile band would still grow with the area it has read. geogen
caps the cache while a job runs: twice the bytes of one row of input blocks across the area (the blocks that
neighbouring windows share; ``INPUT_BLOCK_ROWS`` rows, every band), within ``MIN_CACHE``..``MAX_CACHE``
(64..256 MiB), and restores the previous value afterwards. A ``GDAL_CACHEMAX`` set in
the environment is the user's choice and is left alone.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

MIB = 2**20
MIN_CACHE = 64 * MIB
MAX_CACHE = 256 * MIB
INPUT_BLOCK_ROWS = 256
"""Rows of a typical input block (tiled GeoTIFFs, COGs: 256 or 512; Sentinel-2 JP2: larger, then the cap)."""


def cache_bound(tile_band_bytes: int = 0) -> int:
    """The cache size (bytes) for a job whose band of input blocks (every band) is ``tile_band_bytes``."""
    return int(min(MAX_CACHE, max(MIN_CACHE, 2 * int(tile_band_bytes))))


def user_set() -> bool:
    """Whether the user chose GDAL_CACHEMAX in the environment (then geogen does not touch it)."""
    return bool(os.environ.get("GDAL_CACHEMAX"))


def set_cache(nbytes: int) -> int | None:
    """Set GDAL's block cache to ``nbytes`` unless the user set GDAL_CACHEMAX; returns the previous size (bytes)."""
    if user_set():
        return None
    from rasterio.env import get_gdal_config, set_gdal_config

    previous = get_gdal_config("GDAL_CACHEMAX")
    set_gdal_config("GDAL_CACHEMAX", int(nbytes))  # rasterio calls GDALSetCacheMax64: applies at once
    return int(previous) if previous is not None else None


@contextlib.contextmanager
def bounded_gdal_cache(tile_band_bytes: int = 0) -> Iterator[int]:
    """GDAL's block cache capped at ``cache_bound(tile_band_bytes)`` inside; the previous size restored after.

    Yields the bound in bytes (the user's own GDAL_CACHEMAX, when set, is kept and yielded as 0).
    """
    previous = set_cache(cache_bound(tile_band_bytes))
    try:
        yield 0 if user_set() else cache_bound(tile_band_bytes)
    finally:
        if previous is not None:
            from rasterio.env import set_gdal_config

            set_gdal_config("GDAL_CACHEMAX", previous)


def raise_cache(tile_band_bytes: int) -> None:
    """Inside a job, widen the cap to ``cache_bound(tile_band_bytes)`` once the tile band is known."""
    if not user_set():
        set_cache(cache_bound(tile_band_bytes))
