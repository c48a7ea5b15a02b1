"""Tiling engine, free of ML: grids, windows, tile plans, blending weights and a streaming mosaic.

Depends only on numpy and affine. CRSs are carried as opaque strings (WKT or "EPSG:n").
"""

from tiles.blend import WEIGHT_KINDS, TileWeights, WeightKind, tile_weight
from tiles.grid import Grid
from tiles.mosaic import IncompleteMosaicError, Sink, StreamingMosaic, stream_order
from tiles.plan import Tile, count_tiles, plan, plan_grid
from tiles.window import Window

__all__ = [
    "WEIGHT_KINDS",
    "Grid",
    "IncompleteMosaicError",
    "Sink",
    "StreamingMosaic",
    "Tile",
    "TileWeights",
    "WeightKind",
    "Window",
    "count_tiles",
    "plan",
    "plan_grid",
    "stream_order",
    "tile_weight",
]
