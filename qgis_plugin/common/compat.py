"""Names that differ between QGIS 3.22 (Qt5) and QGIS 4.x (Qt6), resolved once at import.

Every enum the plugin uses is looked up here by its newest name first, then by the name QGIS 3.22 has, so the
rest of the code never tests versions.
"""

from __future__ import annotations

from typing import Any

from qgis import core as _core
from qgis.PyQt import QtCore as _qtcore

QGIS_VERSION_INT: int = _core.Qgis.QGIS_VERSION_INT


def resolve(*dotted: str) -> Any:
    """The first existing object among dotted names such as ``"Qgis.ProcessingSourceType.Raster"``.

    Raises:
        AttributeError: none of the names exists in this QGIS.
    """
    for name in dotted:
        head, *rest = name.split(".")
        obj = getattr(_core, head, None)
        if obj is None:
            obj = getattr(_qtcore, head, None)
        for part in rest:
            if obj is None:
                break
            obj = getattr(obj, part, None)
        if obj is not None:
            return obj
    raise AttributeError(f"none of {', '.join(dotted)} exists in QGIS {_core.Qgis.QGIS_VERSION}")


SOURCE_POLYGON = resolve(
    "Qgis.ProcessingSourceType.VectorPolygon", "QgsProcessing.SourceType.TypeVectorPolygon"
)
SOURCE_RASTER = resolve("Qgis.ProcessingSourceType.Raster", "QgsProcessing.SourceType.TypeRaster")
FIELD_ANY = resolve("Qgis.ProcessingFieldParameterDataType.Any", "QgsProcessingParameterField.DataType.Any")
NUMBER_DOUBLE = resolve(
    "Qgis.ProcessingNumberParameterType.Double", "QgsProcessingParameterNumber.Type.Double"
)
NUMBER_INTEGER = resolve(
    "Qgis.ProcessingNumberParameterType.Integer", "QgsProcessingParameterNumber.Type.Integer"
)
FILE_BEHAVIOR_FILE = resolve(
    "Qgis.ProcessingFileParameterBehavior.File", "QgsProcessingParameterFile.Behavior.File"
)
FILE_BEHAVIOR_FOLDER = resolve(
    "Qgis.ProcessingFileParameterBehavior.Folder", "QgsProcessingParameterFile.Behavior.Folder"
)
DATETIME_DATE = resolve(
    "Qgis.ProcessingDateTimeParameterDataType.Date", "QgsProcessingParameterDateTime.Type.Date"
)
PARAM_ADVANCED = resolve(
    "Qgis.ProcessingParameterFlag.Advanced", "QgsProcessingParameterDefinition.Flag.FlagAdvanced"
)

RASTER_TEMPORAL_FIXED = resolve(
    "Qgis.RasterTemporalMode.FixedTemporalRange",
    "QgsRasterLayerTemporalProperties.TemporalMode.ModeFixedTemporalRange",
)
CRS_WKT_PREFERRED = resolve(
    "Qgis.CrsWktVariant.Preferred", "QgsCoordinateReferenceSystem.WktVariant.WKT_PREFERRED"
)
WKB_MULTIPOLYGON = resolve("Qgis.WkbType.MultiPolygon", "QgsWkbTypes.Type.MultiPolygon")
GEOMETRY_POLYGON = resolve("Qgis.GeometryType.Polygon", "QgsWkbTypes.GeometryType.PolygonGeometry")
LAYER_FILTER_POLYGON = resolve("Qgis.LayerFilter.PolygonLayer", "QgsMapLayerProxyModel.Filter.PolygonLayer")
LAYER_TYPE_RASTER = resolve("Qgis.LayerType.Raster", "QgsMapLayerType.RasterLayer")

VECTOR_WRITER_OK = resolve("QgsVectorFileWriter.WriterError.NoError")
VECTOR_OVERWRITE_FILE = resolve("QgsVectorFileWriter.ActionOnExistingFile.CreateOrOverwriteFile")
RASTER_WRITER_OK = resolve("Qgis.RasterFileWriterResult.Success", "QgsRasterFileWriter.WriterError.NoError")

STRETCH_MIN_MAX = resolve("QgsContrastEnhancement.ContrastEnhancementAlgorithm.StretchToMinimumMaximum")
LIMITS_CUMULATIVE_CUT = resolve(
    "Qgis.RasterRangeLimit.CumulativeCut", "QgsRasterMinMaxOrigin.Limits.CumulativeCut"
)

MSG_INFO = resolve("Qgis.MessageLevel.Info")
MSG_WARNING = resolve("Qgis.MessageLevel.Warning")
MSG_CRITICAL = resolve("Qgis.MessageLevel.Critical")
MSG_SUCCESS = resolve("Qgis.MessageLevel.Success")

TASK_CAN_CANCEL = resolve("QgsTask.Flag.CanCancel")

PROCESS_NOT_RUNNING = resolve("QProcess.ProcessState.NotRunning")
PROCESS_SEPARATE_CHANNELS = resolve("QProcess.ProcessChannelMode.SeparateChannels")


def int_field_type() -> Any:
    """The type for an integer QgsField: QMetaType since QGIS 3.38 (required by Qt6), QVariant before."""
    if QGIS_VERSION_INT >= 33800:
        return _qtcore.QMetaType.Type.Int
    return _qtcore.QVariant.Type.Int


DATATYPE_BYTE = resolve("Qgis.DataType.Byte")
