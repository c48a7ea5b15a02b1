# What type checkers and IDEs see of the package root; at run time __init__.py loads these names on first use.
from geogen.api import CancelToken as CancelToken
from geogen.api import Result as Result
from geogen.api import run as run
from geogen.api import sketch as sketch
from geogen.api import superres as superres
from geogen.api import temporal as temporal
from geogen.api import text as text
from geogen.engines.base import ClassRenderEngine as ClassRenderEngine
from geogen.engines.base import ClassWindow as ClassWindow
from geogen.engines.base import ControlNetSketchEngine as ControlNetSketchEngine
from geogen.engines.base import DiffusionSREngine as DiffusionSREngine
from geogen.engines.base import Engine as Engine
from geogen.engines.base import EngineOptions as EngineOptions
from geogen.engines.base import ExemplarSketchEngine as ExemplarSketchEngine
from geogen.engines.base import SharpenEngine as SharpenEngine
from geogen.engines.base import TemporalDiffusionEngine as TemporalDiffusionEngine
from geogen.engines.base import TemporalSREngine as TemporalSREngine
from geogen.engines.base import TextDiffusionEngine as TextDiffusionEngine
from geogen.engines.registry import get_engine as get_engine
from geogen.engines.registry import list_engines as list_engines
from geogen.engines.registry import register_engine as register_engine
from geogen.errors import GeogenError as GeogenError
from geogen.xarray_api import sharpen_xarray as sharpen_xarray

__version__: str
__all__: list[str]
