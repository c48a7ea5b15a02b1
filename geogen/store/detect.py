"""What is this folder or file? Kind and engine facts from config.json, model_index.json and weight names.

Nothing here imports the model classes: configs are read as JSON, safetensors through their header only, and
pickles (only when a config is ambiguous) through ``weights.tensor_shapes`` (weights-only loading).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from geogen.errors import ModelError
from geogen.store import kinds as K
from geogen.store.lora import lora_facts
from geogen.store.weights import (
    SAFETENSORS_SUFFIX,
    WEIGHT_SUFFIXES,
    safetensors_metadata,
    tensor_shapes,
    weight_pickles,
    weights_format,
)

MAX_DEPTH = 3  # root/<archive folder>/checkpoint-N/unet
_PREFERRED_WEIGHTS = (
    "diffusion_pytorch_model.safetensors",
    "model.safetensors",
    "diffusion_pytorch_model.bin",
    "pytorch_model.bin",
)
_CHECKPOINT = re.compile(r"checkpoint-(\d+)")
_RESOLUTION_HINT = re.compile(r"(?<![0-9])(256|512)(?![0-9])")
EXPECTED = (
    'expected a DiffusionSat UNet or pipeline folder (config.json with "_class_name": "SatUNet", or '
    "model_index.json), a DiffusionSat or stock ControlNet folder (config.json + diffusion_pytorch_model.*), "
    "a Stable Diffusion pipeline folder (model_index.json) or a LoRA weights file (.safetensors)"
)


@dataclass
class Detection:
    """One model found under a path: its kind, the folder it lives in, and the facts engines need."""

    kind: str
    root: Path
    facts: dict[str, Any] = field(default_factory=K.empty_facts)
    notes: list[str] = field(default_factory=list)


def list_files(root: Path) -> list[str]:
    """Relative POSIX paths of the files under ``root``, skipping hidden entries (.git, .cache, .DS_Store)."""
    root = Path(root)
    if root.is_file():
        return [root.name]
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                out.append(Path(dirpath, name).relative_to(root).as_posix())
    return out


def _read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``, None when absent.

    Raises:
        ModelError: the file exists but is not a JSON object.
    """
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read {path} as JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path} is not a JSON object")
    return data


def _rel(path: Path, root: Path) -> str:
    rel = path.relative_to(root).as_posix()
    return rel if rel else "."


def _weights_file(folder: Path) -> Path | None:
    for name in _PREFERRED_WEIGHTS:
        if (folder / name).is_file():
            return folder / name
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in WEIGHT_SUFFIXES)
    found.sort(key=lambda p: p.suffix.lower() != SAFETENSORS_SUFFIX)
    return found[0] if found else None


def _shapes_of(path: Path, trust_pickle: bool) -> dict[str, tuple[int, ...]]:
    """Tensor shapes by weights-only loading; a trusted pickle that needs more gives {}: the config decides.

    Full unpickling happens only when converting or loading, never just to look.
    """
    try:
        return tensor_shapes(path)
    except ModelError:
        if trust_pickle and path.suffix.lower() != SAFETENSORS_SUFFIX:
            return {}
        raise


class _Shapes:
    """Tensor shapes of a folder's weights, read at most once and only when a config leaves a doubt."""

    def __init__(self, folder: Path, trust_pickle: bool) -> None:
        self.folder, self.trust_pickle = folder, trust_pickle
        self._shapes: dict[str, tuple[int, ...]] | None = None

    def get(self) -> dict[str, tuple[int, ...]]:
        if self._shapes is None:
            f = _weights_file(self.folder)
            self._shapes = _shapes_of(f, self.trust_pickle) if f else {}
        return self._shapes

    def has_5d(self) -> bool:
        return any(len(s) == 5 for s in self.get().values())

    def has_metadata(self) -> bool:
        return any(k.startswith("metadata_embedding.") for k in self.get())


def _is_controlnet(cfg: dict[str, Any]) -> bool:
    return (
        "controlnet" in str(cfg.get("_class_name", "")).lower()
        or "conditioning_embedding_out_channels" in cfg
    )


def _is_unet(cfg: dict[str, Any]) -> bool:
    cls = str(cfg.get("_class_name", ""))
    return cls in ("SatUNet", "UNet2DConditionModel") or all(
        k in cfg for k in ("down_block_types", "up_block_types", "cross_attention_dim")
    )


def _is_sat_unet(cfg: dict[str, Any], shapes: _Shapes) -> bool:
    if cfg.get("_class_name") == "SatUNet":
        return True
    if cfg.get("use_metadata") and int(cfg.get("num_metadata") or 0) > 0:
        return True
    return shapes.has_metadata()  # a DiffusionSat UNet saved under the stock class name


def _model_facts(cfg: dict[str, Any], rel: str) -> dict[str, Any]:
    facts = K.empty_facts()
    cad = cfg.get("cross_attention_dim")
    facts.update(
        class_name=cfg.get("_class_name"),
        layout="model",
        weights_dir=rel,
        sample_size=cfg.get("sample_size"),
        in_channels=cfg.get("in_channels"),
        cross_attention_dim=cad,
        base_family=K.family_of(cad),
    )
    return facts


