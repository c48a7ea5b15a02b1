"""What the DiffusionSat model classes share in their ``__init__``: SD's default block types, and passing a
spelled-out signature on to the stock diffusers parent.

diffusers reads a model's config keys from its ``__init__`` signature, so each class must list its parameters
itself; these helpers keep the defaults and the hand-over to the parent from being written out again.
"""

from __future__ import annotations

from typing import Any

SD_DOWN_BLOCK_TYPES = ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D")
"""Stable Diffusion's (and DiffusionSat's) encoder blocks: the stock UNet and ControlNet default."""

SD_UP_BLOCK_TYPES = ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D")
"""Stable Diffusion's (and DiffusionSat's) decoder blocks: the stock UNet default."""


def init_arguments(frame_locals: dict[str, Any], *drop: str) -> dict[str, Any]:
    """An ``__init__``'s arguments by name, less ``drop``, from its ``locals()``.

    ``frame_locals`` must be taken before the method binds any other name (as the first argument expression of
    the ``super().__init__`` call); ``self`` and the ``__class__`` cell of ``super()`` are left out.
    """
    skip = {"self", "__class__", *drop}
    return {name: value for name, value in frame_locals.items() if name not in skip}
