"""Inputs into the job directory with QGIS's own writers, and QGIS values (CRS, extent) into job fields.

Runs wherever the layer may be read: on the main thread for the dock, inside processAlgorithm for Processing.
"""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransformContext,
    QgsFeature,
    QgsFeatureRequest,
    QgsFeatureSource,
    QgsFields,
    QgsGeometry,
    QgsProviderRegistry,
    QgsRasterFileWriter,
    QgsRasterLayer,
    QgsRasterPipe,
    QgsRectangle,
    QgsVectorFileWriter,
)

from .compat import (
    CRS_WKT_PREFERRED,
    RASTER_WRITER_OK,
    VECTOR_OVERWRITE_FILE,
    VECTOR_WRITER_OK,
    WKB_MULTIPOLYGON,
)
from .errors import InputError
from .job import Area

LANDCOVER_LAYER = "landcover"


def crs_text(crs: QgsCoordinateReferenceSystem) -> str:
    """ "EPSG:n" when the CRS has an EPSG code, else its WKT (what the backend's job spec accepts).

    Raises:
        InputError: the CRS is invalid.
    """
    if not crs.isValid():
        raise InputError("the coordinate reference system is not set or invalid")
    authid = crs.authid()
    if authid.upper().startswith("EPSG:"):
        return authid
    return crs.toWkt(CRS_WKT_PREFERRED)


def area_from_extent(rect: QgsRectangle, crs: QgsCoordinateReferenceSystem) -> Area:
    """The job's area of interest from a QGIS extent in ``crs``.

    Raises:
        InputError: the extent is empty or the CRS invalid.
    """
    if rect is None or rect.isNull() or rect.isEmpty() or not rect.width() > 0 or not rect.height() > 0:
        raise InputError(f"the area of interest is empty: {rect.toString() if rect is not None else None}")
    return Area((rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum()), crs_text(crs))


def export_polygons(
    source: QgsFeatureSource,
    class_field: str,
    path: Path,
    transform_context: QgsCoordinateTransformContext | None = None,
    is_cancelled=None,
) -> Path:
    """Write ``source``'s polygons with their ``class_field`` to a GeoPackage layer named "landcover".

    Raises:
        InputError: the field is missing, the file cannot be written, or there is no polygon to write.
    """
    index = source.fields().lookupField(class_field)
    if index < 0:
        names = ", ".join(source.fields().names())
        raise InputError(f"class field {class_field!r} is not in the layer (fields: {names})")
    fields = QgsFields()
    fields.append(source.fields().at(index))
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.layerName = LANDCOVER_LAYER
    options.fileEncoding = "UTF-8"
    options.actionOnExistingFile = VECTOR_OVERWRITE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = QgsVectorFileWriter.create(
        str(path),
        fields,
        WKB_MULTIPOLYGON,
        source.sourceCrs(),
        transform_context or QgsCoordinateTransformContext(),
        options,
    )
    if writer.hasError() != VECTOR_WRITER_OK:
        message = writer.errorMessage()
        del writer
        raise InputError(f"cannot write {path}: {message}")
    count = 0
    request = QgsFeatureRequest().setSubsetOfAttributes([index])
    for feature in source.getFeatures(request):
        if is_cancelled is not None and is_cancelled():
            break
        if not feature.hasGeometry():
            continue
        geom = QgsGeometry(feature.geometry())
        geom.convertToMultiType()
        geom.get().dropZValue()
        geom.get().dropMValue()
        out = QgsFeature(fields)
        out.setGeometry(geom)
        out.setAttribute(0, feature.attribute(index))
        if not writer.addFeature(out):
            message = writer.errorMessage()
            del writer
            raise InputError(f"cannot write a polygon to {path}: {message}")
        count += 1
    del writer  # closes the file
    if count == 0:
        raise InputError("the land-cover layer has no polygon to export")
    return path


def raster_file(
    layer: QgsRasterLayer,
    job_dir: Path,
    name: str,
    transform_context: QgsCoordinateTransformContext | None = None,
) -> str:
    """A file path the backend can read for ``layer``: its own file when it is one, else a GeoTIFF export.

    Raises:
        InputError: the layer is invalid or cannot be exported (e.g. an online service without a size).
    """
    if layer is None or not layer.isValid():
        raise InputError("the raster layer is missing or invalid")
    if layer.providerType() == "gdal":
        parts = QgsProviderRegistry.instance().decodeUri("gdal", layer.source())
        path = parts.get("path")
        if path and Path(str(path)).is_file() and not parts.get("layerName"):
            return str(Path(str(path)).resolve())
    provider = layer.dataProvider()
    if provider.xSize() <= 0 or provider.ySize() <= 0:
        raise InputError(
            f"layer {layer.name()!r} is not a raster file and has no fixed size; save it as a GeoTIFF first"
        )
    out = job_dir / "inputs" / f"{name}.tif"
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = QgsRasterFileWriter(str(out))
    writer.setOutputFormat("GTiff")
    pipe = QgsRasterPipe()
    if not pipe.set(provider.clone()):
        raise InputError(f"cannot read layer {layer.name()!r} for export")
    err = writer.writeRaster(
        pipe,
        provider.xSize(),
        provider.ySize(),
        provider.extent(),
        provider.crs(),
        transform_context or QgsCoordinateTransformContext(),
    )
    if err != RASTER_WRITER_OK:
        raise InputError(
            f"cannot export layer {layer.name()!r} to {out} (QGIS raster writer error {int(err)})"
        )
    _copy_band_names(layer, out)
    return str(out.resolve())


def band_label(layer: QgsRasterLayer, band: int) -> str:
    """The band's description ("B04"), from QGIS's "Band 04: B04" names; "" when it has none."""
    name = layer.bandName(band)
    return name.split(": ", 1)[1].strip() if ": " in name else ""


def _copy_band_names(layer: QgsRasterLayer, path: Path) -> None:
    """Keep band descriptions on an exported copy (the backend finds Sentinel-2 bands by them)."""
    labels = [band_label(layer, b) for b in range(1, layer.bandCount() + 1)]
    if not any(labels):
        return
    from osgeo import gdal  # QGIS's own GDAL

    ds = gdal.Open(str(path), gdal.GA_Update)
    if ds is None:
        return
    for i, label in enumerate(labels, start=1):
        if label:
            ds.GetRasterBand(i).SetDescription(label)
    ds = None
