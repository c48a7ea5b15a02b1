"""Sentinel-2 super-resolution with DiffusionSat's SR ControlNet (superres engine "diffusionsat-sr").

- ``contract``: the engine class (name, alias "diffusionsat", options model, model kinds).
- ``options``: its typed options (scale, consistency, normalisation, base model, prompt... + diffusion keys).
- ``condition``: the 10-channel condition prepared exactly as in DiffusionSat's training.
- ``canvas``: that condition over the generation canvas, cut into each latent window's crop on demand (it is
  the condition ``geogen.diffusion.control.ControlNetHook`` runs the ControlNet on).
- ``model``: the SR ControlNet, its DiffusionSat base model and their compatibility checks.
- ``level``: the input's processing level (L1C / L2A) and the warning for L2A input.
- ``output``: decoding, the consistency step (``geogen.sensors.consistency``) and writing.

The job-level orchestration (inputs and their dates, output names, the run) is
``geogen.pipelines.superres_diffusion`` with ``geogen.pipelines.superres_inputs``.
"""
