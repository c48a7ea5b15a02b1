"""Superres engine "diffusionsat-3d": one finer image of a date from Sentinel-2 frames of several dates."""
