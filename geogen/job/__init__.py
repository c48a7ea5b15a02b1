"""geogen.job."""
