"""Weight-free Sentinel-2 sharpening engines: classical (high-pass modulation, GLP), a scene-trained CNN, bicubic.

- ``contract``: the engine classes "sharpen" (default), "sharpen-cnn" and "bicubic", and ``build_sharpener``.
- ``options``: their typed options.
- ``classical``, ``cnn``: the numerical cores the engine classes delegate to.
- ``scene``: what both cores read from a scene (guide bands, scene statistics, filled holes, windows).
"""
