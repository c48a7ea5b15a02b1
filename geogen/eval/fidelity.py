"""Class fidelity: does each land-cover class look, in colour and texture, like it does in a real image?

For every class present in both the generated image's class map and the reference's, five per-pixel features
are compared between the two images: red, green, blue, the luminance gradient magnitude (Sobel; edges and
fine texture) and the local luminance standard deviation over 5 x 5 px (texture). For each feature the
distance is the 1-Wasserstein distance between the class's distributions in the two images (mean absolute
difference of 19 matched quantiles, 5 % to 95 %), divided by the feature's standard deviation over the whole
reference so that features are comparable. So it captures mean, spread and shape of colours and textures.

- a class's ``colour`` distance is the mean over R, G, B; its ``texture`` distance the mean over the two
  texture features; its ``distance`` the mean of those two;
- the overall ``distance`` is the mean of the class distances weighted by the class's pixels in the generated
  map; ``score = 1 / (1 + distance)`` maps it to 0..1.

Lower distance / higher score is better; an image compared with itself scores distance 0, score 1. Classes
absent from the reference are listed under ``unmatched`` and left out.

The repetition score (``repetition_score``) is defined in :mod:`geogen.eval.repetition`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from geogen.eval.repetition import repetition_score
from geogen.landcover.vocab import FLAIR19, NODATA, Vocabulary

__all__ = ["FEATURES", "class_fidelity", "features", "repetition_score"]

FEATURES = ("red", "green", "blue", "gradient", "local_std")
_QUANTILES = np.linspace(0.05, 0.95, 19)
_MIN_PIXELS = 64


def features(image: np.ndarray) -> np.ndarray:
    """(5, H, W) float32 per-pixel features of a (3, H, W) RGB image, in the order of ``FEATURES``."""
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 3 or img.shape[0] != 3:
        raise ValueError(f"expected a (3, H, W) RGB image, got {img.shape}")
    lum = 0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2]
    grad = np.hypot(ndimage.sobel(lum, axis=0), ndimage.sobel(lum, axis=1)) / 8.0
    mean = ndimage.uniform_filter(lum, 5)
    local_std = np.sqrt(np.maximum(ndimage.uniform_filter(lum * lum, 5) - mean * mean, 0.0))
    return np.stack([img[0], img[1], img[2], grad, local_std]).astype(np.float32)


def _check(image: np.ndarray, class_map: np.ndarray, name: str) -> None:
    if np.asarray(image).shape[1:] != np.asarray(class_map).shape:
        raise ValueError(
            f"{name}: image {np.asarray(image).shape} and class map {np.asarray(class_map).shape} "
            "differ in size"
        )


def class_fidelity(
    image: np.ndarray,
    class_map: np.ndarray,
    reference_image: np.ndarray,
    reference_map: np.ndarray,
    vocab: Vocabulary = FLAIR19,
) -> dict:
    """Per-class and overall colour/texture distance of ``image`` to ``reference_image``; see the module doc.

    Args:
        image: (3, H, W) generated RGB; class_map: (H, W) its class codes (0 = nodata, ignored).
        reference_image, reference_map: a real image and its class map (any size).
        vocab: for class names in the result.

    Returns:
        ``{"distance", "score", "colour", "texture", "per_class": {name: {"code", "pixels", "distance",
        "colour", "texture", "features": {feature: distance}}}, "unmatched": [names]}``.

    Raises:
        ValueError: mismatched shapes, or no class shared by the two maps.
    """
    _check(image, class_map, "image")
    _check(reference_image, reference_map, "reference")
    cm, rm = np.asarray(class_map), np.asarray(reference_map)
    f_out, f_ref = features(image), features(reference_image)
    ref_valid = rm != NODATA
    scale = np.maximum(f_ref[:, ref_valid].std(axis=1), 1e-6)

    per_class: dict[str, dict] = {}
    unmatched: list[str] = []
    weights, dists, colours, textures = [], [], [], []
    for code in np.unique(cm).tolist():
        if code == NODATA:
            continue
        name = vocab[code].name if code in vocab else str(code)
        out_px, ref_px = cm == code, rm == code
        if out_px.sum() < _MIN_PIXELS or ref_px.sum() < _MIN_PIXELS:
            unmatched.append(name)
            continue
        q_out = np.quantile(f_out[:, out_px], _QUANTILES, axis=1)
        q_ref = np.quantile(f_ref[:, ref_px], _QUANTILES, axis=1)
        per_feature = np.abs(q_out - q_ref).mean(axis=0) / scale
        colour, texture = float(per_feature[:3].mean()), float(per_feature[3:].mean())
        dist = 0.5 * (colour + texture)
        per_class[name] = {
            "code": int(code),
            "pixels": int(out_px.sum()),
            "distance": dist,
            "colour": colour,
            "texture": texture,
            "features": {f: float(d) for f, d in zip(FEATURES, per_feature, strict=True)},
        }
        weights.append(float(out_px.sum()))
        dists.append(dist)
        colours.append(colour)
        textures.append(texture)
    if not per_class:
        raise ValueError("the class map and the reference map share no class with enough pixels to compare")
    w = np.asarray(weights) / sum(weights)
    distance = float(np.dot(w, dists))
    return {
        "distance": distance,
        "score": 1.0 / (1.0 + distance),
        "colour": float(np.dot(w, colours)),
        "texture": float(np.dot(w, textures)),
        "per_class": per_class,
        "unmatched": unmatched,
    }
