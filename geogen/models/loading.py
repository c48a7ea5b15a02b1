"""Loading diffusers model folders safely: the right class for DiffusionSat checkpoints, every weight used.

A stock ``UNet2DConditionModel`` given a DiffusionSat folder only warns and silently drops the metadata MLPs,
so the class is chosen here from ``config.json`` and the weight names, and every load is checked for missing,
unexpected or mismatched weights. Pickle checkpoints (``.bin``) go through
``geogen.store.weights.load_pickle`` (``torch.load(weights_only=True)``); one that needs full unpickling,
which can run code from the file, is refused unless the caller passes ``trust_pickle=True``.
``geogen.store.convert`` turns them into safetensors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from geogen.errors import ModelError

CONFIG_NAME = "config.json"
SAFETENSORS_NAME = "diffusion_pytorch_model.safetensors"
PICKLE_NAME = "diffusion_pytorch_model.bin"

_DIFFUSIONSAT_CLASSES = {"SatUNet", "ControlNetModel3D", "SatControlNetModel", "SatControlNetModel3D"}
_DIFFUSIONSAT_CONFIG_KEYS = {
    "use_metadata",
    "num_metadata",
    "conditioning_in_channels",
    "use_temporal_transformer",
}
_DIFFUSIONSAT_KEY_PREFIXES = ("metadata_embedding.", "mixing_attns.", "temporal_blocks.")
_CONTROLNET_3D_CLASSES = {"ControlNetModel3D", "SatControlNetModel3D"}


def read_config(path: str | Path) -> dict[str, Any]:
    """The model folder's ``config.json``.

    Raises:
        ModelError: The folder or its config is missing or not valid JSON.
    """
    file = Path(path) / CONFIG_NAME
    if not file.is_file():
        raise ModelError(f"No {CONFIG_NAME} in model folder {Path(path)}: not a diffusers model folder")
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"Cannot read model config {file}: {exc}") from exc
    if not isinstance(config, dict):
        raise ModelError(f"Model config {file} is not a JSON object")
    return config


def weights_file(path: str | Path) -> Path:
    """The folder's weights: safetensors if present (what diffusers loads first), else the pickle ``.bin``.

    Raises:
        ModelError: Neither file exists.
    """
    folder = Path(path)
    for name in (SAFETENSORS_NAME, PICKLE_NAME):
        if (folder / name).is_file():
            return folder / name
    raise ModelError(f"No weights in model folder {folder}: expected {SAFETENSORS_NAME} or {PICKLE_NAME}")


def check_folder_weights(path: str | Path, *, trust_pickle: bool = False) -> bool:
    """Check a model folder's weights before a library loads them (transformers' ``from_pretrained``).

    Every weights file must be structurally sound (safetensors offsets inside the file, pickle zips intact).
    A folder whose weights are pickles is checked with weights-only loading first, so that a refused pickle
    is one ``ModelError`` line naming the file rather than the library's multi-line error.

    Returns:
        True when the pickles need full unpickling and ``trust_pickle`` allows it.

    Raises:
        ModelError: a truncated or damaged weights file, or a pickle that weights-only loading refuses
            (nothing in it was executed) without ``trust_pickle``.
    """
    from geogen.store.weights import SAFETENSORS_SUFFIX, check_weight_file, is_weight_pickle, load_pickle

    folder = Path(path)
    try:
        files = sorted(p for p in folder.iterdir() if p.is_file())
    except OSError as exc:
        raise ModelError(f"cannot read the model folder {folder} ({exc.strerror or exc})") from None
    safe = [p for p in files if p.suffix.lower() == SAFETENSORS_SUFFIX]
    for file in safe:
        check_weight_file(file)
    if safe:  # transformers and diffusers load the safetensors files when there are any
        return False
    needs_full = False
    for file in files:
        if not is_weight_pickle(file.name):
            continue
        check_weight_file(file)
        try:
            load_pickle(file, mmap=True)
        except ModelError:
            if not trust_pickle:
                raise
            needs_full = True
    return needs_full


def state_dict_keys(path: str | Path, *, trust_pickle: bool = False) -> set[str]:
    """Names of the weights in a model folder, read without loading the tensors where the format allows.

    Raises:
        ModelError: No weights, or an untrusted pickle that needs full unpickling.
    """
    from geogen.store.weights import tensor_shapes

    return set(tensor_shapes(weights_file(path), trust_pickle=trust_pickle))


def is_diffusionsat(path: str | Path, *, trust_pickle: bool = False) -> bool:
    """True when the folder holds a DiffusionSat model (by config class or keys, else by weight names).

    Raises:
        ModelError: The folder is not a readable model folder.
    """
    config = read_config(path)
    if config.get("_class_name") in _DIFFUSIONSAT_CLASSES or _DIFFUSIONSAT_CONFIG_KEYS & set(config):
        return True
    keys = state_dict_keys(path, trust_pickle=trust_pickle)
    return any(key.startswith(_DIFFUSIONSAT_KEY_PREFIXES) for key in keys)


def assert_not_diffusionsat(path: str | Path, *, trust_pickle: bool = False) -> None:
    """Refuse a DiffusionSat folder where a caller asked for a stock diffusers model.

    Raises:
        ModelError: The folder holds a DiffusionSat model (a stock class would silently drop its metadata
            weights).
    """
    if is_diffusionsat(path, trust_pickle=trust_pickle):
        raise ModelError(
            f"{Path(path)} is a DiffusionSat model (metadata-conditioned, class "
            f"{read_config(path).get('_class_name')!r}); a stock diffusers model would silently drop its "
            "metadata weights. Load it with geogen.models.loading.load_unet / load_controlnet instead."
        )


def load_unet(
    path: str | Path, *, trust_pickle: bool = False, torch_dtype: torch.dtype | None = None
) -> torch.nn.Module:
    """The UNet in ``path``: ``SatUNet`` for DiffusionSat folders, else a stock ``UNet2DConditionModel``.

    Raises:
        ModelError: Unreadable folder, untrusted pickle, or weights that do not match the architecture.
    """
    from diffusers import UNet2DConditionModel

    from geogen.models.sat_unet import SatUNet

    cls = SatUNet if is_diffusionsat(path, trust_pickle=trust_pickle) else UNet2DConditionModel
    return load_checked(cls, path, trust_pickle=trust_pickle, torch_dtype=torch_dtype)


def load_controlnet(
    path: str | Path, *, trust_pickle: bool = False, torch_dtype: torch.dtype | None = None
) -> torch.nn.Module:
    """The ControlNet in ``path``: DiffusionSat's 3-D or 2-D model for their folders, else the stock one.

    Raises:
        ModelError: Unreadable folder, untrusted pickle, or weights that do not match the architecture.
    """
    from diffusers import ControlNetModel

    from geogen.models.sat_controlnet import SatControlNetModel
    from geogen.models.sat_controlnet_3d import SatControlNetModel3D

    config = read_config(path)
    if config.get("_class_name") in _CONTROLNET_3D_CLASSES or "use_temporal_transformer" in config:
        cls = SatControlNetModel3D
    elif is_diffusionsat(path, trust_pickle=trust_pickle):
        cls = SatControlNetModel
    else:
        cls = ControlNetModel
    return load_checked(cls, path, trust_pickle=trust_pickle, torch_dtype=torch_dtype)


def load_checked(
    cls: type[Any], path: str | Path, *, trust_pickle: bool = False, torch_dtype: torch.dtype | None = None
) -> torch.nn.Module:
    """``cls.from_pretrained(path)`` from local files, refusing any missing, unexpected or mismatched weight.

    With ``trust_pickle``, a pickle that weights-only loading refuses is unpickled once and loaded into a
    model built from the config (diffusers itself never unpickles fully).

    Raises:
        ModelError: Unreadable folder, untrusted pickle, or weights that do not match ``cls``'s architecture.
    """
    from geogen.store.weights import check_weight_file, load_pickle, state_dict_of

    folder = Path(path)
    file = weights_file(folder)
    check_weight_file(file)  # truncated or damaged: one line naming the file, before any library reads it
    state = None
    if file.suffix == ".bin":
        try:
            load_pickle(file, mmap=True)
        except ModelError:
            if not trust_pickle:
                raise
            state = state_dict_of(load_pickle(file, trust_pickle=True), file)
    if state is not None:
        model = cls.from_config(cls.load_config(str(folder)))
        try:
            result = model.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # shape mismatches
            raise ModelError(f"The weights in {file} do not match {cls.__name__}: {exc}") from exc
        info = {"missing_keys": result.missing_keys, "unexpected_keys": result.unexpected_keys}
        if torch_dtype is not None:
            model = model.to(torch_dtype)
    else:
        try:
            model, info = cls.from_pretrained(
                str(folder),
                output_loading_info=True,
                local_files_only=True,
                use_safetensors=file.suffix == ".safetensors",
                torch_dtype=torch_dtype,
            )
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"Cannot load {cls.__name__} from {folder}: {exc}") from exc
    problems = {key: list(value) for key, value in info.items() if value}
    if problems:
        summary = "; ".join(
            f"{key}: {', '.join(map(str, value[:5]))}{' ...' if len(value) > 5 else ''}"
            for key, value in problems.items()
        )
        raise ModelError(f"The weights in {folder} do not match {cls.__name__} ({summary})")
    return model.eval()
