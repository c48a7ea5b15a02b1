"""geogen.eval."""
