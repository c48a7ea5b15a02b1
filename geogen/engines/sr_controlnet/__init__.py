"""Sentinel-2 super-resolution with DiffusionSat's SR ControlNet (engine "diffusionsat" of the superres task).

- ``options``: the job options this engine reads (scale, consistency, normalisation, base model, prompt...).
- ``condition``: the 10-channel condition prepared exactly as in DiffusionSat's training.
- ``canvas``: that condition over the generation canvas, cut into each latent window's crop on demand (it is
  the condition ``geogen.engines.diffusion.control.ControlNetHook`` runs the ControlNet on).
- ``model``: the SR ControlNet, its DiffusionSat base model and their compatibility checks.
- ``dates``: acquisition dates of the inputs.
- ``inputs``: one or several dates on one 10 m grid, their shared footprint and output names.
- ``output``: decoding, the consistency step and writing.
- ``pipeline``: ``run_diffusionsat_sr(job, reporter)``, what ``geogen.pipelines.superres`` dispatches to.
"""

from geogen.engines.sr_controlnet.inputs import job_inputs
from geogen.engines.sr_controlnet.pipeline import run_diffusionsat_sr

__all__ = ["job_inputs", "run_diffusionsat_sr"]
