"""Temporal sequences: the same place at several dates, observed frames plus generated ones, as one stack.

Helpers below the diffusion core and the engines (nothing here imports them, a pipeline or a job):
- ``dates``: each frame's acquisition date (read by ``geogen.io.dates``), one frame per date.
- ``clouds``: a frame's cloud fraction from its cloud band, and the ``cloud_max`` filter.
- ``render``: a frame's colours as RGB in [0, 1] (Sentinel-2 true colour, 8-bit imagery as it is).
- ``coregister``: every frame resampled onto one target grid (exact copy when already on it).
- ``grid``: the one grid a sequence is written on, from the area, GSD, output CRS and reference frame.
- ``placement``: where frames lie (output grid, canvas, the one in the other), as the helpers read it.
- ``condition``: a known frame as the 3-D ControlNet reads it (``ConditionFrame``).
- ``known``: dated input frames on a generation canvas, checked against the area and cloud-filtered.
- ``sequence``: the autoregressive plan (order of generation and each step's conditioning frames).
- ``outputs``: one dated frame written as a GeoTIFF, and its entry in the datacube.
- ``datacube``: the whole sequence as a CF NetCDF cube with a time axis.

The models and the generator that draws frames are the ``diffusionsat-3d`` engine's
(``geogen.engines.temporal_controlnet``).
"""
