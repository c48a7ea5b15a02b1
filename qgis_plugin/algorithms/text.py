"""Text to scene: a prompt, a place, a date and a GSD -> synthetic image over the area."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProcessingParameterNumber

from ..common.compat import NUMBER_DOUBLE, PARAM_ADVANCED
from ..common.errors import InputError
from ..common.job import RunOptions, text_job
from .base import GeogenAlgorithm


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
        self.addParameter(
            QgsProcessingParameterNumber(
                self.CLOUD_COVER,
                self.tr("Cloud cover (0-1)"),
                NUMBER_DOUBLE,
                defaultValue=None,
                optional=True,
                minValue=0,
                maxValue=1,
            )
        )
        guidance = QgsProcessingParameterNumber(
            self.GUIDANCE, self.tr("Guidance scale"), NUMBER_DOUBLE, defaultValue=7.5, minValue=0
        )
        guidance.setFlags(guidance.flags() | PARAM_ADVANCED)
        self.addParameter(guidance)

    def build_job(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
        job_dir: Path,
        options: RunOptions,
    ) -> dict[str, Any]:
        aoi = self.area(parameters, context)
        if aoi is None:
            raise InputError("text to scene needs an area of interest")
        return text_job(
            self.parameterAsString(parameters, self.PROMPT, context),
            aoi,
            self.parameterAsDouble(parameters, self.GSD, context),
            options,
            date=self.date(parameters, context),
            cloud_cover=self.optional_number(parameters, self.CLOUD_COVER, context),
            guidance_scale=self.parameterAsDouble(parameters, self.GUIDANCE, context),
        )
