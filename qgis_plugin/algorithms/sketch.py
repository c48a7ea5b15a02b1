"""Sketch to scene: land-cover polygons (a vector layer and its class field) -> synthetic image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
)

from ..common.compat import FIELD_ANY, SOURCE_POLYGON
from ..common.export import LANDCOVER_LAYER, export_polygons
from ..common.job import RunOptions, relative_to_job, sketch_job
from ._landcover import LANDCOVER_HELP, LandcoverAlgorithm


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

    def build_job(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
        job_dir: Path,
        options: RunOptions,
    ) -> dict[str, Any]:
        source = self.parameterAsSource(parameters, self.INPUT, context)
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.INPUT))
        class_field = self.parameterAsString(parameters, self.CLASS_FIELD, context)
        gpkg = export_polygons(
            source,
            class_field,
            job_dir / "inputs" / "landcover.gpkg",
            context.transformContext(),
            feedback.isCanceled,
        )
        return sketch_job(
            relative_to_job(gpkg, job_dir),
            options,
            class_field=class_field,
            layer=LANDCOVER_LAYER,
            **self.landcover_fields(parameters, context, job_dir),
        )
