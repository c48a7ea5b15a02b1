"""LoRA styles merged into a loaded UNet and text encoder with a strength.

Two file layouts are read (``geogen.store.lora`` detects them):

- kohya / A1111: ``lora_unet_<module>.lora_down.weight``, ``.lora_up.weight`` and ``.alpha``, where
  ``<module>`` is the diffusers module path with dots written as underscores (``lora_te_`` for the text
  encoder). The update is scaled by alpha / rank (alpha absent: 1).
- diffusers / PEFT: ``[unet.|text_encoder.]<module>.lora_A.weight`` / ``.lora_B.weight`` (also the older
  ``.lora.down/up``, ``.lora_linear_layer.down/up`` and attention-processor ``to_q_lora.down/up`` names),
  scaled by ``lora_alpha / r`` from an ``adapter_config.json`` beside the file, else by ``.alpha`` keys,
  else 1.

Merging adds ``strength * scale * up @ down`` to each targeted weight (linear and convolution layers),
computed in float32. Strength 0 leaves the model untouched, bit for bit. The merge is permanent for the loaded
model: load the model again for another strength.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch

from geogen.errors import ModelError

UNET, TEXT_ENCODER = "unet", "text_encoder"
_KOHYA_PREFIXES = {"lora_unet_": UNET, "lora_te_": TEXT_ENCODER}
_KOHYA_SUFFIXES = {".lora_down.weight": "down", ".lora_up.weight": "up", ".alpha": "alpha"}
_UNSUPPORTED = ("hada_", "lokr_", ".diff", "dora_scale", "lora_magnitude_vector", "lora_mid")
_PEFT_ROLES = (
    (re.compile(r"^(?P<m>.+)\.lora_A(?:\.[A-Za-z0-9_-]+)?\.weight$"), "down"),
    (re.compile(r"^(?P<m>.+)\.lora_B(?:\.[A-Za-z0-9_-]+)?\.weight$"), "up"),
    (re.compile(r"^(?P<m>.+)\.lora(?:_linear_layer)?\.down\.weight$"), "down"),
    (re.compile(r"^(?P<m>.+)\.lora(?:_linear_layer)?\.up\.weight$"), "up"),
    (re.compile(r"^(?P<m>.+_lora)\.down\.weight$"), "down"),
    (re.compile(r"^(?P<m>.+_lora)\.up\.weight$"), "up"),
    (re.compile(r"^(?P<m>.+)\.alpha$"), "alpha"),
)
_PROCESSOR = re.compile(r"\.processor\.(to_q|to_k|to_v|to_out)_lora$")
_MAX_LISTED = 5


@dataclass
class LoraLayer:
    """The low-rank update of one layer: ``up @ down`` times ``alpha / rank``.

    ``module`` is a dotted module path, or (kohya) the path with dots written as underscores (``flat``).
    """

    target: str
    module: str
    flat: bool
    down: torch.Tensor | None = None
    up: torch.Tensor | None = None
    alpha: float | None = None

    @property
    def rank(self) -> int:
        return int(self.down.shape[0]) if self.down is not None else 0


@dataclass
class LoraWeights:
    """A LoRA file read into per-layer updates (``scale``: lora_alpha / r from a PEFT config, if any)."""

    name: str
    format: str
    layers: list[LoraLayer]
    scale: float | None = None
    targets: list[str] = field(default_factory=list)


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a .safetensors file, or of a pickle by weights-only loading.

    Raises:
        ModelError: unreadable file, or a pickle that needs more than weights-only loading.
    """
    from geogen.store.weights import load_pickle, state_dict_of

    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot read LoRA file {path}: {exc}") from None
    state = state_dict_of(load_pickle(path), path)
    return {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}


def _kohya_layers(tensors: Mapping[str, torch.Tensor], name: str) -> list[LoraLayer]:
    layers: dict[str, LoraLayer] = {}
    ignored = []
    for key, value in tensors.items():
        prefix = next((p for p in _KOHYA_PREFIXES if key.startswith(p)), None)
        suffix = next((s for s in _KOHYA_SUFFIXES if key.endswith(s)), None)
        if key.startswith(("lora_te1_", "lora_te2_")):
            raise ModelError(
                f"LoRA {name!r} is for SDXL (two text encoders); geogen's engines use SD-1.x/2.x bases"
            )
        if prefix is None or suffix is None:
            ignored.append(key)
            continue
        flat = key[len(prefix) : -len(suffix)]
        layer = layers.setdefault(prefix + flat, LoraLayer(_KOHYA_PREFIXES[prefix], flat, flat=True))
        _set_role(layer, _KOHYA_SUFFIXES[suffix], value)
    if ignored:
        raise ModelError(f"LoRA {name!r}: unexpected weight names for a kohya LoRA: {_listed(ignored)}")
    return list(layers.values())


