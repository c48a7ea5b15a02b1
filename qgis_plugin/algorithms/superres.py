"""Super-resolve Sentinel-2: 20 m and 60 m bands (or all bands) to a finer grid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ..common.compat import FILE_BEHAVIOR_FOLDER, NUMBER_DOUBLE
from ..common.errors import InputError
from ..common.job import superres_job
from .base import GeogenAlgorithm
from .request import JobRequest


class SuperResolveS2Algorithm(GeogenAlgorithm):
    """geogen:superresolve_s2: a Sentinel-2 raster layer or folder -> its bands on a finer grid."""

    TASK = "superres"
    NAME = "superresolve_s2"
    DISPLAY_NAME = "Super-resolve Sentinel-2"
    HELP = (
        "<p>Brings Sentinel-2 bands to a finer grid. The default weight-free <b>sharpen</b> engine sharpens "
        "the 20 m and 60 m bands to 10 m guided by the 10 m bands; diffusion engines go finer with installed "
        "weights.</p><p><b>Input</b>: a multi-band Sentinel-2 raster whose bands are described B01...B12 "
        "(or B02, B03...), <i>or</i> a folder (one GeoTIFF per band, a .SAFE folder). <b>Bands</b>: "
        "comma-separated bands to output, e.g. <code>B02,B03,B04,B8A</code> (default: all). <b>Target "
        "GSD</b>: output pixel size in metres.</p><p>The output keeps the input's CRS and place; true colour "
        "(B04/B03/B02) is shown.</p>"
    )
    INPUT = "INPUT"
    INPUT_FOLDER = "INPUT_FOLDER"
    TARGET_GSD = "TARGET_GSD"
    BANDS = "BANDS"

    def add_inputs(self) -> None:
        self.addParameter(
            QgsProcessingParameterRasterLayer(
                self.INPUT, self.tr("Sentinel-2 raster (multi-band)"), optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                self.INPUT_FOLDER,
                self.tr("...or a Sentinel-2 folder (band GeoTIFFs, .SAFE)"),
                FILE_BEHAVIOR_FOLDER,
                optional=True,
            )
        )
        self.add_extent(optional=True, description="Area of interest (default: the whole input)")
        self.addParameter(
            QgsProcessingParameterNumber(
                self.TARGET_GSD, self.tr("Target GSD, m/px"), NUMBER_DOUBLE, defaultValue=10.0, minValue=0
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                self.BANDS, self.tr("Bands to output (comma-separated; default all)"), optional=True
            )
        )

    def build_job(self, request: JobRequest) -> dict[str, Any]:
        layer = request.raster(self.INPUT)
        folder = request.file(self.INPUT_FOLDER)
        if (layer is None) == (not folder):
            raise InputError("give either a Sentinel-2 raster layer or a Sentinel-2 folder (exactly one)")
        source = request.exported_raster(layer, "s2") if layer is not None else str(Path(folder).resolve())
        bands_text = request.string(self.BANDS)
        bands = (
            [b.strip() for b in bands_text.replace(";", ",").split(",") if b.strip()] if bands_text else None
        )
        return superres_job(
            source,
            request.options,
            aoi=request.area(),
            target_gsd=request.optional_number(self.TARGET_GSD) or None,
            bands=bands,
        )
