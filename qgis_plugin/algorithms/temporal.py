"""Temporal sequence: the same place at several dates, as a group of layers the Temporal Controller plays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ..common.compat import NUMBER_DOUBLE, SOURCE_RASTER
from ..common.errors import InputError
from ..common.export import raster_file
from ..common.job import RunOptions, parse_dates, relative_to_job, temporal_job
from .base import GeogenAlgorithm


class TemporalSequenceAlgorithm(GeogenAlgorithm):
    """geogen:temporal_sequence: observed frames and/or a seed image -> frames at the target dates."""

    TASK = "temporal"
    NAME = "temporal_sequence"
    DISPLAY_NAME = "Temporal sequence"
    HELP = (
        "<p>Builds the same place at several dates: observed frames (<b>input rasters</b>, dated by their "
        "metadata) and/or a <b>seed image</b> condition the generation of frames at the <b>target dates</b> "
        "(ISO dates separated by commas, e.g. <code>2020-03-01, 2020-06-01</code>).</p>"
        "<p>Each output is added as a layer with a fixed temporal range for its day, all in one group: "
        "open the Temporal Controller to play them.</p>"
    )
    USES_STEPS = True
    INPUTS = "INPUTS"
    SEED_IMAGE = "SEED_IMAGE"
    TARGET_DATES = "TARGET_DATES"
    CLOUD_MAX = "CLOUD_MAX"

    def add_inputs(self) -> None:
        self.addParameter(
            QgsProcessingParameterMultipleLayers(
                self.INPUTS, self.tr("Observed rasters (time series)"), SOURCE_RASTER, optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterLayer(self.SEED_IMAGE, self.tr("Seed image"), optional=True)
        )
        self.addParameter(
            QgsProcessingParameterString(
                self.TARGET_DATES, self.tr("Target dates (YYYY-MM-DD, comma-separated)")
            )
        )
        self.add_extent(optional=True)
        self.add_gsd("Ground sampling distance, m/px (0 = input's)", 0.0)
        self.addParameter(
            QgsProcessingParameterNumber(
                self.CLOUD_MAX,
                self.tr("Maximum cloud cover of observed frames (0-1)"),
                NUMBER_DOUBLE,
                defaultValue=None,
                optional=True,
                minValue=0,
                maxValue=1,
            )
        )
        self.add_prompt()

    def build_job(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
        job_dir: Path,
        options: RunOptions,
    ) -> dict[str, Any]:
        dates = parse_dates(self.parameterAsString(parameters, self.TARGET_DATES, context))
        if not dates:
            raise InputError("give at least one target date (YYYY-MM-DD)")
        tc = context.transformContext()
        inputs = [
            relative_to_job(raster_file(layer, job_dir, f"frame_{i:03d}", tc), job_dir)
            for i, layer in enumerate(self.parameterAsLayerList(parameters, self.INPUTS, context))
        ]
        seed_layer = self.parameterAsRasterLayer(parameters, self.SEED_IMAGE, context)
        seed = relative_to_job(raster_file(seed_layer, job_dir, "seed", tc), job_dir) if seed_layer else None
        return temporal_job(
            dates,
            options,
            inputs=inputs,
            seed_image=seed,
            aoi=self.area(parameters, context),
            gsd=self.optional_number(parameters, self.GSD, context) or None,
            cloud_max=self.optional_number(parameters, self.CLOUD_MAX, context),
            prompt=self.parameterAsString(parameters, self.PROMPT, context) or None,
        )
