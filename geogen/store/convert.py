"""Pickle weights (.bin/.pt/.pth/.ckpt) to safetensors, under the names diffusers and transformers look for.

Loading goes through ``weights.load_pickle`` (weights-only unless the user trusts the file); each written file
is read back tensor by tensor and compared before the pickle may be deleted.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from geogen.errors import ModelError
from geogen.store.weights import load_pickle, state_dict_of

# diffusers looks for diffusion_pytorch_model.safetensors, transformers for model.safetensors.
_RENAMES = {"pytorch_model": "model"}
_SHARD = re.compile(r"^(?P<stem>.+?)(?P<shard>-\d{5}-of-\d{5})$")


def safetensors_name(path: Path) -> Path:
    """The safetensors twin of ``path``: pytorch_model*.bin -> model*.safetensors, else the same stem."""
    stem, shard = path.stem, ""
    m = _SHARD.match(stem)
    if m:
        stem, shard = m.group("stem"), m.group("shard")
    return path.with_name(f"{_RENAMES.get(stem, stem)}{shard}.safetensors")


@dataclass
class ConvertResult:
    """What a conversion did, as paths relative to the model folder."""

    converted: list[tuple[str, str]] = field(default_factory=list)  # (pickle, safetensors)
    removed: list[str] = field(default_factory=list)
    dropped: dict[str, list[str]] = field(default_factory=dict)  # pickle -> non-tensor entries left out


def _tensors_for_saving(sd: dict, path: Path) -> tuple[dict, list[str]]:
    import torch

    tensors, dropped, seen = {}, [], set()
    for key, value in sd.items():
        if not isinstance(value, torch.Tensor):
            dropped.append(str(key))
            continue
        value = value.detach().contiguous()
        ptr = value.untyped_storage().data_ptr()
        if ptr in seen and value.numel():  # safetensors refuses tensors that share memory: give each its own
            value = value.clone()
        seen.add(value.untyped_storage().data_ptr())
        tensors[str(key)] = value
    if not tensors:
        raise ModelError(f"{path} holds no tensors to convert")
    return tensors, dropped


def _check_written(dst: Path, tensors: dict) -> None:
    import torch
    from safetensors import safe_open

    with safe_open(str(dst), framework="pt") as f:
        if set(f.keys()) != set(tensors):
            raise ModelError(f"conversion check failed for {dst}: tensor names differ")
        for key, value in tensors.items():
            if not torch.equal(f.get_tensor(key), value):
                raise ModelError(f"conversion check failed for {dst}: tensor {key!r} differs")


def convert_file(src: Path, *, trust_pickle: bool = False) -> tuple[Path, list[str]]:
    """Write the safetensors twin of the pickle ``src``; return its path and the non-tensor entries dropped.

    Raises:
        ModelError: untrusted pickle refused by weights-only loading, no tensors, or a failed read-back check.
    """
    from safetensors.torch import save_file

    src = Path(src)
    dst = safetensors_name(src)
    tensors, dropped = _tensors_for_saving(
        state_dict_of(load_pickle(src, trust_pickle=trust_pickle), src), src
    )
    tmp = dst.with_name(dst.name + ".tmp")
    try:
        save_file(tensors, str(tmp), metadata={"format": "pt"})
        _check_written(tmp, tensors)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dst, dropped


def _convert_index(index: Path, renamed: dict[str, str], keep_bin: bool) -> bool:
    """Write the safetensors twin of a sharded-checkpoint index; True when the old index was deleted."""
    data = json.loads(index.read_text(encoding="utf-8"))
    data["weight_map"] = {k: renamed.get(v, v) for k, v in data.get("weight_map", {}).items()}
    stem = index.name[: -len(".bin.index.json")]
    new = index.with_name(f"{_RENAMES.get(stem, stem)}.safetensors.index.json")
    new.write_text(json.dumps(data, indent=2), encoding="utf-8")
    if not keep_bin:
        index.unlink()
    return not keep_bin


def convert_folder(
    root: Path, rel_paths: list[str], *, keep_bin: bool = False, trust_pickle: bool = False
) -> ConvertResult:
    """Convert the weight pickles ``rel_paths`` under ``root``; then delete them unless ``keep_bin``.

    All-or-nothing: the pickles are deleted only once every one of them is converted; if one fails, the
    safetensors files written by this call are removed again.

    Raises:
        ModelError: see ``convert_file``.
    """
    root = Path(root)
    result = ConvertResult()
    renamed: dict[Path, dict[str, str]] = {}
    created: list[Path] = []
    try:
        for rel in rel_paths:
            src = root / rel
            existed = safetensors_name(src).exists()
            with warnings.catch_warnings():
                warnings.simplefilter("always")  # one warning per trusted file, not one per call site
                dst, dropped = convert_file(src, trust_pickle=trust_pickle)
            if not existed:
                created.append(dst)
            result.converted.append((rel, dst.relative_to(root).as_posix()))
            renamed.setdefault(src.parent, {})[src.name] = dst.name
            if dropped:
                result.dropped[rel] = dropped
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        raise
    for folder, names in renamed.items():
        for index in folder.glob("*.bin.index.json"):
            if _convert_index(index, names, keep_bin):
                result.removed.append(index.relative_to(root).as_posix())
    if not keep_bin:
        for rel, _ in result.converted:
            (root / rel).unlink()
            result.removed.append(rel)
    return result
