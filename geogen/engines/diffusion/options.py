"""The ``options`` a job gives a diffusion engine (device, precision, window sizes, batching, compiling),
checked.

Sizes are in output pixels; they become latent sizes by dividing by the VAE factor. Engines with keys of their
own take them out with ``split_options`` and check numbers with ``number_option``; the rest comes here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from geogen.errors import JobSpecError
from tiles import WEIGHT_KINDS


@dataclass(frozen=True)
class DiffusionOptions:
    """Engine options with their defaults (None: decided from the model and the device).

    Attributes:
        device: "auto", "cpu", "cuda", "cuda:N" or "mps".
        dtype: "auto" (fp16 on GPUs, fp32 on CPU), "fp32", "fp16" or "bf16".
        window_batch_size: latent windows per UNet call (default 4 on a GPU, 1 on the CPU).
        window: generation window side in pixels (default: the model's native resolution).
        overlap: overlap of neighbouring windows in pixels (default: a quarter of the window).
        decode_tile: VAE decode tile side in pixels (default: the window).
        weight_kind: blending ramp over overlaps: "cosine", "linear" or "constant".
        attention_slicing: slice attention (less memory, slower).
        cpu_offload: keep model parts in CPU memory, moving each to the device only while it runs.
        compile: compile the UNet (and the ControlNet, where the engine has one) with ``torch.compile`` in
            mode "max-autotune-no-cudagraphs" (``geogen.engines.diffusion.compiling``). Pays on GPUs for long
            runs (many steps or windows); costs a warm-up of a minute or more on the first calls, so off by
            default.
    """

    device: str = "auto"
    dtype: str = "auto"
    window_batch_size: int | None = None
    window: int | None = None
    overlap: int | None = None
    decode_tile: int | None = None
    weight_kind: str = "cosine"
    attention_slicing: bool = False
    cpu_offload: bool = False
    compile: bool = False


_INTS = ("window_batch_size", "window", "overlap", "decode_tile")
_BOOLS = ("attention_slicing", "cpu_offload", "compile")


def parse_options(options: dict[str, Any]) -> DiffusionOptions:
    """``options`` checked and typed.

    Raises:
        JobSpecError: an unknown key, or a value of the wrong type or range (the message names both).
    """
    known = {f.name for f in fields(DiffusionOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise JobSpecError(
            f"options: unknown key(s) {', '.join(unknown)} for a diffusion engine; "
            f"known: {', '.join(sorted(known))}"
        )
    values = {k: v for k, v in options.items() if v is not None}
    for key in _INTS:
        value = values.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise JobSpecError(f"options.{key} must be an integer, got {value!r}")
        if value < (0 if key == "overlap" else 1):
            raise JobSpecError(
                f"options.{key} must be {'>= 0' if key == 'overlap' else 'positive'}, got {value}"
            )
    for key in _BOOLS:
        if key in values and not isinstance(values[key], bool):
            raise JobSpecError(f"options.{key} must be true or false, got {values[key]!r}")
    for key in ("device", "dtype"):
        if key in values and not isinstance(values[key], str):
            raise JobSpecError(f"options.{key} must be a string, got {values[key]!r}")
    if values.get("weight_kind", "cosine") not in WEIGHT_KINDS:
        raise JobSpecError(
            f"options.weight_kind must be one of {', '.join(WEIGHT_KINDS)}, got {values['weight_kind']!r}"
        )
    return DiffusionOptions(**values)


def split_options(options: dict[str, Any], own: Sequence[str]) -> tuple[dict[str, Any], DiffusionOptions]:
    """``options`` split into an engine's ``own`` keys (unchecked) and the checked diffusion options (the
    rest).

    Raises:
        JobSpecError: a key that is neither the engine's nor a diffusion option, or a bad diffusion value.
    """
    mine = {k: v for k, v in options.items() if k in own}
    return mine, parse_options({k: v for k, v in options.items() if k not in own})


def number_option(
    options: dict[str, Any], key: str, default: float | None, low: float, high: float
) -> float | None:
    """``options[key]`` (else ``default``) as a float in [``low``, ``high``]; None stays None.

    Raises:
        JobSpecError: not a finite number in range (booleans are refused).
    """
    value = options.get(key, default)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise JobSpecError(f"options.{key} must be a number in [{low:g}, {high:g}], got {value!r}")
    return float(value)