def _peft_module(key: str) -> tuple[str, str]:
    """(target, dotted module path) of a PEFT/diffusers module path with its model prefix."""
    key = key.removeprefix("base_model.model.")
    for prefix, target in (("unet.", UNET), ("text_encoder.", TEXT_ENCODER)):
        if key.startswith(prefix):
            return target, key[len(prefix) :]
    return (TEXT_ENCODER if key.startswith("text_model.") else UNET), key


def _peft_role(key: str) -> tuple[str, str] | None:
    """(module path with its model prefix, "down"/"up"/"alpha") of a PEFT/diffusers LoRA key, or None."""
    for pattern, role in _PEFT_ROLES:
        match = pattern.match(key)
        if match:
            return match.group("m"), role
    return None


def _peft_layers(tensors: Mapping[str, torch.Tensor], name: str) -> list[LoraLayer]:
    layers: dict[tuple[str, str], LoraLayer] = {}
    ignored = []
    for key, value in tensors.items():
        found = _peft_role(key)
        if found is None:
            ignored.append(key)
            continue
        target, module = _peft_module(found[0])
        role = found[1]
        processor = _PROCESSOR.search(module)
        if processor:  # attention-processor LoRA: <attn>.processor.to_q_lora -> <attn>.to_q
            proj = processor.group(1)
            module = module[: processor.start()] + "." + ("to_out.0" if proj == "to_out" else proj)
        layer = layers.setdefault((target, module), LoraLayer(target, module, flat=False))
        _set_role(layer, role, value)
    if ignored:
        raise ModelError(
            f"LoRA {name!r}: unexpected weight names for a diffusers/PEFT LoRA: {_listed(ignored)}"
        )
    return list(layers.values())


def _set_role(layer: LoraLayer, role: str, value: torch.Tensor) -> None:
    if role == "alpha":
        layer.alpha = float(value.float().reshape(-1)[0])
    else:
        setattr(layer, role, value)


def _listed(items: Sequence[str]) -> str:
    shown = ", ".join(sorted(items)[:_MAX_LISTED])
    return shown + (f" and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else "")


def _peft_scale(path: Path) -> float | None:
    """lora_alpha / r from a PEFT ``adapter_config.json`` beside the weights, if there is one."""
    config = path.parent / "adapter_config.json"
    if not config.is_file():
        return None
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
        return float(data["lora_alpha"]) / float(data["r"])
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError):
        raise ModelError(f"cannot read lora_alpha and r from {config}") from None


def read_lora(path: str | Path, *, name: str | None = None) -> LoraWeights:
    """Read a LoRA file (kohya/A1111 or diffusers/PEFT) into per-layer updates.

    Raises:
        ModelError: unreadable file, no LoRA weights in it, an unsupported variant (LyCORIS LoHa/LoKr, DoRA,
            SDXL), or a layer missing its up or down matrix.
    """
    path = Path(path)
    name = name or path.name
    tensors = _load_tensors(path)
    odd = [k for k in tensors if any(marker in k for marker in _UNSUPPORTED)]
    if odd:
        raise ModelError(
            f"LoRA {name!r} uses a variant geogen cannot merge (LyCORIS LoHa/LoKr, DoRA or "
            f"diff weights: {_listed(odd)}); use a plain LoRA"
        )
    kohya = any(k.startswith(("lora_unet_", "lora_te")) for k in tensors)
    layers = _kohya_layers(tensors, name) if kohya else _peft_layers(tensors, name)
    if not layers:
        raise ModelError(f"{path} holds no LoRA weights")
    broken = [lay.module for lay in layers if lay.down is None or lay.up is None]
    if broken:
        raise ModelError(f"LoRA {name!r}: layers without both up and down matrices: {_listed(broken)}")
    targets = sorted({lay.target for lay in layers})
    return LoraWeights(
        name, "kohya" if kohya else "peft", layers, None if kohya else _peft_scale(path), targets
    )


_Mergeable = torch.nn.Linear | torch.nn.Conv2d


def _module_index(model: torch.nn.Module, flat: bool) -> dict[str, _Mergeable]:
    """_Mergeable layers by the names LoRA files use for them.

    LoRA files name CLIP text-encoder layers ``text_model.encoder...`` (transformers 4's CLIPTextModel);
    transformers 5 dropped the ``text_model`` level, so both spellings are indexed.
    """
    mergeable = (torch.nn.Linear, torch.nn.Conv2d)
    names: dict[str, _Mergeable] = {n: m for n, m in model.named_modules() if isinstance(m, mergeable)}
    if (
        not any(n == "text_model" for n, _ in model.named_children())
        and hasattr(model, "config")
        and getattr(model.config, "model_type", "") == "clip_text_model"
    ):
        names.update({f"text_model.{n}": m for n, m in list(names.items())})
    return {(n.replace(".", "_") if flat else n): m for n, m in names.items()}


