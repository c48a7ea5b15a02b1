"""The local model store: install, check and find the weights diffusion engines need.

Engines call ``resolve(name_or_path)`` to get a ``ModelEntry`` (kind, folder, facts) and ``require_kind`` to
refuse the wrong kind of model with a clear message. ``geogen models ...`` is the command line of ``Store``.
"""

from __future__ import annotations

from geogen.store.detect import Detection, detect, find_models
from geogen.store.entry import ModelEntry, require_kind
from geogen.store.kinds import (
    CONTROLNET,
    DIFFUSIONSAT,
    DIFFUSIONSAT_3D,
    DIFFUSIONSAT_SR,
    FACT_KEYS,
    KIND_LABELS,
    KINDS,
    LORA,
    SD_PIPELINE,
)
from geogen.store.paths import store_root, user_data_dir
from geogen.store.resolve import resolve
from geogen.store.store import Store

__all__ = [
    "CONTROLNET",
    "DIFFUSIONSAT",
    "DIFFUSIONSAT_3D",
    "DIFFUSIONSAT_SR",
    "FACT_KEYS",
    "KINDS",
    "KIND_LABELS",
    "LORA",
    "SD_PIPELINE",
    "Detection",
    "ModelEntry",
    "Store",
    "detect",
    "find_models",
    "require_kind",
    "resolve",
    "store_root",
    "user_data_dir",
]
