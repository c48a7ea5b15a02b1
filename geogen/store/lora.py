"""LoRA weights by their tensor names: kohya/A1111 (lora_unet_*, lora_te_*) or diffusers/PEFT (lora_A/lora_B).

The rank is the first dimension of a down/A matrix; the base model family follows from the width of a
cross-attention key projection (attn2.to_k: 768 SD-1.x, 1024 SD-2.x, 2048 SDXL) or of the text encoder.
"""

from __future__ import annotations

from typing import Any

from geogen.store import kinds as K


def lora_facts(shapes: dict[str, tuple[int, ...]], meta: dict[str, str]) -> dict[str, Any] | None:
    """LoRA facts from tensor names/shapes (and kohya's metadata), or None when these are not LoRA weights."""
    keys = list(shapes)
    kohya = any(k.startswith(("lora_unet_", "lora_te_", "lora_te1_", "lora_te2_")) for k in keys)
    peft = any(
        ".lora_A." in k
        or ".lora_B." in k
        or ".lora.down." in k
        or "_lora.down." in k
        or ".lora_linear_layer.down." in k
        for k in keys
    )
    if not (kohya or peft):
        return None
    downs = [
        k
        for k in keys
        if k.endswith(("lora_down.weight", "lora_A.weight", "lora.down.weight"))
        or ".lora_linear_layer.down." in k
        or "_lora.down." in k
    ]
    rank = shapes[downs[0]][0] if downs and shapes[downs[0]] else None
    targets = []
    if any(k.startswith(("lora_unet_", "unet.")) or "down_blocks" in k or "mid_block" in k for k in keys):
        targets.append("unet")
    if any(k.startswith(("lora_te", "text_encoder")) or "text_model" in k for k in keys):
        targets.append("text_encoder")
    cad = next((shapes[k][1] for k in downs if "attn2" in k and "to_k" in k and len(shapes[k]) == 2), None)
    if cad is None:  # text-encoder-only LoRA: its width says which CLIP (768 SD-1.x, 1024 SD-2.x)
        cad = next((shapes[k][1] for k in downs if "q_proj" in k and len(shapes[k]) == 2), None)
    family = K.family_of(cad)
    if family is None and meta.get("ss_v2") in ("True", "False"):
        family = "sd2" if meta["ss_v2"] == "True" else "sd1"
    facts = K.empty_facts()
    facts.update(
        layout="file",
        lora_format="kohya" if kohya else "peft",
        lora_rank=rank,
        lora_targets=targets,
        cross_attention_dim=cad,
        base_family=family,
    )
    return facts
