"""Temporal sequence: the same place at several dates, as a group of layers the Temporal Controller plays."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ..common.compat import SOURCE_RASTER
from ..common.errors import InputError
from ..common.job import parse_dates, temporal_job
from ..runner.info import kinds_for_field, models_for, models_for_field
from .base import GeogenAlgorithm
from .request import JobRequest


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
        "<p><b>Model</b> is the DiffusionSat model and <b>3-D ControlNet</b> the temporal ControlNet that "
        "generates each frame from known ones; with only the ControlNet chosen, the backend uses the "
        "DiffusionSat model in its folder, else the only one installed.</p>"
    )
    USES_STEPS = True
    INPUTS = "INPUTS"
    SEED_IMAGE = "SEED_IMAGE"
    TARGET_DATES = "TARGET_DATES"
    CLOUD_MAX = "CLOUD_MAX"
    CONTROLNET = "CONTROLNET"

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
        self.add_fraction(self.CLOUD_MAX, "Maximum cloud cover of observed frames (0-1)")
        self.add_prompt()

    def add_models(self, info: dict[str, Any] | None) -> None:
        """The DiffusionSat model (MODEL) and, apart, its 3-D ControlNet (CONTROLNET); which store kinds go
        where comes from the backend (``geogen info --json``)."""
        controlnets = kinds_for_field(info, self.TASK, "options.controlnet")
        self.add_model_choice(
            self.MODEL,
            "Model: DiffusionSat (installed in the backend)",
            models_for(info, self.TASK, exclude_kinds=controlnets),
        )
        self.add_model_choice(
            self.CONTROLNET,
            "3-D (temporal) ControlNet",
            models_for_field(info, self.TASK, "options.controlnet"),
        )

    def build_job(self, request: JobRequest) -> dict[str, Any]:
        dates = parse_dates(request.string(self.TARGET_DATES))
        if not dates:
            raise InputError("give at least one target date (YYYY-MM-DD)")
        inputs = [
            request.exported_raster(layer, f"frame_{i:03d}")
            for i, layer in enumerate(request.layers(self.INPUTS))
        ]
        seed_layer = request.raster(self.SEED_IMAGE)
        return temporal_job(
            dates,
            request.options,
            inputs=inputs,
            seed_image=request.exported_raster(seed_layer, "seed") if seed_layer else None,
            aoi=request.area(),
            gsd=request.optional_number(self.GSD) or None,
            cloud_max=request.optional_number(self.CLOUD_MAX),
            prompt=request.text(self.PROMPT),
            controlnet=request.choice(self.CONTROLNET),
        )
