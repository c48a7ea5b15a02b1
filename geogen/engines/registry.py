"""Which engines serve which task: names, defaults and whether they need installed weights.

Pipelines look engines up here; ``geogen info`` and the QGIS plugin list them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from geogen.errors import EngineError


@dataclass(frozen=True)
class EngineInfo:
    name: str
    task: str
    description: str
    needs_weights: bool
    default: bool = False
    experimental: bool = False


ENGINES: tuple[EngineInfo, ...] = (
    EngineInfo(
        "sharpen",
        "superres",
        "weight-free Sentinel-2 sharpening of 20/60 m bands to 10 m (high-pass "
        "modulation guided by the 10 m bands)",
        needs_weights=False,
        default=True,
    ),
    EngineInfo(
        "sharpen-cnn",
        "superres",
        "small CNN trained on the scene itself (Wald protocol); slower, sharper",
        needs_weights=False,
    ),
    EngineInfo(
        "diffusionsat",
        "superres",
        "DiffusionSat's SR ControlNet: Sentinel-2 (10 bands) -> synthetic RGB at "
        "10 m / scale, with a consistency step (on by default) so the output degrades back to the input",
        needs_weights=True,
    ),
    EngineInfo(
        "diffusionsat-3d",
        "superres",
        "DiffusionSat's 3-D ControlNet: one synthetic RGB image at the first "
        "input's date and 10 m / scale, conditioned on the frames of up to 3 dates nearest in time (the "
        "published Texas model's use)",
        needs_weights=True,
    ),
    EngineInfo(
        "bicubic", "superres", "bicubic interpolation of 20/60 m bands (baseline)", needs_weights=False
    ),
    EngineInfo(
        "exemplar",
        "sketch",
        "weight-free texture-by-numbers from an example image and its class map",
        needs_weights=False,
        default=True,
    ),
    EngineInfo(
        "controlnet",
        "sketch",
        "land-cover ControlNet (Seg2Sat-style palette conditions) on a "
        "Stable Diffusion pipeline, with optional LoRA styles; seamless over any area (MultiDiffusion, "
        "per-window prompt and condition). A DiffusionSat base under it is experimental",
        needs_weights=True,
    ),
    EngineInfo(
        "diffusionsat",
        "text",
        "DiffusionSat: prompt + place, date and GSD metadata -> synthetic image of "
        "any area (MultiDiffusion over latent windows, each with its own metadata)",
        needs_weights=True,
        default=True,
    ),
    EngineInfo(
        "diffusionsat-3d",
        "temporal",
        "DiffusionSat's 3-D ControlNet: each new date generated from up to 3 "
        "known frames (observed, or generated before) plus its date's metadata, forward and backward in "
        "time; one co-registered GeoTIFF per date and a NetCDF datacube",
        needs_weights=True,
        default=True,
    ),
)


def engines_for(task: str) -> list[EngineInfo]:
    return [e for e in ENGINES if e.task == task]


def resolve_engine(task: str, name: str | None) -> EngineInfo:
    """The engine ``name`` for ``task`` (its default when None).

    Raises:
        EngineError: unknown engine for this task (the message lists the known ones).
    """
    known = engines_for(task)
    if not known:
        raise EngineError(f"no engine is available for task {task!r} in this version of geogen")
    if name is None:
        return next((e for e in known if e.default), known[0])
    for e in known:
        if e.name == name:
            return e
    raise EngineError(f"unknown engine {name!r} for task {task!r}; known: {', '.join(e.name for e in known)}")
