"""Reading weight files safely: safetensors headers without loading, pickles only through ``weights_only``.

This module holds the one call in geogen's store that unpickles (``load_pickle``). It loads with
``torch.load(weights_only=True)``, which refuses any pickle that would import or call anything but tensors and
plain containers. ``trust_pickle=True`` (the user's ``--trust-pickle``) is the only way to full unpickling.
"""

from __future__ import annotations

import json
import struct
import warnings
from pathlib import Path
from typing import Any

from geogen.errors import ModelError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
SAFETENSORS_SUFFIX = ".safetensors"
WEIGHT_SUFFIXES = (SAFETENSORS_SUFFIX, *PICKLE_SUFFIXES)
_MAX_HEADER = 100 * 1024 * 1024


class UntrustedPickleWarning(UserWarning):
    """A pickle was fully unpickled because the user passed --trust-pickle."""


# accelerate's training state saved next to checkpoints: pickles, not model weights; geogen never loads them.
TRAINING_STATE = ("optimizer", "scheduler", "scaler", "random_states", "training_args", "ema_model_state")


def is_pickle(path: Path) -> bool:
    return Path(path).suffix.lower() in PICKLE_SUFFIXES


def is_weight_pickle(rel: str) -> bool:
    """A pickle holding model weights (accelerate's optimizer/scheduler/RNG state excluded)."""
    return is_pickle(Path(rel)) and not Path(rel).name.startswith(TRAINING_STATE)


def weight_pickles(files: list[str]) -> list[str]:
    return [f for f in files if is_weight_pickle(f)]


def weights_format(files: list[str]) -> str | None:
    """ "safetensors", "pickle" or "mixed" for a model's file list (None when it has no weights)."""
    safe = [f for f in files if f.lower().endswith(SAFETENSORS_SUFFIX)]
    pickles = weight_pickles(files)
    if not (safe or pickles):
        return None
    return "mixed" if safe and pickles else ("pickle" if pickles else "safetensors")


def safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a .safetensors file: ``{name: {"dtype", "shape", "data_offsets"}, "__metadata__"}``.

    Reads only the header (8-byte length + JSON), never the tensors.

    Raises:
        ModelError: the file is not a valid safetensors file.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                raise ValueError("shorter than 8 bytes")
            (n,) = struct.unpack("<Q", raw)
            if n <= 1 or n > _MAX_HEADER:
                raise ValueError(f"header length {n} is out of range")
            header = json.loads(f.read(n).decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} is not a valid .safetensors file ({exc})") from None
    return header


def _weights_only_reason(message: str) -> str:
    """The one informative line of torch's weights-only failure message."""
    boiler = (
        "Weights only load failed",
        "Please file an issue",
        "Check the documentation",
        "WeightsUnpickler error",
    )
    for line in message.splitlines():
        line = line.strip()
        if line and not line.startswith(boiler):
            return line.rstrip(".")
    return "weights-only loading failed"


def load_pickle(path: Path, *, trust_pickle: bool = False, mmap: bool = False) -> Any:
    """Load a .bin/.pt/.ckpt pickle with ``torch.load(weights_only=True)``; full unpickling only if trusted.

    ``mmap=True`` maps the tensors instead of reading them (cheap inspection of large files; falls back to a
    normal load for the legacy, non-zip format).

    Raises:
        ModelError: the pickle needs more than weights-only loading and ``trust_pickle`` is False (nothing in
            it was executed), or the file cannot be read at all.
    """
    import pickle

    import torch

    path = Path(path)

    def _load(weights_only: bool, use_mmap: bool) -> Any:
        return torch.load(path, map_location="cpu", weights_only=weights_only, mmap=use_mmap)

    try:
        try:
            return _load(True, mmap)
        except RuntimeError as exc:
            if mmap and "mmap" in str(exc):
                return _load(True, False)
            raise
    except pickle.UnpicklingError as exc:
        if not trust_pickle:
            raise ModelError(
                f"refusing to unpickle {path}: weights-only loading failed "
                f"({_weights_only_reason(str(exc))}), "
                "so loading it could run code; if you trust where it came from, pass --trust-pickle"
            ) from None
        warnings.warn(
            f"unpickling {path} with weights_only=False because --trust-pickle was given: "
            "this can run arbitrary code",
            UntrustedPickleWarning,
            stacklevel=2,
        )
        try:
            return _load(False, False)
        except Exception as exc2:  # anything a broken pickle can raise
            raise ModelError(
                f"cannot read {path} as a PyTorch file ({type(exc2).__name__}: {exc2})"
            ) from None
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise ModelError(f"cannot read {path} as a PyTorch file ({type(exc).__name__}: {exc})") from None


def state_dict_of(obj: Any, path: Path) -> dict[str, Any]:
    """The flat ``{name: tensor}`` mapping in a loaded pickle (unwrapping ``{"state_dict": ...}`` files).

    Raises:
        ModelError: it holds no mapping of tensors.
    """
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ModelError(f"{path} holds a {type(obj).__name__}, not a state dict of tensors")
    return obj


def tensor_shapes(path: Path, *, trust_pickle: bool = False) -> dict[str, tuple[int, ...]]:
    """``{tensor name: shape}`` of a weights file, without reading the tensors' data where the format allows.

    Raises:
        ModelError: unreadable file, or an untrusted pickle that weights-only loading refuses.
    """
    path = Path(path)
    if path.suffix.lower() == SAFETENSORS_SUFFIX:
        header = safetensors_header(path)
        return {
            k: tuple(v.get("shape", ()))
            for k, v in header.items()
            if k != "__metadata__" and isinstance(v, dict)
        }
    import torch

    sd = state_dict_of(load_pickle(path, trust_pickle=trust_pickle, mmap=True), path)
    return {k: tuple(v.shape) for k, v in sd.items() if isinstance(v, torch.Tensor)}


def safetensors_metadata(path: Path) -> dict[str, str]:
    """The free-form ``__metadata__`` strings of a .safetensors file (kohya training facts live here)."""
    meta = safetensors_header(path).get("__metadata__") or {}
    return {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}
