"""Land-cover raster to scene: a class raster -> synthetic image on its grid's place."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsProcessingParameterRasterLayer

from ..common.job import sketch_job
from ._landcover import LANDCOVER_HELP, LandcoverAlgorithm
from .request import JobRequest


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

    def build_job(self, request: JobRequest) -> dict[str, Any]:
        landcover = request.exported_raster(request.required_raster(self.INPUT), "landcover")
        return sketch_job(landcover, request.options, **self.landcover_fields(request))
