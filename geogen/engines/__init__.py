"""geogen.engines."""
