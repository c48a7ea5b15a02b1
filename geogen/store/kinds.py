"""The kinds of model the store knows, their human names, and the facts recorded for each.

Engines ask for kinds (``require_kind``); detection (``geogen.store.detect``) decides which kind a folder is.
"""

from __future__ import annotations

from geogen.errors import ModelError

DIFFUSIONSAT = "diffusionsat"
DIFFUSIONSAT_SR = "diffusionsat-sr-controlnet"
DIFFUSIONSAT_3D = "diffusionsat-3d-controlnet"
SD_PIPELINE = "sd-pipeline"
CONTROLNET = "controlnet"
LORA = "lora"

KIND_LABELS: dict[str, str] = {
    DIFFUSIONSAT: "DiffusionSat single-image model",
    DIFFUSIONSAT_SR: "DiffusionSat super-resolution ControlNet",
    DIFFUSIONSAT_3D: "DiffusionSat 3-D (temporal) ControlNet",
    SD_PIPELINE: "Stable Diffusion pipeline",
    CONTROLNET: "ControlNet",
    LORA: "LoRA",
}
KINDS: tuple[str, ...] = tuple(KIND_LABELS)

# When a folder holds several models, the most specific one is what the user meant.
PRIORITY: tuple[str, ...] = (DIFFUSIONSAT_3D, DIFFUSIONSAT_SR, DIFFUSIONSAT, CONTROLNET, SD_PIPELINE, LORA)

# Every entry's facts carry all these keys (None where unknown or not applicable), so engines and the QGIS
# plugin can read them without guessing.
FACT_KEYS: tuple[str, ...] = (
    "class_name",  # config _class_name of the main model
    "layout",  # "pipeline" (model_index.json), "model" (one config.json folder) or "file" (LoRA)
    "weights_dir",  # folder of the main model's config + weights, relative to the entry path ("." = itself)
    "weights_file",  # LoRA: the weights file, relative to the entry path
    "pipeline_dir",  # folder holding model_index.json, relative to the entry path, if any
    "resolution",  # native output size in pixels
    "resolution_source",  # "config" (sample_size x VAE factor), "catalog", "user" or "name"
    "sample_size",  # latent sample size from the UNet config
    "vae_scale_factor",  # 2 ** (len(vae block_out_channels) - 1)
    "prediction_type",  # "epsilon" / "v_prediction" (scheduler config; DiffusionSat default v_prediction)
    "in_channels",  # latent channels of the UNet / ControlNet
    "conditioning_channels",  # ControlNets: channels of the condition image
    "conditioning_scale",  # DiffusionSat SR ControlNet: target / condition resolution
    "cross_attention_dim",  # 768 (SD-1.x), 1024 (SD-2.x), 2048 (SDXL)
    "use_metadata",  # DiffusionSat metadata conditioning on
    "num_metadata",  # number of metadata fields (DiffusionSat: 7), 0 when none
    "base_family",  # "sd1", "sd2", "sdxl" from cross_attention_dim
    "temporal",  # True for the 3-D ControlNet
    "weights_format",  # "safetensors", "pickle" or "mixed"
    "pickle_files",  # relative paths of .bin/.pt/.pth/.ckpt files
    "lora_format",  # "kohya" (lora_unet_/lora_te_) or "peft" (lora_A/lora_B, diffusers)
    "lora_rank",
    "lora_targets",  # ["unet", "text_encoder"]
)

_FAMILIES = {768: "sd1", 1024: "sd2", 2048: "sdxl"}


def label(kind: str) -> str:
    """The human name of ``kind`` (the kind itself when unknown)."""
    return KIND_LABELS.get(kind, kind)


def family_of(cross_attention_dim: object) -> str | None:
    """ "sd1" / "sd2" / "sdxl" from the text-embedding width the model attends to."""
    return _FAMILIES.get(cross_attention_dim) if isinstance(cross_attention_dim, int) else None


def empty_facts() -> dict[str, object]:
    return dict.fromkeys(FACT_KEYS)


def check_kind(kind: str) -> str:
    """``kind`` if it is one geogen knows.

    Raises:
        ModelError: unknown kind (the message lists the known ones).
    """
    if kind not in KIND_LABELS:
        raise ModelError(f"unknown model kind {kind!r}; known kinds: {', '.join(KINDS)}")
    return kind
