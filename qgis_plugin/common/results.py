"""The backend's output GeoTIFFs as map layers: a readable RGB style, a group per job, and temporal ranges.

Used by the dock (``add_result_layers``) and by Processing (``ResultLayerPostProcessor``, applied when QGIS
loads an algorithm's outputs), so both show results the same way. Main thread only.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsDateTimeRange,
    QgsLayerTreeGroup,
    QgsLayerTreeLayer,
    QgsMapLayer,
    QgsMultiBandColorRenderer,
    QgsProcessingLayerPostProcessorInterface,
    QgsProject,
    QgsRasterLayer,
)
from qgis.PyQt.QtCore import QDate, QDateTime, QTime

from .compat import DATATYPE_BYTE, LIMITS_CUMULATIVE_CUT, RASTER_TEMPORAL_FIXED, STRETCH_MIN_MAX
from .errors import GeogenPluginError
from .export import band_label

S2_RGB = ("B04", "B03", "B02")
# Custom layer properties: the output's ISO date ("" when undated) and whether it is synthetic.
DATE_PROPERTY = "geogen/date"
SYNTHETIC_PROPERTY = "geogen/synthetic"


def _normalise_band(name: str) -> str:
    """ "b4", "B4", "B04" -> "B04"; other names upper-cased."""
    n = name.strip().upper()
    if len(n) == 2 and n[0] == "B" and n[1].isdigit():
        return f"B0{n[1]}"
    return n


def rgb_bands(band_names: list[str], band_count: int) -> tuple[int, int, int] | None:
    """1-based (red, green, blue) bands to display, or None for a single-band image.

    A Sentinel-2 stack shows B04/B03/B02 found by band description; any other image with 3 or more bands
    (RGB, RGBA synthetic images) shows bands 1-3.
    """
    names = [_normalise_band(n) for n in band_names]
    if all(b in names for b in S2_RGB):
        return tuple(names.index(b) + 1 for b in S2_RGB)  # type: ignore[return-value]
    if band_count >= 3:
        return (1, 2, 3)
    return None


def _alpha_band(band_names: list[str], band_count: int) -> int | None:
    if (
        band_count >= 4
        and band_names
        and len(band_names) == band_count
        and band_names[-1].strip().lower() == "alpha"
    ):
        return band_count
    return None


def band_names_of(layer: QgsRasterLayer, record: dict[str, Any] | None = None) -> list[str]:
    """The band names a result record lists, else the layer's band descriptions."""
    names = list((record or {}).get("bands") or [])
    if len(names) == layer.bandCount():
        return [str(n) for n in names]
    return [band_label(layer, b) for b in range(1, layer.bandCount() + 1)]


def style_layer(layer: QgsRasterLayer, record: dict[str, Any] | None = None) -> None:
    """Show ``layer`` in true colour: S2 B04/B03/B02 stretched (2-98 %), 8-bit RGB(A) images as they are."""
    names = band_names_of(layer, record)
    rgb = rgb_bands(names, layer.bandCount())
    if rgb is None:
        return  # QGIS's single-band grey default is right
    renderer = QgsMultiBandColorRenderer(layer.dataProvider(), *rgb)
    alpha = _alpha_band(names, layer.bandCount())
    if alpha is not None:
        renderer.setAlphaBand(alpha)
    layer.setRenderer(renderer)
    is_s2 = all(b in [_normalise_band(n) for n in names] for b in S2_RGB)
    if is_s2 or layer.dataProvider().dataType(rgb[0]) != DATATYPE_BYTE:
        layer.setContrastEnhancement(STRETCH_MIN_MAX, LIMITS_CUMULATIVE_CUT)
    layer.triggerRepaint()


def parse_date(value: Any) -> dt.date | None:
    """A date from a result record's ``date`` (ISO "YYYY-MM-DD", possibly with a time part)."""
    if not value:
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def set_temporal_range(layer: QgsRasterLayer, day: dt.date) -> None:
    """Make ``layer`` visible in the Temporal Controller during ``day`` (a fixed range [day, day + 1))."""
    start = QDateTime(QDate(day.year, day.month, day.day), QTime(0, 0, 0))
    props = layer.temporalProperties()
    props.setMode(RASTER_TEMPORAL_FIXED)
    props.setFixedTemporalRange(QgsDateTimeRange(start, start.addDays(1), True, False))
    props.setIsActive(True)


