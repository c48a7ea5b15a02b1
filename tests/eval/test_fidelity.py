"""Class fidelity and repetition score on the real FLAIR pairs, and the exemplar engine measured by them."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from scipy import ndimage

from geogen.engines.exemplar import synthesize
from geogen.eval.baselines import flat_fill
from geogen.eval.fidelity import class_fidelity, repetition_score

IDS = ("067998", "073879", "076201")


@pytest.fixture(scope="module")
def pairs(test_data):
    folder = test_data / "flair1_aerial_masks"
    out = {}
    for i in IDS:
        with rasterio.open(folder / f"IMG_{i}_RGB.tif") as src:
            image = src.read()
        with rasterio.open(folder / f"MSK_{i}.tif") as src:
            out[i] = (image, src.read(1))
    return out


@pytest.fixture(scope="module")
def leave_one_out(pairs):
    """For each pair B: the engine's image for B's map from the two other pairs, and the flat-colour fill."""
    result = {}
    for target in IDS:
        exemplars = [pairs[i] for i in IDS if i != target]
        image, _ = synthesize(pairs[target][1], exemplars, seed=0)
        result[target] = (image, flat_fill(pairs[target][1], exemplars))
    return result


@pytest.mark.parametrize("flair_id", IDS)
def test_real_image_against_itself_is_perfect(pairs, flair_id):
    image, mask = pairs[flair_id]
    fid = class_fidelity(image, mask, image, mask)
    assert fid["distance"] == 0.0 and fid["score"] == 1.0
    assert all(c["distance"] == 0.0 for c in fid["per_class"].values())
    assert set(fid["per_class"]) >= {"building", "herbaceous vegetation"}


def test_fidelity_sees_colour_and_texture_changes(pairs):
    image, mask = pairs["073879"]
    tinted = np.clip(image.astype(int) + np.array([25, 0, -25])[:, None, None], 0, 255).astype(np.uint8)
    blurred = ndimage.uniform_filter(image, size=(1, 7, 7))
    f_tint = class_fidelity(tinted, mask, image, mask)
    f_blur = class_fidelity(blurred, mask, image, mask)
    assert f_tint["colour"] > 0.2 and f_tint["texture"] < 0.05
    assert f_blur["texture"] > 0.3 and f_blur["texture"] > 3 * f_blur["colour"]


@pytest.mark.parametrize("flair_id", IDS)
def test_exemplar_engine_beats_flat_fill(pairs, leave_one_out, flair_id):
    real, mask = pairs[flair_id]
    engine, flat = leave_one_out[flair_id]
    f_engine = class_fidelity(engine, mask, real, mask)
    f_flat = class_fidelity(flat, mask, real, mask)
    assert f_engine["distance"] < 0.75 * f_flat["distance"]
    assert f_engine["texture"] < 0.5 * f_flat["texture"]


@pytest.mark.parametrize("flair_id", ["067998", "076201"])
def test_real_images_repetition_in_the_real_band(pairs, flair_id):
    assert 0.0 < repetition_score(pairs[flair_id][0]) <= 0.14


@pytest.mark.parametrize("flair_id", IDS)
def test_exemplar_output_repetition_like_real_imagery(leave_one_out, flair_id):
    assert repetition_score(leave_one_out[flair_id][0]) <= 0.14


def test_tiled_copies_score_high_even_rotated_and_recoloured(pairs):
    image = pairs["073879"][0]
    tile = image[:, 100:164, 300:364]
    row = np.concatenate([tile, np.rot90(tile, 1, axes=(1, 2)), tile[:, ::-1], tile], axis=2)
    mosaic = np.concatenate([row, (row * 0.8).astype(np.uint8), row[:, ::-1], row], axis=1)
    assert repetition_score(mosaic) > 0.9


def test_invalid_fidelity_inputs(pairs):
    image, mask = pairs["073879"]
    with pytest.raises(ValueError, match="differ in size"):
        class_fidelity(image, mask[:100], image, mask)
    with pytest.raises(ValueError, match="share no class"):
        class_fidelity(image, np.full_like(mask, 14), image, mask)
