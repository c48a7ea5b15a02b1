"""The engine contract: what every engine declares, and the families that tell a pipeline how to drive it.

Every engine declares its task, name, options model and the model kinds it accepts.

An engine class is registered once (``geogen.engines.registry.register_engine``) and is then reachable by its
``(task, name)`` from the CLI, the job runner, the Python API, ``geogen info`` and the QGIS plugin. Its module
must stay cheap to import (heavy libraries such as torch are imported inside methods), so that listing engines
and checking options never loads a model.

A task's pipeline (``geogen.pipelines``) picks its orchestration by the engine's *family*, the base class the
engine derives from, never by comparing names. Two families are open to third parties:

- ``SharpenEngine`` (superres): fit on the scene, then sharpen window by window; the pipeline plans the windows,
  reads them with the engine's halo, writes the uint16 GeoTIFF and reprojects.
- ``ClassRenderEngine`` (sketch): turn a window of land-cover class codes into RGB; the pipeline rasterises the
  drawing, plans overlapping windows, blends them into the streaming mosaic and writes RGB + alpha.

The diffusion engines have families of their own, each driven by one pipeline module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field, ValidationError

from geogen.errors import OptionsError
from geogen.options import EngineOptions
from geogen.options import describe_error as _describe

if TYPE_CHECKING:
    from geogen.io.sentinel2 import S2Stack
    from tiles import Grid, Window

Progress = Callable[[int, int], None]


class Engine(ABC):
    """One way of doing one task: metadata, typed options and (in subclasses) the code that makes pixels.

    Class attributes:
        task: the task it serves ("superres", "sketch", "text", "temporal").
        name: unique within the task; the same string in tags, result.json, ``geogen info`` and the plugin.
        aliases: former names still accepted on input (job files, ``--engine``); never written out.
        description: one sentence for ``geogen info`` and the plugin.
        options_model: the pydantic model of its ``options`` (a subclass of ``EngineOptions``).
        model_kinds: model-store kinds it accepts as the job's ``model``; empty for weight-free engines.
        field_model_kinds: other job fields that name models, with the kinds each accepts (e.g.
            ``{"options.controlnet": ("controlnet",), "loras": ("lora",)}``).
        default: the task's engine when none is named (one per task).
        experimental: shown as such in listings.
        seconds_per_window: rough CPU seconds per window, for the size check before work (None: unknown).
        uses_seed: the engine draws random numbers, so the job's seed belongs in its provenance tags.
        model_optional: a weights engine that may run without ``model`` in some jobs (the pipeline then says
            what is missing, e.g. a temporal job whose dates are all observed).
    """

    task: ClassVar[str]
    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    options_model: ClassVar[type[EngineOptions]] = EngineOptions
    model_kinds: ClassVar[tuple[str, ...]] = ()
    field_model_kinds: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    default: ClassVar[bool] = False
    experimental: ClassVar[bool] = False
    seconds_per_window: ClassVar[float | None] = None
    model_optional: ClassVar[bool] = False
    uses_seed: ClassVar[bool] = True

    def __init__(self, options: EngineOptions | None = None, *, seed: int = 0) -> None:
        """An engine configured by validated ``options`` (its defaults when None) for a job's ``seed``."""
        self.options = options if options is not None else self.parse_options({})
        self.seed = seed

    @classmethod
    def needs_weights(cls) -> bool:
        """True when the engine runs installed model weights (it accepts at least one model kind)."""
        return bool(cls.model_kinds)

    @classmethod
    def model_uses(cls) -> list[tuple[str, str]]:
        """``(field, kind)`` for every job field that names a model and every store kind it accepts."""
        return [("model", k) for k in cls.model_kinds] + [
            (field, k) for field, kinds in cls.field_model_kinds.items() for k in kinds
        ]

    @classmethod
    def parse_options(cls, options: Mapping[str, Any] | None) -> Any:
        """``options`` validated by the engine's options model.

        Raises:
            OptionsError: unknown keys (the message lists the valid ones) or values of the wrong type or range;
                one message naming every problem as ``options.<key>: ...``.
        """
        try:
            return cls.options_model.model_validate(dict(options or {}))
        except ValidationError as err:
            errors = err.errors()
            parts = [_describe(dict(e)) for e in errors]
            if any(e["type"] == "extra_forbidden" for e in errors):
                valid = ", ".join(sorted(cls.options_model.model_fields)) or "none"
                parts.append(f"valid options of {cls.task} engine {cls.name!r}: {valid}")
            raise OptionsError("; ".join(parts)) from None

    @classmethod
    def options_schema(cls) -> dict[str, Any]:
        """JSON Schema of the engine's options (published in the job schema)."""
        return cls.options_model.model_json_schema()

    @classmethod
    def info(cls) -> dict[str, Any]:
        """What ``geogen info --json`` says of the engine."""
        return {
            "task": cls.task,
            "name": cls.name,
            "aliases": list(cls.aliases),
            "description": cls.description,
            "needs_weights": cls.needs_weights(),
            "model_kinds": list(cls.model_kinds),
            "field_model_kinds": {k: list(v) for k, v in cls.field_model_kinds.items()},
            "default": cls.default,
            "experimental": cls.experimental,
            "options": sorted(cls.options_model.model_fields),
        }


