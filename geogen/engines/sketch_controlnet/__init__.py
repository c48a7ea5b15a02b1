"""Sketch to scene with land-cover ControlNets (Seg2Sat-style) on Stable Diffusion or DiffusionSat bases.

- ``options``: the job options this engine reads (ControlNet, guidance, ControlNet scale, scheduler).
- ``models``: resolving and checking base + ControlNet (+ LoRAs) from the model store, and loading them.
- ``conditions``: per-window class maps and their exact palette renderings.
- ``hook``: the ControlNet as a per-window conditioning hook of the latent-window denoiser.
- ``engine``: whole-area (MultiDiffusion) and single-window generation.
"""

from geogen.engines.sketch_controlnet.conditions import WindowConditions
from geogen.engines.sketch_controlnet.engine import (
    AreaResult,
    ControlNetSketchEngine,
    SketchSettings,
    make_scheduler,
)
from geogen.engines.sketch_controlnet.hook import LandCoverControlHook
from geogen.engines.sketch_controlnet.models import (
    SketchModels,
    check_pair,
    load_sketch_models,
    resolve_models,
)
from geogen.engines.sketch_controlnet.options import ControlNetOptions, parse_controlnet_options

__all__ = [
    "AreaResult",
    "ControlNetOptions",
    "ControlNetSketchEngine",
    "LandCoverControlHook",
    "SketchModels",
    "SketchSettings",
    "WindowConditions",
    "check_pair",
    "load_sketch_models",
    "make_scheduler",
    "parse_controlnet_options",
    "resolve_models",
]
