"""Areas of interest: from bounds or a vector file to a metric working grid at a target GSD.

Geography rules (docs/DESIGN.md): generate in a metric CRS; a geographic area is worked in its UTM zone; lon/lat
metadata is the area's centroid in WGS84.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import shapely
from pyproj import CRS, Transformer
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from geogen.errors import GeometryError
from geogen.io.raster import crs_to_str
from geogen.io.vector import read_vector
from tiles import Grid, Window


@dataclass(frozen=True)
class Area:
    """An area of interest: a geometry in ``crs``."""

    geometry: BaseGeometry
    crs: str

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return tuple(self.geometry.bounds)

    def to_crs(self, crs: str) -> Area:
        return Area(reproject_geometry(self.geometry, self.crs, crs), crs)


def parse_crs(value: str) -> CRS:
    """A pyproj CRS from 'EPSG:n', WKT or PROJ text.

    Raises:
        GeometryError: the text is not a CRS.
    """
    try:
        return CRS.from_user_input(value)
    except Exception:  # pyproj raises CRSError, but also others for odd input
        raise GeometryError(f"not a valid CRS: {value!r}") from None


def is_geographic(crs: str) -> bool:
    return parse_crs(crs).is_geographic


def reproject_geometry(geom: BaseGeometry, src_crs: str, dst_crs: str) -> BaseGeometry:
    """``geom`` transformed from ``src_crs`` to ``dst_crs`` (x/y axis order, as in GIS files)."""
    if parse_crs(src_crs) == parse_crs(dst_crs):
        return geom
    tr = Transformer.from_crs(parse_crs(src_crs), parse_crs(dst_crs), always_xy=True)
    return shapely.transform(geom, lambda x, y: tr.transform(x, y), interleaved=False)


def reproject_bounds(
    bounds: tuple[float, float, float, float], src_crs: str, dst_crs: str, densify: int = 21
) -> tuple[float, float, float, float]:
    """Bounds of the (densified) box ``bounds`` after reprojection."""
    if parse_crs(src_crs) == parse_crs(dst_crs):
        return bounds
    tr = Transformer.from_crs(parse_crs(src_crs), parse_crs(dst_crs), always_xy=True)
    return tuple(tr.transform_bounds(*bounds, densify_pts=densify))  # type: ignore[return-value]


def utm_crs_for(lon: float, lat: float) -> str:
    """The WGS84 UTM zone CRS ("EPSG:326nn" north, "EPSG:327nn" south) containing lon/lat."""
    if not -180 <= lon <= 180 or not -90 <= lat <= 90:
        raise GeometryError(f"longitude/latitude out of range: {lon}, {lat}")
    zone = min(int((lon + 180) // 6) + 1, 60)
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def centroid_lonlat(area: Area) -> tuple[float, float]:
    """The area's centroid in WGS84 (lon, lat)."""
    c = area.geometry.centroid
    tr = Transformer.from_crs(parse_crs(area.crs), CRS.from_epsg(4326), always_xy=True)
    lon, lat = tr.transform(c.x, c.y)
    return float(lon), float(lat)


ANTIMERIDIAN_HINT = (
    "geogen works on one side of the antimeridian at a time: split the area at 180\u00b0 longitude and run "
    "one job per side"
)


def crosses_antimeridian(bounds: tuple[float, float, float, float], crs: str) -> bool:
    """Whether the box ``bounds`` in ``crs`` straddles the antimeridian (180\u00b0 longitude).

    Geographic bounds cross it when they reach past +-180; projected ones when their WGS84 footprint wraps
    around (pyproj returns a west edge east of the east edge for those).
    """
    c = parse_crs(crs)
    left, bottom, right, top = bounds
    if c.is_geographic:
        return left < -180 or right > 180
    try:
        tr = Transformer.from_crs(c, CRS.from_epsg(4326), always_xy=True)
        west, _, east, _ = tr.transform_bounds(left, bottom, right, top, densify_pts=21)
    except Exception:  # outside the CRS's domain: nothing to say about longitudes
        return False
    return bool(west > east)


def check_antimeridian(area: Area, what: str = "the area of interest") -> None:
    """Refuse an area that crosses the antimeridian, or (geographic) spans more than 180\u00b0 of longitude,
    which is how an area split at +-180 reads.

    Raises:
        GeometryError: with the reason and what to do.
    """
    left, _, right, _ = area.bounds
    if crosses_antimeridian(area.bounds, area.crs):
        raise GeometryError(f"{what} crosses the antimeridian (180\u00b0 longitude); {ANTIMERIDIAN_HINT}")
    if is_geographic(area.crs) and right - left > 180:
        raise GeometryError(
            f"{what} spans {right - left:.0f}\u00b0 of longitude ({left:g} to {right:g}): an area split at "
            f"the antimeridian reads as one spanning the globe; {ANTIMERIDIAN_HINT}"
        )


def check_output_crs(grid: Grid, crs: str | None, what: str = "the output") -> None:
    """Refuse writing ``grid`` in a geographic ``crs`` when it crosses the antimeridian (the warp would wrap it
    around the globe), before any work.

    Raises:
        GeometryError: with the reason and what to do.
    """
    if crs is not None and is_geographic(crs) and crosses_antimeridian(grid.bounds, grid.crs):
        raise GeometryError(
            f"{what} crosses the antimeridian (180\u00b0 longitude) and cannot be written in {crs}; "
            "write it in its own projected CRS (leave the output CRS unset) or split the area at 180\u00b0"
        )


