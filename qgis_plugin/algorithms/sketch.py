"""Sketch to scene: land-cover polygons (a vector layer and its class field) -> synthetic image."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsProcessingParameterFeatureSource, QgsProcessingParameterField

from ..common.compat import FIELD_ANY, SOURCE_POLYGON
from ..common.export import LANDCOVER_LAYER, export_polygons
from ..common.job import relative_to_job, sketch_job
from ._landcover import LANDCOVER_HELP, LandcoverAlgorithm
from .request import JobRequest


class SketchToSceneAlgorithm(LandcoverAlgorithm):
    """geogen:sketch_to_scene: land-cover polygons and their class field -> synthetic image."""

    NAME = "sketch_to_scene"
    DISPLAY_NAME = "Sketch to scene (land-cover polygons)"
    HELP = (
        "<p>Turns land-cover polygons into a realistic synthetic image of the same place, georeferenced "
        "where they are drawn. Pick the polygon layer and the field holding each polygon's class; the "
        "polygons are exported to a GeoPackage in the job directory (selected features only when "
        "'Selected features only' is ticked).</p>" + LANDCOVER_HELP
    )
    INPUT = "INPUT"
    CLASS_FIELD = "CLASS_FIELD"

    def add_inputs(self) -> None:
        self.addParameter(
            QgsProcessingParameterFeatureSource(self.INPUT, self.tr("Land-cover polygons"), [SOURCE_POLYGON])
        )
        self.addParameter(
            QgsProcessingParameterField(
                self.CLASS_FIELD, self.tr("Class field"), parentLayerParameterName=self.INPUT, type=FIELD_ANY
            )
        )
        self.add_landcover_options()

    def build_job(self, request: JobRequest) -> dict[str, Any]:
        source = request.required_source(self.INPUT)
        class_field = request.string(self.CLASS_FIELD)
        gpkg = export_polygons(
            source,
            class_field,
            request.job_dir / "inputs" / "landcover.gpkg",
            request.transform_context,
            request.feedback.isCanceled,
        )
        return sketch_job(
            relative_to_job(gpkg, request.job_dir),
            request.options,
            class_field=class_field,
            layer=LANDCOVER_LAYER,
            **self.landcover_fields(request),
        )