def _metadata_facts(facts: dict[str, Any], cfg: dict[str, Any], shapes: _Shapes | None) -> None:
    use = cfg.get("use_metadata")
    if use is None:
        use = bool(shapes and shapes.has_metadata())
    facts["use_metadata"] = bool(use)
    facts["num_metadata"] = int(cfg.get("num_metadata", 7)) if use else 0


def classify_model_dir(folder: Path, root: Path, trust_pickle: bool) -> tuple[str | None, dict[str, Any]]:
    """Kind and facts of a folder with one model's config.json (kind None: a component, e.g. a stock UNet)."""
    cfg = _read_json(folder / "config.json") or {}
    rel = _rel(folder, root)
    facts = _model_facts(cfg, rel)
    shapes = _Shapes(folder, trust_pickle)
    if _is_controlnet(cfg):
        facts["conditioning_channels"] = cfg.get(
            "conditioning_in_channels", cfg.get("conditioning_channels", 3)
        )
        cls = str(cfg.get("_class_name", ""))
        if cls.upper().endswith("3D") or "use_temporal_transformer" in cfg or shapes.has_5d():
            _metadata_facts(facts, cfg, shapes)
            facts["temporal"] = True
            return K.DIFFUSIONSAT_3D, facts
        facts["temporal"] = False
        sat_keys = ("conditioning_in_channels", "conditioning_scale", "use_metadata")
        if cls.startswith("Sat") or any(k in cfg for k in sat_keys) or shapes.has_metadata():
            _metadata_facts(facts, cfg, shapes)
            facts["conditioning_scale"] = cfg.get("conditioning_scale", 1)
            return K.DIFFUSIONSAT_SR, facts
        facts["num_metadata"] = 0
        facts["use_metadata"] = False
        return K.CONTROLNET, facts
    if _is_unet(cfg) and _is_sat_unet(cfg, shapes):
        _metadata_facts(facts, cfg, shapes)
        return K.DIFFUSIONSAT, facts
    return None, facts


@dataclass
class _Pipeline:
    rel: str
    kind: str | None
    facts: dict[str, Any]
    components: set[str]


def classify_pipeline(folder: Path, root: Path, trust_pickle: bool) -> _Pipeline:
    """A model_index.json folder: SD pipeline, DiffusionSat pipeline (SatUNet), or only context (no unet/)."""
    index = _read_json(folder / "model_index.json") or {}
    components = {k for k, v in index.items() if isinstance(v, list)}
    rel = _rel(folder, root)
    unet_dir = folder / "unet"
    unet_cfg = _read_json(unet_dir / "config.json")
    scheduler = _read_json(folder / "scheduler" / "scheduler_config.json")
    vae = _read_json(folder / "vae" / "config.json")
    facts = _model_facts(unet_cfg or {}, _rel(unet_dir, root))
    facts.update(layout="pipeline", pipeline_dir=rel, class_name=index.get("_class_name"))
    if vae and isinstance(vae.get("block_out_channels"), list):
        facts["vae_scale_factor"] = 2 ** (len(vae["block_out_channels"]) - 1)
    if scheduler is not None:
        facts["prediction_type"] = scheduler.get(
            "prediction_type"
        )  # missing: decided per kind in find_models
    unet_spec = index.get("unet")
    spec_sat = isinstance(unet_spec, list) and "SatUNet" in [str(s) for s in unet_spec]
    kind = None
    shapes = _Shapes(unet_dir, trust_pickle)
    if unet_cfg is not None and (spec_sat or _is_sat_unet(unet_cfg, shapes)):
        kind = K.DIFFUSIONSAT
        _metadata_facts(facts, unet_cfg, shapes)
    elif unet_cfg is not None and _is_unet(unet_cfg):
        kind = K.SD_PIPELINE
        facts["num_metadata"], facts["use_metadata"] = 0, False
        if facts["sample_size"] and facts["vae_scale_factor"]:
            facts["resolution"] = int(facts["sample_size"]) * int(facts["vae_scale_factor"])
            facts["resolution_source"] = "config"
    return _Pipeline(rel, kind, facts, components)


def classify_lora_file(path: Path, root: Path, trust_pickle: bool) -> Detection | None:
    """A LoRA weights file, or None.

    Raises:
        ModelError: a single-file Stable Diffusion checkpoint (geogen needs the diffusers folder layout).
    """
    shapes = _shapes_of(path, trust_pickle)
    meta = safetensors_metadata(path) if path.suffix.lower() == SAFETENSORS_SUFFIX else {}
    facts = lora_facts(shapes, meta)
    if facts is None:
        if any(k.startswith("model.diffusion_model.") for k in shapes):
            raise ModelError(
                f"{path} is a single-file Stable Diffusion checkpoint; geogen needs the diffusers "
                "folder layout (model_index.json + unet/, vae/, ...): convert it with diffusers first"
            )
        return None
    facts["weights_file"] = _rel(path, root)
    facts["weights_dir"] = _rel(path.parent, root)
    return Detection(K.LORA, root, facts)


