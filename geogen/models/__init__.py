"""geogen.models."""
