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


# Bytes per element of every safetensors dtype with a whole number of bytes (sub-byte ones are not checked).
_DTYPE_BYTES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "F8_E8M0": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "C64": 8,
    "F64": 8,
    "I64": 8,
    "U64": 8,
}


def _is_uint(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def check_safetensors(path: Path) -> None:
    """Check a .safetensors file's layout against its size without reading the tensors.

    Every tensor's ``data_offsets`` must lie inside the file, match ``dtype`` x ``shape``, and the tensors
    must tile the data section exactly (what the safetensors loader demands at load time).

    Raises:
        ModelError: one line naming the file and what is wrong (truncated, bad offsets, bad header).
    """
    path = Path(path)
    header = safetensors_header(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
    except (OSError, struct.error) as exc:
        raise ModelError(f"cannot read {path} ({exc})") from None
    available = size - 8 - n
    if available < 0:
        raise ModelError(f"{path} is truncated: its header needs {8 + n} bytes, the file has {size}")
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict):
            raise ModelError(f"{path} is damaged: tensor {name!r} has no dtype/shape/offsets record")
        offsets, shape, dtype = info.get("data_offsets"), info.get("shape"), info.get("dtype")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(map(_is_uint, offsets))
            and offsets[0] <= offsets[1]
        ):
            raise ModelError(f"{path} is damaged: tensor {name!r} has invalid data_offsets {offsets!r:.60}")
        if not (isinstance(shape, list) and all(map(_is_uint, shape))) or not isinstance(dtype, str):
            raise ModelError(f"{path} is damaged: tensor {name!r} has an invalid shape or dtype")
        begin, end = offsets
        if end > available:
            raise ModelError(
                f"{path} is truncated: tensor {name!r} needs bytes up to {8 + n + end}, "
                f"the file has {size} (download or copy it again)"
            )
        if dtype in _DTYPE_BYTES:
            numel = 1
            for dim in shape:
                numel *= dim
            if numel * _DTYPE_BYTES[dtype] != end - begin:
                raise ModelError(
                    f"{path} is damaged: tensor {name!r} ({dtype} {shape}) needs "
                    f"{numel * _DTYPE_BYTES[dtype]} bytes, its offsets span {end - begin}"
                )
        spans.append((begin, end, name))
    pos = 0
    for begin, end, name in sorted(spans):
        if begin != pos:
            what = "overlaps another tensor" if begin < pos else f"leaves a gap at byte {8 + n + pos}"
            raise ModelError(f"{path} is damaged: tensor {name!r} {what}")
        pos = end
    if pos != available:
        raise ModelError(f"{path} is damaged: {available - pos} byte(s) after the last tensor")


def check_pickle_file(path: Path) -> None:
    """Cheap structural check of a PyTorch pickle: a zip-format file (torch >= 1.6) must have an intact central
    directory with every member inside the file; the legacy format is not checked here.

    Raises:
        ModelError: one line naming the file and what is wrong.
    """
    import zipfile

    path = Path(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
        if magic != b"PK\x03\x04":
            return
        size = path.stat().st_size
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if info.header_offset + info.compress_size > size:
                    raise ModelError(
                        f"{path} is truncated: member {info.filename!r} ends past the end of the file"
                    )
    except zipfile.BadZipFile as exc:
        raise ModelError(f"{path} is truncated or damaged (its zip directory is unreadable: {exc})") from None
    except OSError as exc:
        raise ModelError(f"cannot read {path} ({exc.strerror or exc})") from None


def check_weight_file(path: Path) -> None:
    """``check_safetensors`` or ``check_pickle_file`` by suffix (other files are not weights: no check).

    Raises:
        ModelError: a truncated or damaged weights file.
    """
    suffix = Path(path).suffix.lower()
    if suffix == SAFETENSORS_SUFFIX:
        check_safetensors(path)
    elif suffix in PICKLE_SUFFIXES:
        check_pickle_file(path)


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