def _walk(root: Path) -> list[Path]:
    """Folders under ``root`` (itself included) down to MAX_DEPTH, hidden ones skipped, shallow first."""
    out = []
    for dirpath, dirnames, _ in os.walk(root):
        depth = len(Path(dirpath).relative_to(root).parts)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if depth < MAX_DEPTH else []
        out.append(Path(dirpath))
    return out


def _checkpoint_step(rel: str) -> int:
    steps = [int(m.group(1)) for m in _CHECKPOINT.finditer(rel)]
    return max(steps) if steps else -1


def _resolution_hint(*names: str) -> int | None:
    found = {int(m) for n in names for m in _RESOLUTION_HINT.findall(n)}
    return found.pop() if len(found) == 1 else None


def find_models(path: Path, *, trust_pickle: bool = False) -> list[Detection]:
    """Every model found at ``path`` (a folder, or a LoRA file), best first in PRIORITY order.

    Raises:
        ModelError: the path does not exist, or a weights file cannot be read safely.
    """
    path = Path(path)
    if not path.exists():
        raise ModelError(f"no such file or folder: {path}")
    if path.is_file():
        if path.suffix.lower() not in WEIGHT_SUFFIXES:
            return []
        lora = classify_lora_file(path, path.parent, trust_pickle)
        if lora:
            lora.facts.update(
                pickle_files=weight_pickles([path.name]), weights_format=weights_format([path.name])
            )
        return [lora] if lora else []
    root = path
    pipelines: list[_Pipeline] = []
    found: list[Detection] = []
    owned: set[Path] = set()
    for folder in _walk(root):
        if (folder / "model_index.json").is_file():
            p = classify_pipeline(folder, root, trust_pickle)
            pipelines.append(p)
            owned.update(folder / c for c in p.components)
            if p.kind:
                found.append(Detection(p.kind, root, p.facts))
        if (folder / "config.json").is_file() and folder not in owned:
            kind, facts = classify_model_dir(folder, root, trust_pickle)
            if kind:
                found.append(Detection(kind, root, facts))
    for det in found:  # a bare DiffusionSat UNet (checkpoint-N/unet) borrows its pipeline's scheduler and VAE
        if det.kind == K.DIFFUSIONSAT and det.facts["pipeline_dir"] is None:
            wd = PurePosixPath(det.facts["weights_dir"])
            for p in sorted(pipelines, key=lambda p: -len(PurePosixPath(p.rel).parts)):  # nearest first
                if p.rel == "." or PurePosixPath(p.rel) in wd.parents:
                    det.facts.update(
                        pipeline_dir=p.rel,
                        vae_scale_factor=p.facts["vae_scale_factor"],
                        prediction_type=p.facts["prediction_type"],
                    )
                    break
    if not found:
        for f in sorted(root.iterdir()):
            if f.is_file() and f.suffix.lower() in WEIGHT_SUFFIXES:
                lora = classify_lora_file(f, root, trust_pickle)
                if lora:
                    found.append(lora)
        found.sort(key=lambda d: not str(d.facts["weights_file"]).endswith(SAFETENSORS_SUFFIX))
    found.sort(
        key=lambda d: (
            K.PRIORITY.index(d.kind),
            d.facts["layout"] != "pipeline",
            -_checkpoint_step(str(d.facts["weights_dir"])),
            len(PurePosixPath(str(d.facts["weights_dir"])).parts),
        )
    )
    files = list_files(root)
    for det in found:
        det.facts["pickle_files"] = weight_pickles(files)
        det.facts["weights_format"] = weights_format(files)
        if det.kind in (K.DIFFUSIONSAT, K.DIFFUSIONSAT_SR, K.DIFFUSIONSAT_3D):
            det.facts["prediction_type"] = det.facts["prediction_type"] or "v_prediction"
        elif det.kind == K.SD_PIPELINE:
            det.facts["prediction_type"] = det.facts["prediction_type"] or "epsilon"  # diffusers' default
        if det.kind == K.DIFFUSIONSAT and det.facts["resolution"] is None:
            hint = _resolution_hint(root.name, str(det.facts["weights_dir"]))
            if hint:
                det.facts.update(resolution=hint, resolution_source="name")
    return found


def detect(path: Path, kind: str | None = None, *, trust_pickle: bool = False) -> Detection:
    """The model at ``path``: the most specific one found, or the one of ``kind`` when given.

    Raises:
        ModelError: nothing recognisable (the message says what was expected), or no model of ``kind`` there.
    """
    if kind is not None:
        K.check_kind(kind)
    found = find_models(path, trust_pickle=trust_pickle)
    if not found:
        raise ModelError(f"{path} matches no model kind geogen knows; {EXPECTED}")
    if kind is None:
        return found[0]
    for det in found:
        if det.kind == kind:
            return det
    seen = ", ".join(dict.fromkeys(K.label(d.kind) for d in found))
    raise ModelError(f"{path} is not a {K.label(kind)} (--kind {kind}); it holds: {seen}")
