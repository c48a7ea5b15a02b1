"""Sketch to scene with land-cover ControlNets (Seg2Sat-style) on Stable Diffusion or DiffusionSat bases.

- ``contract``: the engine as the registry lists it (``controlnet``) and its typed options.
- ``models``: resolving and checking base + ControlNet (+ LoRAs) from the model store, and loading them.
- ``conditions``: per-window class maps and their exact palette renderings.
- ``hook``: the ControlNet as a per-window conditioning hook of the latent-window denoiser.
- ``engine``: whole-area (MultiDiffusion) and single-window generation (``ControlNetSketcher``).

Import from the submodules; the package itself imports nothing, so that reading the contract never loads torch.
"""
