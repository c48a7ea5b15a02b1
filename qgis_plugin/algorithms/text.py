"""Text to scene: a prompt, a place, a date and a GSD -> synthetic image over the area."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsProcessingParameterNumber

from ..common.compat import NUMBER_DOUBLE
from ..common.errors import InputError
from ..common.job import text_job
from .base import GeogenAlgorithm
from .request import JobRequest


class TextToSceneAlgorithm(GeogenAlgorithm):
    """geogen:text_to_scene: prompt, area, GSD and date -> synthetic image."""

    TASK = "text"
    NAME = "text_to_scene"
    DISPLAY_NAME = "Text to scene"
    HELP = (
        "<p>Generates a synthetic satellite image from a prompt over the chosen area, at the chosen ground "
        "sampling distance (metres per pixel) and date. The place (the area's centre) and the date condition "
        "metadata-aware models such as DiffusionSat. Needs a diffusion engine with installed weights.</p>"
        "<p><b>Cloud cover</b>: 0-1 (leave empty to let the model choose). <b>Guidance scale</b>: how "
        "strongly the prompt is followed.</p>"
    )
    USES_STEPS = True
    CLOUD_COVER = "CLOUD_COVER"
    GUIDANCE = "GUIDANCE"

    def add_inputs(self) -> None:
        self.add_prompt(optional=False)
        self.add_extent(optional=False)
        self.add_gsd("Ground sampling distance, m/px", 1.0, optional=False)
        self.add_date()
        self.add_fraction(self.CLOUD_COVER, "Cloud cover (0-1)")
        self.add_advanced(
            QgsProcessingParameterNumber(
                self.GUIDANCE, self.tr("Guidance scale"), NUMBER_DOUBLE, defaultValue=7.5, minValue=0
            )
        )

    def build_job(self, request: JobRequest) -> dict[str, Any]:
        aoi = request.area()
        if aoi is None:
            raise InputError("text to scene needs an area of interest")
        return text_job(
            request.string(self.PROMPT),
            aoi,
            request.number(self.GSD),
            request.options,
            date=request.date(),
            cloud_cover=request.optional_number(self.CLOUD_COVER),
            guidance_scale=request.number(self.GUIDANCE),
        )
