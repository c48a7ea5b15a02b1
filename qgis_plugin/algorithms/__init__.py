"""One Processing algorithm per backend task; each builds a job directory and runs the backend on it."""

from .landcover_raster import LandcoverRasterToSceneAlgorithm
from .sketch import SketchToSceneAlgorithm
from .superres import SuperResolveS2Algorithm
from .temporal import TemporalSequenceAlgorithm
from .text import TextToSceneAlgorithm

ALGORITHMS = (
    SketchToSceneAlgorithm,
    LandcoverRasterToSceneAlgorithm,
    TextToSceneAlgorithm,
    SuperResolveS2Algorithm,
    TemporalSequenceAlgorithm,
)

__all__ = ["ALGORITHMS"]