def area_from_bounds(bounds: tuple[float, float, float, float], crs: str) -> Area:
    """An Area from (left, bottom, right, top) in ``crs``.

    Raises:
        GeometryError: empty/inverted bounds or an invalid CRS.
    """
    left, bottom, right, top = bounds
    geographic = parse_crs(crs).is_geographic
    if geographic and top > bottom and 0 < left <= 180 and -180 <= right < 0:
        raise GeometryError(
            f"area bounds {bounds} are inverted (west edge {left:g} east of east edge {right:g}): if the area "
            f"crosses the antimeridian, {ANTIMERIDIAN_HINT}"
        )
    if not (right > left and top > bottom):
        raise GeometryError(f"area bounds are empty or inverted: {bounds}")
    crs_str = crs_to_str(parse_crs(crs).to_wkt())
    if geographic and (left < -180 or right > 180) and bottom >= -90 and top <= 90:
        raise GeometryError(
            f"area bounds {bounds} are out of range: they reach past 180\u00b0 longitude; {ANTIMERIDIAN_HINT}"
        )
    if geographic and not (left >= -180 and right <= 180 and bottom >= -90 and top <= 90):
        raise GeometryError(f"geographic bounds out of range (lon -180..180, lat -90..90): {bounds}")
    return Area(box(left, bottom, right, top), crs_str)


def area_from_vector(path: str | Path, layer: str | None = None) -> Area:
    """The union of a vector layer's polygons.

    Raises:
        InputFileError, VectorError: see read_vector.
    """
    vl = read_vector(path, layer)
    return Area(unary_union([f.geometry for f in vl.features]), vl.crs)


class AreaSpec(Protocol):
    """What a job says about its area of interest (``geogen.spec.AreaOfInterest``): bounds or a vector."""

    bounds: tuple[float, float, float, float] | None
    crs: str | None
    vector: str | None
    layer: str | None


def area_from_spec(aoi: AreaSpec) -> Area:
    """The area a job's ``aoi`` describes: its vector layer's union, else its bounds in its CRS.

    Raises:
        InputFileError, VectorError, GeometryError: see ``area_from_vector`` and ``area_from_bounds``.
    """
    if aoi.vector:
        area = area_from_vector(aoi.vector, aoi.layer)
        check_antimeridian(area, f"the area of interest {Path(aoi.vector).name}")
        return area
    return area_from_bounds(aoi.bounds, aoi.crs)  # type: ignore[arg-type]


def aoi_window(aoi: AreaSpec | None, grid: Grid) -> Window:
    """The pixels of a scene's ``grid`` covering the area of interest (all of them without one).

    Raises:
        GeometryError: the area does not overlap the scene.
    """
    if aoi is None:
        return grid.full_window
    bounds = area_from_spec(aoi).to_crs(grid.crs).bounds
    try:
        return grid.window(bounds)
    except ValueError:
        raise GeometryError(
            f"the area of interest {tuple(round(v, 2) for v in bounds)} ({grid.crs}) does not "
            f"overlap the scene {tuple(round(v, 2) for v in grid.bounds)}"
        ) from None


def working_crs(area: Area) -> str:
    """The metric CRS to generate in: the area's own if projected, else its centroid's UTM zone."""
    if is_geographic(area.crs):
        return utm_crs_for(*centroid_lonlat(area))
    crs = parse_crs(area.crs)
    unit = crs.axis_info[0].unit_name if crs.axis_info else "metre"
    if unit not in ("metre", "meter", "m"):
        raise GeometryError(f"CRS {area.crs} is in {unit}; a metric CRS (or a geographic one) is needed")
    return area.crs


def working_grid(area: Area, gsd: float, *, crs: str | None = None, snap: bool = True) -> Grid:
    """The metric grid at ``gsd`` metres covering ``area``.

    The origin is snapped to a multiple of ``gsd`` (so grids of neighbouring jobs line up) and the size rounded up.

    Raises:
        GeometryError: ``gsd`` <= 0 or the area is empty.
    """
    if not (isinstance(gsd, (int, float)) and math.isfinite(gsd) and gsd > 0):
        raise GeometryError(f"GSD must be a positive number of metres, got {gsd!r}")
    if area.geometry.is_empty or area.geometry.area == 0:
        raise GeometryError("area of interest is empty")
    check_antimeridian(area)
    target = crs or working_crs(area)
    left, bottom, right, top = (
        reproject_bounds(area.bounds, area.crs, target) if area.crs != target else area.bounds
    )
    if snap:
        left, bottom = math.floor(left / gsd) * gsd, math.floor(bottom / gsd) * gsd
        right, top = math.ceil(right / gsd) * gsd, math.ceil(top / gsd) * gsd
    return Grid.from_bounds((left, bottom, right, top), gsd, target)


def check_tile_budget(
    n_tiles: int, max_tiles: int, *, seconds_per_tile: float | None = None, what: str = "tiles"
) -> None:
    """Refuse work that needs more than ``max_tiles`` model windows, saying how many and roughly how long.

    Raises:
        AreaTooLargeError: ``n_tiles`` > ``max_tiles``.
    """
    from geogen.errors import AreaTooLargeError

    if n_tiles <= max_tiles:
        return
    eta = ""
    if seconds_per_tile:
        secs = n_tiles * seconds_per_tile
        eta = (
            f" (roughly {secs / 3600:.1f} h on this machine)"
            if secs >= 3600
            else f" (roughly {secs / 60:.0f} min)"
        )
    raise AreaTooLargeError(
        f"the area needs {n_tiles} {what}{eta}, above the limit of {max_tiles}; "
        'choose a smaller area or a coarser GSD, or raise the limit (--max-tiles, or "max_tiles" in a job file)'
    )
