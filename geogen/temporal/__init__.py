"""Temporal sequences: the same place at several dates, observed frames plus generated ones, as one stack.

- ``dates``: each input's acquisition date (given, file tags, an earlier job's result.json, the file name).
- ``clouds``: a frame's cloud fraction from its cloud band, and the ``cloud_max`` filter.
- ``render``: a frame's colours as RGB in [0, 1] (Sentinel-2 true colour, 8-bit imagery as it is).
- ``coregister``: every frame resampled onto one target grid (exact copy when already on it).
- ``known``: dated input frames on a generation canvas, checked against the area and cloud-filtered.
- ``generation``: resolved models made into a ready ``TemporalGenerator`` (layout, cost, loading, records),
  shared by the temporal pipeline and multi-date super-resolution (``geogen.engines.sr_temporal``).
- ``sequence``: the autoregressive plan (order of generation and each step's conditioning frames).
- ``datacube``: the whole sequence as a CF NetCDF cube with a time axis.
"""
