"""Reading polygon layers (GeoPackage, GeoJSON, Shapefile) into shapely geometries with their attributes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fiona
from fiona.errors import DriverError, FionaError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from geogen.errors import InputFileError, VectorError
from geogen.io.raster import crs_to_str, path_exists


@dataclass(frozen=True)
class Feature:
    """One feature: geometry in the layer's CRS, attributes, and its position in the layer (for messages)."""

    geometry: BaseGeometry
    properties: dict[str, Any]
    fid: int


@dataclass(frozen=True)
class VectorLayer:
    features: list[Feature]
    crs: str
    path: str
    layer: str | None

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        xs0, ys0, xs1, ys1 = zip(*(f.geometry.bounds for f in self.features), strict=True)
        return (min(xs0), min(ys0), max(xs1), max(ys1))

    def field_names(self) -> list[str]:
        return sorted({k for f in self.features for k in f.properties})


def read_vector(path: str | Path, layer: str | None = None, *, polygons_only: bool = True) -> VectorLayer:
    """Read every feature of a vector layer.

    Raises:
        InputFileError: the file is missing.
        VectorError: not a readable vector file, unknown layer, no CRS, no features, or an empty/invalid geometry
            (the message names the feature).
    """
    p = Path(path)
    if not path_exists(p):
        raise InputFileError(f"vector file not found: {p}")
    try:
        layers = fiona.listlayers(str(p))
    except (DriverError, FionaError) as exc:
        raise VectorError(f"cannot read {p} as a vector file: {str(exc).splitlines()[0]}") from None
    if layer is not None and layer not in layers:
        raise VectorError(f"layer {layer!r} not found in {p}; layers: {', '.join(layers)}")
    if layer is None and len(layers) > 1:  # never pick one silently
        raise VectorError(
            f"{p} has {len(layers)} layers ({', '.join(layers)}); name the one to use (--layer for sketch's "
            'classes, "layer" in a job file\'s aoi or classes)'
        )
    try:
        with fiona.open(str(p), layer=layer) as src:
            if not src.crs:
                raise VectorError(f"vector layer has no CRS: {p}")
            crs = crs_to_str(src.crs.to_wkt() if hasattr(src.crs, "to_wkt") else src.crs)
            features: list[Feature] = []
            for i, rec in enumerate(src):
                if rec.geometry is None:
                    raise VectorError(f"feature {i} of {p} has no geometry")
                geom = shape(rec.geometry)
                if geom.is_empty:
                    raise VectorError(f"feature {i} of {p} has an empty geometry")
                if not geom.is_valid:
                    raise VectorError(f"feature {i} of {p} has an invalid geometry: {explain_validity(geom)}")
                if polygons_only and geom.geom_type not in ("Polygon", "MultiPolygon"):
                    raise VectorError(f"feature {i} of {p} is a {geom.geom_type}; polygons are needed")
                features.append(Feature(geom, dict(rec.properties), i))
    except (DriverError, FionaError) as exc:
        raise VectorError(f"cannot read {p}: {str(exc).splitlines()[0]}") from None
    if not features:
        raise VectorError(f"vector layer is empty (no features): {p}")
    return VectorLayer(features, crs, str(p), layer)
