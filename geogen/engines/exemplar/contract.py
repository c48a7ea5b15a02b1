"""The ``exemplar`` sketch engine as the registry lists it: weight-free texture-by-numbers, the sketch default.

It takes no options: its quilting settings (``QuiltParams``) are tuned together with the pipeline's tile size and
overlap (tile borders are cut like patch seams), so they are not exposed one by one. Cheap to import: the
quilting code is imported by the pipeline when a job runs.
"""

from __future__ import annotations

from typing import ClassVar

from geogen.engines.base import ExemplarSketchEngine
from geogen.engines.registry import register_engine


@register_engine
class ExemplarEngine(ExemplarSketchEngine):
    """Texture-by-numbers from example image/class-map pairs (the bundled FLAIR pairs, or the job's own)."""

    name: ClassVar[str] = "exemplar"
    description: ClassVar[str] = "weight-free texture-by-numbers from an example image and its class map"
    default: ClassVar[bool] = True
    seconds_per_window: ClassVar[float | None] = 2.0  # one core, 512 px (bench/results/exemplar.md)
