"""Land-cover raster to scene: a class raster -> synthetic image on its grid's place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterRasterLayer,
)

from ..common.export import raster_file
from ..common.job import RunOptions, relative_to_job, sketch_job
from ._landcover import LANDCOVER_HELP, LandcoverAlgorithm


class LandcoverRasterToSceneAlgorithm(LandcoverAlgorithm):
    """geogen:landcover_raster_to_scene: a class raster (its pixels are classes) -> synthetic image."""

    NAME = "landcover_raster_to_scene"
    DISPLAY_NAME = "Land-cover raster to scene"
    HELP = (
        "<p>Turns a land-cover (class) raster into a realistic synthetic image of the same place. The "
        "raster's pixel values are its classes; file-backed rasters are read in place, others are exported "
        "to a GeoTIFF in the job directory.</p>" + LANDCOVER_HELP
    )
    INPUT = "INPUT"

    def add_inputs(self) -> None:
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Land-cover raster")))
        self.add_landcover_options()

    def build_job(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
        job_dir: Path,
        options: RunOptions,
    ) -> dict[str, Any]:
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is None:
            raise QgsProcessingException(self.invalidRasterError(parameters, self.INPUT))
        path = raster_file(layer, job_dir, "landcover", context.transformContext())
        return sketch_job(
            relative_to_job(path, job_dir), options, **self.landcover_fields(parameters, context, job_dir)
        )