# --- superres --------------------------------------------------------------------------------------------


class SharpenOptions(EngineOptions):
    """Options every sharpening engine has: the pipeline's window size."""

    tile: int = Field(default=1024, ge=64, description="window side in output pixels")


class SharpenEngine(Engine):
    """Family: Sentinel-2 bands sharpened onto the finest band's grid, window by window.

    The pipeline calls ``fit`` once on the whole scene (the area's stack), then ``sharpen`` for each window of the
    output grid; the engine reads what it needs from the stack, with its own halo.
    """

    task: ClassVar[str] = "superres"
    options_model: ClassVar[type[EngineOptions]] = SharpenOptions

    @abstractmethod
    def fit(self, stack: S2Stack, bands: Sequence[str], progress: Progress | None = None) -> None:
        """Learn whatever the engine learns from the scene (regressions, a network), before any window."""

    @abstractmethod
    def sharpen(self, stack: S2Stack, window: Window, bands: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Reflectance (bands, h, w) float32 of ``window`` of the finest grid, and its validity mask (h, w)."""

    @abstractmethod
    def halo(self, factor: int) -> int:
        """Finest-grid pixels read around a window for a band ``factor`` times coarser (dask block reads)."""


class DiffusionSREngine(Engine):
    """Family: a diffusion model that makes a finer synthetic image from one or more Sentinel-2 stacks."""

    task: ClassVar[str] = "superres"


class TemporalSREngine(Engine):
    """Family: one finer synthetic image of a date, conditioned on Sentinel-2 frames of several dates."""

    task: ClassVar[str] = "superres"


# --- sketch ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassWindow:
    """One window of a sketch, as a ``ClassRenderEngine`` receives it.

    Attributes:
        codes: (h, w) int class codes of the vocabulary (``vocabulary``'s codes), padded by the overlap.
        valid: (h, w) bool, True inside the drawn area.
        grid: the window's georeferenced grid (CRS, transform, size).
        index: the window's (row, col) in the plan; seeds derive from it, never from the worker.
        seed: the job's seed.
        vocabulary: the vocabulary's name (e.g. "flair19").
        colours: class code -> legend RGB of the vocabulary.
    """

    codes: np.ndarray
    valid: np.ndarray
    grid: Grid
    index: tuple[int, int]
    seed: int
    vocabulary: str
    colours: Mapping[int, tuple[int, int, int]]

    def rng(self) -> np.random.Generator:
        """A generator seeded by (job seed, window index): the same window gives the same pixels anywhere."""
        return np.random.default_rng([self.seed, *self.index])


class ClassRenderEngine(Engine):
    """Family: land-cover class codes -> RGB, window by window (the pipeline blends overlapping windows)."""

    task: ClassVar[str] = "sketch"
    window: ClassVar[int] = 512
    overlap: ClassVar[int] = 32

    @abstractmethod
    def render(self, window: ClassWindow) -> np.ndarray:
        """(3, h, w) uint8 RGB of the window (pixels outside ``valid`` are ignored)."""


class ExemplarSketchEngine(Engine):
    """Family: texture-by-numbers from example image/class-map pairs (tiles cut like patch seams)."""

    task: ClassVar[str] = "sketch"


class ControlNetSketchEngine(Engine):
    """Family: a land-cover ControlNet over a Stable Diffusion base, MultiDiffusion over latent windows."""

    task: ClassVar[str] = "sketch"


# --- text, temporal --------------------------------------------------------------------------------------


class TextDiffusionEngine(Engine):
    """Family: prompt + metadata -> synthetic image of any area (MultiDiffusion over latent windows)."""

    task: ClassVar[str] = "text"


class TemporalDiffusionEngine(Engine):
    """Family: the same place at new dates, each generated from known frames."""

    task: ClassVar[str] = "temporal"
