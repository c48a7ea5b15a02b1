"""Where a sequence's frames lie: the grid written out, the larger canvas frames are drawn on, and the one's
window in the other.

A ``geogen.diffusion.layout.LatentLayout`` is one (its canvas is a whole number of latent windows); a stack
that generates nothing uses its grid as the canvas. The temporal helpers read only these three facts, so they
do not depend on the diffusion core.
"""

from __future__ import annotations

from typing import Protocol

from tiles import Grid, Window


class Placement(Protocol):
    """The output grid, the canvas that covers it, and the output grid's pixels inside the canvas."""

    @property
    def grid(self) -> Grid: ...

    @property
    def canvas(self) -> Grid: ...

    @property
    def output_window(self) -> Window: ...
