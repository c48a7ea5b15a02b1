"""Settings of the exemplar engine, with the defaults tuned on the FLAIR pairs (0.2 m)."""

from __future__ import annotations

from dataclasses import dataclass

from geogen.engines.exemplar.bank import CELL
from geogen.errors import EngineError


@dataclass(frozen=True)
class QuiltParams:
    """Image-quilting settings; every size is in pixels of the output (= exemplar) resolution."""

    patch: int = 32
    """Side of a quilted patch (about 6 m at 0.2 m)."""
    overlap: int = 8
    """Width of the strips shared by neighbouring patches, where the seams are cut."""
    stride: int = 8
    """Spacing of candidate source positions in the exemplars (each in 8 orientations)."""
    max_positions: int = 60_000
    """Most candidate positions indexed; larger exemplar sets get a coarser stride."""
    candidates: int = 48
    """Candidates scored in full per patch, after the coarse class-layout ranking or the random draw."""
    tolerance: float = 0.1
    """A patch is drawn at random among candidates whose cost is within this fraction of the best."""
    error_scale: float = 1000.0
    """Mean squared overlap difference (0-255 units) that costs 1."""
    class_weight: float = 5.0
    """Cost of a candidate whose classes disagree with the target everywhere (scaled by the share)."""
    reuse_weight: float = 0.3
    """Cost per earlier use of the same exemplar region, spreading the use of the sources."""
    purity: float = 0.95
    """Share of one class that makes a source patch 'pure' for single-class target patches."""
    min_pool: int = 8
    """Fewer pure source positions than this: single-class patches use the class-layout search too."""
    reuse_limit: float = 2.0
    """When a class's pure sources would each be reused more than this, its closest class is mixed in."""
    refill_sizes: tuple[int, ...] = (16, 8, 4)
    """Window sizes, largest first, used to refill pixels left with the wrong class."""
    colour_amplitude: float = 0.04
    """Relative amplitude of the slow colour modulation (0 turns it off)."""
    colour_scale: int = 96
    """Spacing of the colour modulation's lattice."""
    usage_decay: float = 0.5
    """Factor applied to the reuse counts carried from one window of a tiled run to the next."""

    @property
    def step(self) -> int:
        """Distance between neighbouring patches (patch - overlap)."""
        return self.patch - self.overlap

    def check(self) -> None:
        """Raises EngineError naming the first inconsistent setting."""
        if self.patch <= 0 or self.patch % CELL:
            raise EngineError(f"patch must be a positive multiple of {CELL} px, got {self.patch}")
        if not 0 < self.overlap <= self.patch // 2:
            raise EngineError(f"overlap must lie in 1..patch/2 = {self.patch // 2} px, got {self.overlap}")
        if self.stride <= 0 or self.stride % CELL:
            raise EngineError(f"stride must be a positive multiple of {CELL} px, got {self.stride}")
        if self.max_positions < 1:
            raise EngineError(f"max_positions must be at least 1, got {self.max_positions}")
        if self.candidates < 1:
            raise EngineError(f"candidates must be at least 1, got {self.candidates}")
        if (
            not self.refill_sizes
            or any(s <= 0 for s in self.refill_sizes)
            or list(self.refill_sizes) != sorted(self.refill_sizes, reverse=True)
        ):
            raise EngineError(f"refill_sizes must be positive and decreasing, got {self.refill_sizes}")
        if any(max(self.refill_sizes) % s for s in self.refill_sizes):
            raise EngineError(f"every refill size must divide the largest, got {self.refill_sizes}")
        if self.colour_amplitude < 0 or self.colour_amplitude > 0.5 or self.colour_scale <= 0:
            raise EngineError(
                "colour_amplitude must lie in 0..0.5 and colour_scale be positive, "
                f"got {self.colour_amplitude}, {self.colour_scale}"
            )
        if min(self.tolerance, self.error_scale, self.class_weight, self.reuse_weight, self.usage_decay) < 0:
            raise EngineError(
                "tolerance, error_scale, class_weight, reuse_weight and usage_decay must be >= 0"
            )
        if not 0 < self.purity <= 1 or self.reuse_limit <= 0:
            raise EngineError(
                "purity must lie in (0, 1] and reuse_limit be positive, "
                f"got {self.purity}, {self.reuse_limit}"
            )
