"""Task orchestration: each task's steps from a validated job to files on disk, one module per engine family.

``run_task(job, engine, reporter)`` picks the pipeline by the engine's family (its base class in
``geogen.engines.base``), never by the engine's name, so a registered third-party engine of a known family runs
through the same code as the built-in ones. Pipeline modules are imported on first use: a weight-free job never
imports torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from geogen.engines import base
from geogen.errors import EngineError

if TYPE_CHECKING:
    from geogen.progress import Reporter
    from geogen.records import PipelineOutput
    from geogen.spec import Job

# family -> "module:function"; the function is called as f(job, engine, reporter) -> PipelineOutput
FAMILY_PIPELINES: tuple[tuple[type[base.Engine], str], ...] = (
    (base.SharpenEngine, "geogen.pipelines.superres:run_sharpening"),
    (base.DiffusionSREngine, "geogen.pipelines.superres_diffusion:run_diffusionsat_sr"),
    (base.TemporalSREngine, "geogen.pipelines.superres_temporal:run_sr_temporal"),
    (base.ClassRenderEngine, "geogen.pipelines.sketch_windows:run_class_render"),
    (base.ExemplarSketchEngine, "geogen.pipelines.sketch:run_exemplar_sketch"),
    (base.ControlNetSketchEngine, "geogen.pipelines.sketch_controlnet:run_sketch_controlnet"),
    (base.TextDiffusionEngine, "geogen.pipelines.text:run_text"),
    (base.TemporalDiffusionEngine, "geogen.pipelines.temporal:run_temporal"),
)


def run_task(job: Job, engine: base.Engine, reporter: Reporter) -> PipelineOutput:
    """Run ``job`` with ``engine`` (already built from the job's options) through its family's pipeline.

    Raises:
        EngineError: the engine belongs to no family a pipeline knows.
        GeogenError: whatever the pipeline raises for bad input (nothing partial is left behind).
    """
    for family, target in FAMILY_PIPELINES:
        if isinstance(engine, family):
            module, func = target.split(":")
            return getattr(importlib.import_module(module), func)(job, engine, reporter)
    families = ", ".join(f.__name__ for f, _ in FAMILY_PIPELINES)
    raise EngineError(
        f"{engine.task} engine {engine.name!r} ({type(engine).__qualname__}) derives from no engine family "
        f"a pipeline can run; derive it from one of: {families}"
    )
