"""A sketch layer: a GeoPackage polygon layer whose class field picks FLAIR-1 classes from a value map and is
drawn in the classes' official colours, ready for the user to draw land cover on."""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransformContext,
    QgsEditorWidgetSetup,
    QgsField,
    QgsFields,
    QgsFillSymbol,
    QgsRendererCategory,
    QgsVectorFileWriter,
    QgsVectorLayer,
)

from ..common.compat import VECTOR_OVERWRITE_FILE, VECTOR_WRITER_OK, WKB_MULTIPOLYGON, int_field_type
from ..common.errors import InputError
from ..common.palette import FLAIR19

CLASS_FIELD = "class"
LAYER_NAME = "sketch"


def class_label(value: int, name: str) -> str:
    return f"{value} {name}"


def palette_renderer(field: str = CLASS_FIELD) -> QgsCategorizedSymbolRenderer:
    """A category per FLAIR-1 class in its official colour (a thin dark outline keeps shapes visible)."""
    categories = []
    for c in FLAIR19:
        symbol = QgsFillSymbol.createSimple(
            {"color": c.color, "outline_color": "#202020", "outline_width": "0.1"}
        )
        categories.append(QgsRendererCategory(c.value, symbol, class_label(c.value, c.name)))
    return QgsCategorizedSymbolRenderer(field, categories)


def apply_sketch_style(layer: QgsVectorLayer, field: str = CLASS_FIELD) -> None:
    """Value-map editor (class names) and categorized palette on ``field`` of ``layer``."""
    index = layer.fields().indexOf(field)
    if index < 0:
        raise InputError(f"layer {layer.name()!r} has no field {field!r}")
    value_map = [{class_label(c.value, c.name): c.value} for c in FLAIR19]
    layer.setEditorWidgetSetup(index, QgsEditorWidgetSetup("ValueMap", {"map": value_map}))
    layer.setRenderer(palette_renderer(field))
    layer.triggerRepaint()


def create_sketch_layer(
    path: Path, crs: QgsCoordinateReferenceSystem, name: str = "geogen sketch"
) -> QgsVectorLayer:
    """A new, empty sketch layer in the GeoPackage ``path`` (overwritten), styled and ready to edit.

    Raises:
        InputError: the GeoPackage cannot be written or read back.
    """
    fields = QgsFields()
    fields.append(QgsField(CLASS_FIELD, int_field_type()))
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.layerName = LAYER_NAME
    options.actionOnExistingFile = VECTOR_OVERWRITE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = QgsVectorFileWriter.create(
        str(path), fields, WKB_MULTIPOLYGON, crs, QgsCoordinateTransformContext(), options
    )
    error = writer.hasError()
    message = writer.errorMessage()
    del writer
    if error != VECTOR_WRITER_OK:
        raise InputError(f"cannot create the sketch layer {path}: {message}")
    layer = QgsVectorLayer(f"{path}|layername={LAYER_NAME}", name, "ogr")
    if not layer.isValid():
        raise InputError(f"cannot open the new sketch layer {path}")
    apply_sketch_style(layer)
    return layer
