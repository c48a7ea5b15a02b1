"""The weight-free superres engines "sharpen" (default), "sharpen-cnn" and "bicubic" on the engine contract.

Each engine class holds its typed options and delegates ``fit`` / ``sharpen`` to its numerical core
(``classical.ClassicalSharpener`` or ``cnn.CNNSharpener``), built on first use: importing this module loads
neither scipy nor torch. ``build_sharpener(name, options, seed)`` builds one from a name and an options mapping
through the registry, for callers outside a job (Wald's protocol, the bench).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from geogen.engines.base import EngineOptions, Progress, SharpenEngine, SharpenOptions
from geogen.engines.registry import get_engine, register_engine
from geogen.engines.sharpen.options import ClassicalOptions, CNNOptions
from geogen.errors import EngineError

if TYPE_CHECKING:
    import numpy as np

    from geogen.engines.sharpen.classical import ClassicalSharpener
    from geogen.io.sentinel2 import S2Stack
    from tiles import Window


class _DelegatingSharpenEngine(SharpenEngine):
    """A sharpening engine whose work is done by a ``ClassicalSharpener`` (or subclass) built from its options."""

    uses_seed: ClassVar[bool] = False

    @abstractmethod
    def _build(self) -> ClassicalSharpener:
        """The numerical core configured from ``self.options`` (and ``self.seed``)."""

    @cached_property
    def sharpener(self) -> ClassicalSharpener:
        """The numerical core; ``fit`` state (scene statistics, a trained network) lives here."""
        return self._build()

    def fit(self, stack: S2Stack, bands: Sequence[str], progress: Progress | None = None) -> None:
        """Scene-wide statistics (and, for the CNN, its training) before any window."""
        self.sharpener.fit(stack, bands, progress)

    def sharpen(self, stack: S2Stack, window: Window, bands: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Reflectance (bands, h, w) float32 of ``window`` and its validity; the halo is read internally."""
        return self.sharpener.sharpen(stack, window, bands)

    def halo(self, factor: int) -> int:
        """Fine pixels of context a window of a band ``factor`` times coarser needs (see ``sharpen``)."""
        return self.sharpener.halo(factor)


@register_engine
class ClassicalSharpenEngine(_DelegatingSharpenEngine):
    """High-pass modulation guided by the 10 m bands, then a soft consistency projection."""

    name: ClassVar[str] = "sharpen"
    description: ClassVar[str] = (
        "weight-free Sentinel-2 sharpening of 20/60 m bands to 10 m (high-pass modulation guided by the "
        "10 m bands)"
    )
    options_model: ClassVar[type[EngineOptions]] = ClassicalOptions
    default: ClassVar[bool] = True
    # one 1024 x 1024 window on one core, all 12 bands (bench/results/sharpen.md)
    seconds_per_window: ClassVar[float | None] = 1.0

    options: ClassicalOptions

    def _build(self) -> ClassicalSharpener:
        from geogen.engines.sharpen.classical import ClassicalSharpener

        opts = self.options
        return ClassicalSharpener(opts.method, opts.consistency, opts.consistency_reg)


@register_engine
class CNNSharpenEngine(_DelegatingSharpenEngine):
    """The classical result refined by a small CNN trained on the scene itself, one scale down."""

    name: ClassVar[str] = "sharpen-cnn"
    description: ClassVar[str] = "small CNN trained on the scene itself (Wald protocol); slower, sharper"
    options_model: ClassVar[type[EngineOptions]] = CNNOptions
    uses_seed: ClassVar[bool] = True
    # per 1024 x 1024 window on one core; the training adds ~2 min once (bench/results/sharpen.md)
    seconds_per_window: ClassVar[float | None] = 20.0
    options: CNNOptions

    def _build(self) -> ClassicalSharpener:
        from geogen.engines.sharpen.cnn import CNNSharpener

        return CNNSharpener(self.options, seed=self.seed)


@register_engine
class BicubicEngine(_DelegatingSharpenEngine):
    """Bicubic interpolation only: the floor every sharpening method must beat."""

    name: ClassVar[str] = "bicubic"
    description: ClassVar[str] = "bicubic interpolation of 20/60 m bands (baseline)"
    options_model: ClassVar[type[EngineOptions]] = SharpenOptions
    seconds_per_window: ClassVar[float | None] = 0.2

    def _build(self) -> ClassicalSharpener:
        from geogen.engines.sharpen.classical import ClassicalSharpener

        return ClassicalSharpener("bicubic", consistency=False)


def build_sharpener(name: str, options: Mapping[str, Any] | None = None, seed: int = 0) -> SharpenEngine:
    """The registered sharpening engine ``name`` (or alias), its options checked by its options model.

    Raises:
        EngineError: no superres engine of that name, or one that is not a sharpening engine.
        OptionsError: an unknown option or a bad value (``options.<key>: ...``).
    """
    cls = get_engine("superres", name)
    if not issubclass(cls, SharpenEngine):
        raise EngineError(
            f"superres engine {cls.name!r} is not a sharpening engine (it does not derive from SharpenEngine)"
        )
    return cls(cls.parse_options(options), seed=seed)
