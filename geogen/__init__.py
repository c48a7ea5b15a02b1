"""geogen: georeferenced generative satellite imagery for GIS analysts."""

__version__ = "0.1.0"
