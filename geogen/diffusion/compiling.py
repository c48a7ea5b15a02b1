"""``torch.compile`` for the modules that run at every denoising step (the UNet, and a ControlNet where an
engine has one), behind the ``compile`` option.

The module is compiled in place (``nn.Module.compile``): it stays the same object, so its class, ``config``,
``dtype``, attention processors and forward hooks work as before, and moving it between devices (CPU offload)
only costs a recompilation. Mode "max-autotune-no-cudagraphs": the UNet is compute-bound, so choosing the
fastest matmul/convolution kernels is what pays; CUDA graphs ("reduce-overhead") are left out because the
window batches change size (last batch, guidance), offloading moves the weights, and each graph would pin
its own memory. The first calls compile and autotune (a minute or more at real size), so it pays only for
long runs.
"""

from __future__ import annotations

import torch

COMPILE_MODE = "max-autotune-no-cudagraphs"


def compile_in_place(module: torch.nn.Module) -> torch.nn.Module:
    """``module``, its calls from now on compiled by ``torch.compile`` in ``COMPILE_MODE``; returns it."""
    module.compile(mode=COMPILE_MODE)
    return module
