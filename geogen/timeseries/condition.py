"""A known frame as the 3-D ControlNet reads it: its date, colours on the canvas, valid mask and cloud cover.

The generator (``geogen.engines.temporal_controlnet.generator``) takes these; the frame readers
(``geogen.timeseries.known``) and the pipelines make them, without depending on the generator.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ConditionFrame:
    """A known frame on the generated canvas: date, colours, valid mask, cloud cover (None: unknown)."""

    date: dt.date
    rgb: np.ndarray
    valid: np.ndarray | None = None
    cloud_cover: float | None = None
