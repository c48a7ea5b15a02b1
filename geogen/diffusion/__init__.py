"""Diffusion engines' shared core: loading a pipeline folder, denoising over latent windows, tiled decoding.

- ``components``: tokenizer, text encoder, VAE, UNet and DDIM scheduler from a model folder, on a
device/dtype.
- ``latent_tiling``: MultiDiffusion over overlapping latent windows, per-window metadata and conditioning
hooks.
- ``decode``: VAE decoding tile by tile into a streaming mosaic (memory bounded by the tile band).
- ``options``: the options every diffusion engine takes (``DiffusionEngineOptions``) and their plain record.

Import from the submodules; the package itself imports nothing, so that reading options (an engine's
contract) never loads torch.

The text, sketch-ControlNet, super-resolution and temporal engines all run through ``latent_tiling.denoise``;
what differs between them goes in the per-window conditioning hook (see ``latent_tiling.ConditioningHook``).
"""
