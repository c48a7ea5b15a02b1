"""geogen.cli."""
