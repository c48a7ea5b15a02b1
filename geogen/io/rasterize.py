"""Polygons -> class masks on a grid, without antialiasing (exact class codes, pixel-centre rule)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from rasterio.features import rasterize
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from geogen.io.aoi import reproject_geometry
from tiles import Grid


def rasterize_classes(
    shapes: Iterable[tuple[BaseGeometry, int]],
    grid: Grid,
    *,
    shapes_crs: str | None = None,
    fill: int = 0,
    dtype: str = "uint8",
) -> np.ndarray:
    """Burn ``(geometry, class code)`` pairs onto ``grid``: a pixel takes the code of the polygon holding its centre.

    Later shapes win where polygons overlap. Pixels in no polygon get ``fill`` (0 = nodata). Geometries are
    reprojected from ``shapes_crs`` to the grid's CRS first when they differ. Only the shapes that touch the grid are
    burnt, so calling this per window streams.
    """
    frame = box(*grid.bounds)
    burn = []
    for geom, code in shapes:
        g = reproject_geometry(geom, shapes_crs, grid.crs) if shapes_crs and shapes_crs != grid.crs else geom
        if g.intersects(frame):
            burn.append((g, int(code)))
    if not burn:
        return np.full(grid.shape, fill, dtype=dtype)
    return rasterize(
        burn, out_shape=grid.shape, transform=grid.transform, fill=fill, all_touched=False, dtype=dtype
    )