def layer_name(record: dict[str, Any]) -> str:
    """A layer name: the file stem, its date when the stem lacks it, and a synthetic flag."""
    name = Path(record["path"]).stem
    day = parse_date(record.get("date"))
    if day and day.isoformat() not in name and day.strftime("%Y%m%d") not in name:
        name = f"{name} {day.isoformat()}"
    if record.get("synthetic"):
        name += " (synthetic)"
    return name


def mark_layer(layer: QgsMapLayer, record: dict[str, Any]) -> None:
    """Record the output's date and synthetic flag on ``layer`` (custom properties, kept in the project)."""
    day = parse_date(record.get("date"))
    layer.setCustomProperty(DATE_PROPERTY, day.isoformat() if day else "")
    layer.setCustomProperty(SYNTHETIC_PROPERTY, bool(record.get("synthetic")))


def make_layer(record: dict[str, Any]) -> QgsRasterLayer:
    """A styled raster layer for one output record, with its temporal range when it has a date.

    Raises:
        GeogenPluginError: QGIS cannot open the file.
    """
    layer = QgsRasterLayer(str(record["path"]), layer_name(record), "gdal")
    if not layer.isValid():
        raise GeogenPluginError(f"QGIS cannot open the result {record['path']}")
    style_layer(layer, record)
    mark_layer(layer, record)
    day = parse_date(record.get("date"))
    if day is not None:
        set_temporal_range(layer, day)
    return layer


def result_group(project: QgsProject, name: str, above: QgsMapLayer | None = None) -> QgsLayerTreeGroup:
    """The layer-tree group ``name`` (created at the top, or just above the ``above`` layer)."""
    root = project.layerTreeRoot()
    group = root.findGroup(name)
    if group is not None:
        return group
    node = root.findLayer(above.id()) if above is not None else None
    if node is not None and node.parent() is not None:
        parent = node.parent()
        return parent.insertGroup(parent.children().index(node), name)
    return root.insertGroup(0, name)


def _sorted_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: (parse_date(r.get("date")) or dt.date.min, str(r["path"])))


def add_result_layers(
    records: Iterable[dict[str, Any]], project: QgsProject, group_name: str, above: QgsMapLayer | None = None
) -> list[QgsRasterLayer]:
    """Add every output as a layer in one group (dated outputs in date order, each with its temporal range).

    Raises:
        GeogenPluginError: an output cannot be opened (then no layer is added).
    """
    layers = [make_layer(r) for r in _sorted_records(records)]
    if not layers:
        return []
    group = result_group(project, group_name, above)
    for layer in layers:
        project.addMapLayer(layer, False)
        group.addLayer(layer)
    return layers


def _date_of(node: Any) -> str:
    layer = node.layer() if isinstance(node, QgsLayerTreeLayer) else None
    return str(layer.customProperty(DATE_PROPERTY, "") or "") if layer is not None else ""


def move_to_group(project: QgsProject, layer: QgsMapLayer, group_name: str) -> None:
    """Move ``layer``'s layer-tree node into the group ``group_name`` (created at the top when missing),
    before the first layer with a later date (or none), so a group stays in date order, undated layers last,
    whatever order Processing loads them in."""
    root = project.layerTreeRoot()
    node = root.findLayer(layer.id())
    if node is None:
        return
    group = result_group(project, group_name)
    if node.parent() is group:
        return
    day = _date_of(node)
    children = group.children()
    index = next(
        (i for i, c in enumerate(children) if day and (_date_of(c) > day or not _date_of(c))), len(children)
    )
    group.insertChildNode(index, node.clone())
    node.parent().removeChildNode(node)


class ResultLayerPostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Styles a Processing output layer, gives it its date and puts it in the job's group once loaded."""

    def __init__(self, record: dict[str, Any], group_name: str) -> None:
        super().__init__()
        self.record = record
        self.group_name = group_name

    def postProcessLayer(self, layer, context, feedback):
        if not isinstance(layer, QgsRasterLayer):
            return
        style_layer(layer, self.record)
        mark_layer(layer, self.record)
        day = parse_date(self.record.get("date"))
        if day is not None:
            set_temporal_range(layer, day)
        layer.setName(layer_name(self.record))
        move_to_group(context.project() or QgsProject.instance(), layer, self.group_name)


# QGIS keeps only a raw pointer to post-processors: hold the Python objects after their layers loaded.
_ALIVE: deque = deque(maxlen=4096)


def post_processor(record: dict[str, Any], group_name: str) -> ResultLayerPostProcessor:
    """A post-processor for one output, kept alive for QGIS."""
    processor = ResultLayerPostProcessor(record, group_name)
    _ALIVE.append(processor)
    return processor
