"""Diffusion engines' shared core: loading a pipeline folder, denoising over latent windows, tiled decoding.

- ``components``: tokenizer, text encoder, VAE, UNet and DDIM scheduler from a model folder, on a
device/dtype.
- ``latent_tiling``: MultiDiffusion over overlapping latent windows, per-window metadata and conditioning
hooks.
- ``decode``: VAE decoding tile by tile into a streaming mosaic (memory bounded by the tile band).

The text, sketch-ControlNet, super-resolution and temporal engines all run through ``latent_tiling.denoise``;
what differs between them goes in the per-window conditioning hook (see ``latent_tiling.ConditioningHook``).
"""

from geogen.engines.diffusion.components import (
    DiffusionComponents,
    load_components,
    select_device,
    select_dtype,
)
from geogen.engines.diffusion.control import ControlNetHook
from geogen.engines.diffusion.decode import DecodeStats, decode_latents
from geogen.engines.diffusion.latent_tiling import (
    ConditioningHook,
    LatentWindow,
    TextConditioning,
    UNetCall,
    denoise,
    initial_noise,
    plan_windows,
)

__all__ = [
    "ConditioningHook",
    "ControlNetHook",
    "DecodeStats",
    "DiffusionComponents",
    "LatentWindow",
    "TextConditioning",
    "UNetCall",
    "decode_latents",
    "denoise",
    "initial_noise",
    "load_components",
    "plan_windows",
    "select_device",
    "select_dtype",
]
