"""Geo I/O: rasters, vectors, areas of interest, rasterisation and GeoTIFF writing. No torch, no click, no qgis."""
