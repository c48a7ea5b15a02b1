"""geogen: georeferenced generative satellite imagery for GIS analysts.

The Python API, library first (the ``geogen`` command is a thin wrapper over it)::

    import geogen

    result = geogen.superres("S2_scene/", "sharp.tif")  # every band to 10 m, no weights needed
    print(result.paths, result.warnings)

``superres``, ``sketch``, ``text`` and ``temporal`` run one task each, ``run`` runs any job (a dict or a job
file); each returns a ``Result``. ``sharpen_xarray`` sharpens Sentinel-2 bands held in xarray (numpy or
dask) and returns a DataArray. Engines are registered classes (``register_engine``, ``get_engine``,
``list_engines``) deriving from one of the engine families (``SharpenEngine``, ``ClassRenderEngine``...).
Every error geogen raises on purpose is a ``GeogenError``.

Importing geogen is cheap: its names are loaded on first use, so ``import geogen`` imports neither
numpy, rasterio nor torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> the module that defines it (loaded on first access). Type checkers read __init__.pyi, which
# declares the same names (a test keeps the two in step), as lazy-loading packages do (Scientific Python SPEC 1).
_LAZY: dict[str, str] = {
    "run": "geogen.api",
    "superres": "geogen.api",
    "sketch": "geogen.api",
    "text": "geogen.api",
    "temporal": "geogen.api",
    "Result": "geogen.api",
    "CancelToken": "geogen.api",
    "sharpen_xarray": "geogen.xarray_api",
    "GeogenError": "geogen.errors",
    "register_engine": "geogen.engines.registry",
    "get_engine": "geogen.engines.registry",
    "list_engines": "geogen.engines.registry",
    "Engine": "geogen.engines.base",
    "EngineOptions": "geogen.engines.base",
    "SharpenEngine": "geogen.engines.base",
    "DiffusionSREngine": "geogen.engines.base",
    "TemporalSREngine": "geogen.engines.base",
    "ClassRenderEngine": "geogen.engines.base",
    "ClassWindow": "geogen.engines.base",
    "ExemplarSketchEngine": "geogen.engines.base",
    "ControlNetSketchEngine": "geogen.engines.base",
    "TextDiffusionEngine": "geogen.engines.base",
    "TemporalDiffusionEngine": "geogen.engines.base",
}

__all__ = [
    "CancelToken",
    "ClassRenderEngine",
    "ClassWindow",
    "ControlNetSketchEngine",
    "DiffusionSREngine",
    "Engine",
    "EngineOptions",
    "ExemplarSketchEngine",
    "GeogenError",
    "Result",
    "SharpenEngine",
    "TemporalDiffusionEngine",
    "TemporalSREngine",
    "TextDiffusionEngine",
    "__version__",
    "get_engine",
    "list_engines",
    "register_engine",
    "run",
    "sharpen_xarray",
    "sketch",
    "superres",
    "temporal",
    "text",
]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first access (PEP 562), then keep it here.

    Raises:
        AttributeError: ``name`` is not one of geogen's public names.
    """
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'geogen' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the lazily loaded ones included."""
    return sorted(set(globals()) | set(_LAZY))
