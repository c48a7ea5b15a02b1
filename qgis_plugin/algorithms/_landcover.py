"""Parameters shared by the two land-cover -> scene algorithms (polygons or a class raster)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import QgsProcessingParameterFile, QgsProcessingParameterRasterLayer

from ..common.compat import FILE_BEHAVIOR_FILE
from ..common.errors import InputError
from .base import GeogenAlgorithm
from .request import JobRequest

LANDCOVER_HELP = (
    "<p>Classes are FLAIR-1 codes (1 building ... 19 other) unless a <b>class mapping</b> JSON file maps "
    "your values to FLAIR-1 class names or codes, e.g. "
    '<code>{"1": "agricultural land", "2": "deciduous"}</code>. '
    "The weight-free <b>exemplar</b> engine synthesises texture from an example image and its class map "
    "(the backend's bundled example unless you give one); diffusion engines need installed weights.</p>"
    "<p><b>GSD</b>: metres per pixel of the output (0 = the engine's default). <b>Date</b> and <b>prompt</b> "
    "condition the diffusion engines.</p>"
)


class LandcoverAlgorithm(GeogenAlgorithm):
    """Mapping, area, GSD, date, prompt and optional exemplar, common to both land-cover algorithms."""

    TASK = "sketch"
    USES_STEPS = True
    MAPPING = "MAPPING"
    EXEMPLAR_IMAGE = "EXEMPLAR_IMAGE"
    EXEMPLAR_MASK = "EXEMPLAR_MASK"

    def add_landcover_options(self) -> None:
        self.addParameter(
            QgsProcessingParameterFile(
                self.MAPPING,
                self.tr("Class mapping (JSON: your value -> FLAIR-1 class)"),
                FILE_BEHAVIOR_FILE,
                extension="json",
                optional=True,
            )
        )
        self.add_extent(optional=True, description="Area of interest (default: the whole land-cover layer)")
        self.add_gsd("Ground sampling distance, m/px (0 = engine default)", 0.0)
        self.add_date()
        self.add_prompt()
        for name, label in (
            (self.EXEMPLAR_IMAGE, "Exemplar image (exemplar engine; optional)"),
            (self.EXEMPLAR_MASK, "Exemplar class map (same grid as the exemplar image)"),
        ):
            self.add_advanced(QgsProcessingParameterRasterLayer(name, self.tr(label), optional=True))

    def landcover_fields(self, request: JobRequest) -> dict[str, Any]:
        """mapping, aoi, gsd, date, prompt and exemplar as sketch_job keyword arguments.

        Raises:
            InputError: only one of the two exemplar rasters was given.
        """
        mapping = request.file(self.MAPPING)
        image = request.raster(self.EXEMPLAR_IMAGE)
        mask = request.raster(self.EXEMPLAR_MASK)
        if (image is None) != (mask is None):
            raise InputError("an exemplar needs both its image and its class map")
        exemplar = None
        if image is not None:
            exemplar = (
                request.exported_raster(image, "exemplar_image"),
                request.exported_raster(mask, "exemplar_mask"),
            )
        return {
            "mapping": str(Path(mapping).resolve()) if mapping else None,
            "aoi": request.area(),
            "gsd": request.optional_number(self.GSD) or None,
            "date": request.date(),
            "prompt": request.text(self.PROMPT),
            "exemplar": exemplar,
        }
