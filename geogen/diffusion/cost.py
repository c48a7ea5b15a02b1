"""Rough run-time estimates for refusing huge areas with a useful message (not a benchmark).

Reference: Stable Diffusion 2.1's UNet (866 M parameters) takes about 5 s per evaluation of a 64 x 64 latent
on a 2-core AMD EPYC VM (measured, 3.9 GB RSS) and a few hundredths of a second on a current GPU in float16.
Time is scaled linearly with parameters and latent pixels.
"""

from __future__ import annotations

from pathlib import Path

REFERENCE_PARAMS = 866_000_000
REFERENCE_LATENT_PX = 64 * 64
SECONDS_PER_EVAL = {"cpu": 5.0, "mps": 0.5, "cuda": 0.05}


def count_parameters(weights_dir: Path) -> int:
    """Parameters in a model folder's weights, read from the file header where possible (0 if unreadable)."""
    from geogen.errors import ModelError
    from geogen.models.loading import weights_file
    from geogen.store.weights import tensor_shapes

    try:
        shapes = tensor_shapes(weights_file(weights_dir))
    except (ModelError, OSError, ValueError):
        return 0
    total = 0
    for shape in shapes.values():
        n = 1
        for s in shape:
            n *= int(s)
        total += n
    return total


def seconds_per_window(params: int, window_latent: int, steps: int, guided: bool, device_type: str) -> float:
    """Estimated seconds to denoise one latent window through all ``steps`` (both guidance halves)."""
    per_eval = SECONDS_PER_EVAL.get(device_type, SECONDS_PER_EVAL["cuda"])
    scale = (params or REFERENCE_PARAMS) / REFERENCE_PARAMS * (window_latent**2) / REFERENCE_LATENT_PX
    return per_eval * scale * steps * (2 if guided else 1)
