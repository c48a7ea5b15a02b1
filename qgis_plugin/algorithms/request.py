"""One run of a geogen algorithm: its parameter values, read as the job needs them, and its job directory.

``GeogenAlgorithm.processAlgorithm`` makes one per run and hands it to the task's ``build_job``, so each
algorithm reads a value in one call and says only what is specific to its task.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qgis.core import (
    QgsCoordinateTransformContext,
    QgsMapLayer,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeatureSource,
    QgsProcessingFeedback,
    QgsRasterLayer,
)

from ..common.export import area_from_extent, raster_file
from ..common.job import Area, RunOptions, relative_to_job

if TYPE_CHECKING:
    from .base import GeogenAlgorithm

DEFAULT_CHOICE = "default"


@dataclass
class JobRequest:
    """The parameter values of one run of ``algorithm`` and the job directory its inputs are exported into."""

    algorithm: GeogenAlgorithm
    parameters: dict[str, Any]
    context: QgsProcessingContext
    feedback: QgsProcessingFeedback
    job_dir: Path

    # --- plain values ---------------------------------------------------------------------------------------
    def given(self, name: str) -> bool:
        """Whether parameter ``name`` has a value (it is neither missing nor empty)."""
        return self.parameters.get(name) not in (None, "")

    def string(self, name: str) -> str:
        """A string parameter ("" when empty)."""
        return self.algorithm.parameterAsString(self.parameters, name, self.context)

    def text(self, name: str) -> str | None:
        """A string parameter, or None when it is empty."""
        return self.string(name) or None

    def number(self, name: str) -> float:
        """A number parameter."""
        return self.algorithm.parameterAsDouble(self.parameters, name, self.context)

    def optional_number(self, name: str) -> float | None:
        """A number parameter, or None when it was left empty."""
        return self.number(name) if self.given(name) else None

    def integer(self, name: str) -> int:
        """An integer parameter."""
        return self.algorithm.parameterAsInt(self.parameters, name, self.context)

    def choice(self, name: str) -> str | None:
        """An enum's chosen string, or None for "default"."""
        value = self.algorithm.parameterAsEnumString(self.parameters, name, self.context)
        return None if not value or value == DEFAULT_CHOICE else value

    def file(self, name: str) -> str:
        """A file or folder parameter ("" when empty)."""
        return self.algorithm.parameterAsFile(self.parameters, name, self.context)

    def date(self) -> dt.date | None:
        """The algorithm's date parameter, or None when it was not given.

        Read through ``parameterAsDateTime``: QGIS 3.22 has no ``parameterAsDate``.
        """
        name = self.algorithm.DATE
        if not self.given(name):
            return None
        q = self.algorithm.parameterAsDateTime(self.parameters, name, self.context).date()
        return dt.date(q.year(), q.month(), q.day()) if q.isValid() else None

    def area(self) -> Area | None:
        """The algorithm's extent parameter as the job's area, or None when it was not given.

        Raises:
            InputError: the extent is empty or its CRS invalid.
        """
        name = self.algorithm.EXTENT
        if not self.given(name):
            return None
        return area_from_extent(
            self.algorithm.parameterAsExtent(self.parameters, name, self.context),
            self.algorithm.parameterAsExtentCrs(self.parameters, name, self.context),
        )

    @cached_property
    def options(self) -> RunOptions:
        """Engine, model, seed and (where the task has them) diffusion steps."""
        alg = self.algorithm
        steps = self.integer(alg.STEPS) if alg.USES_STEPS else 0
        return RunOptions(
            engine=self.choice(alg.ENGINE),
            model=self.choice(alg.MODEL),
            seed=self.integer(alg.SEED),
            steps=steps or None,
            name=alg.TASK,
        )

    # --- layers ---------------------------------------------------------------------------------------------
    def raster(self, name: str) -> QgsRasterLayer | None:
        """A raster layer parameter, or None when it was not given."""
        return self.algorithm.parameterAsRasterLayer(self.parameters, name, self.context)

    def required_raster(self, name: str) -> QgsRasterLayer:
        """A mandatory raster layer parameter; Processing's own error when it cannot be loaded."""
        layer = self.raster(name)
        if layer is None:
            raise QgsProcessingException(self.algorithm.invalidRasterError(self.parameters, name))
        return layer

    def required_source(self, name: str) -> QgsProcessingFeatureSource:
        """A mandatory feature source parameter; Processing's own error when it cannot be loaded."""
        source = self.algorithm.parameterAsSource(self.parameters, name, self.context)
        if source is None:
            raise QgsProcessingException(self.algorithm.invalidSourceError(self.parameters, name))
        return source

    def layers(self, name: str) -> list[QgsMapLayer]:
        """A multiple-layers parameter (empty when none was given)."""
        return self.algorithm.parameterAsLayerList(self.parameters, name, self.context)

    @property
    def transform_context(self) -> QgsCoordinateTransformContext:
        """The project's transform context, for exports."""
        return self.context.transformContext()

    def exported_raster(self, layer: QgsRasterLayer, stem: str) -> str:
        """The job's path to ``layer``: its own file, else its GeoTIFF export ``inputs/<stem>.tif``.

        Raises:
            InputError: the layer is invalid or cannot be exported.
        """
        return relative_to_job(raster_file(layer, self.job_dir, stem, self.transform_context), self.job_dir)