def _delta(down: torch.Tensor, up: torch.Tensor, weight: torch.Tensor, scale: float) -> torch.Tensor | None:
    """``scale * up @ down`` shaped like ``weight``, float32; None when the shapes cannot fit."""
    down = down.to(device=weight.device, dtype=torch.float32)
    up = up.to(device=weight.device, dtype=torch.float32)
    rank = down.shape[0]
    if up.shape[0] != weight.shape[0] or up.numel() != weight.shape[0] * rank:
        return None
    if down.numel() != rank * weight[0].numel():
        return None
    delta = up.reshape(weight.shape[0], rank) @ down.reshape(rank, -1)
    return (delta * scale).reshape(weight.shape)


def merge_lora(models: Mapping[str, torch.nn.Module], lora: LoraWeights, strength: float) -> int:
    """Add ``lora`` at ``strength`` into ``models`` ({"unet": ..., "text_encoder": ...}); returns layers hit.

    Strength 0 changes nothing (the weights stay bit-identical).

    Raises:
        ModelError: a non-finite strength, a LoRA for a model part not given, layers the model lacks, or
            matrices whose shapes do not fit the layer (a LoRA made for another base model).
    """
    if not math.isfinite(strength):
        raise ModelError(f"LoRA {lora.name!r}: strength must be a finite number, got {strength}")
    missing_parts = [t for t in lora.targets if t not in models]
    if missing_parts:
        raise ModelError(
            f"LoRA {lora.name!r} targets {', '.join(missing_parts)}, which this engine does not load"
        )
    plans: list[tuple[_Mergeable, torch.Tensor]] = []
    absent, misfit = [], []
    indexes: dict[tuple[str, bool], dict[str, _Mergeable]] = {}
    for layer in lora.layers:
        key = (layer.target, layer.flat)
        if key not in indexes:
            indexes[key] = _module_index(models[layer.target], layer.flat)
        module = indexes[key].get(layer.module)
        if module is None:
            absent.append(f"{layer.target}:{layer.module}")
            continue
        down, up = layer.down, layer.up
        assert down is not None and up is not None  # invariant: read_lora refuses layers missing either one
        scale = lora.scale if lora.scale is not None else (layer.alpha / layer.rank if layer.alpha else 1.0)
        delta = _delta(down, up, module.weight, strength * scale)
        if delta is None:
            misfit.append(
                f"{layer.target}:{layer.module} (LoRA {tuple(up.shape)} x {tuple(down.shape)}"
                f" vs weight {tuple(module.weight.shape)})"
            )
            continue
        plans.append((module, delta))
    if absent:
        raise ModelError(
            f"LoRA {lora.name!r} has weights for {len(absent)} layer(s) this model does not have "
            f"({_listed(absent)}): it was made for another base model or uses a layer naming geogen "
            "does not read"
        )
    if misfit:
        raise ModelError(
            f"LoRA {lora.name!r} does not fit this model's layers: {_listed(misfit)}; it was made "
            "for another base model"
        )
    if strength == 0:
        return 0
    with torch.no_grad():
        for module, delta in plans:
            module.weight.copy_((module.weight.float() + delta).to(module.weight.dtype))
    return len(plans)


class NamedLora(Protocol):
    """What ``apply_loras`` reads of a LoRA reference: ``name`` (and ``strength``, 1.0 when absent)."""

    @property
    def name(self) -> object: ...


def apply_loras(
    refs: Sequence[NamedLora], models: Mapping[str, torch.nn.Module], *, base_family: str | None = None
) -> list[dict[str, object]]:
    """Resolve each LoRA reference (``.name``: store name or path; ``.strength``), merge it into ``models``.

    Returns one record per LoRA (name, strength, format, layers merged) for the output's provenance.

    Raises:
        ModelError: unknown name or path, not a LoRA, a LoRA for another model family than ``base_family``
            ("sd1"/"sd2"), or one that does not fit the model (see :func:`merge_lora`).
    """
    from geogen.store import LORA, require_kind, resolve

    records: list[dict[str, object]] = []
    for ref in refs:
        name, strength = str(ref.name), float(getattr(ref, "strength", 1.0))
        entry = require_kind(resolve(name), LORA)
        family = entry.facts.get("base_family")
        if family and base_family and family != base_family:
            raise ModelError(
                f"LoRA {entry.name!r} was made for {family.upper()} models but the base model is "
                f"{base_family.upper()}; use a LoRA trained on the same base"
            )
        lora = read_lora(entry.weights_path, name=entry.name)
        changed = merge_lora(models, lora, strength)
        records.append({"name": entry.name, "strength": strength, "format": lora.format, "layers": changed})
    return records
