"""The tiny DiffusionSat builders, now in ``tests.tiny_models``; kept for the importers not yet moved there
(tests/temporal and bench/bench_temporal.py). New code imports ``tests.tiny_models``."""

from __future__ import annotations

from tests.tiny_models import build_tiny_diffusionsat, randomize_

__all__ = ["build_tiny_diffusionsat", "randomize_"]
