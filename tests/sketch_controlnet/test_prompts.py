"""The Seg2Sat caption template: "Aerial view of <place>. <classes present>." + the user's text."""

from __future__ import annotations

import numpy as np

from geogen.landcover.prompts import classes_present, scene_prompt, window_prompt
from geogen.landcover.vocab import FLAIR19


def test_template_with_place_classes_and_modifier() -> None:
    prompt = scene_prompt(["building", "water"], "Montpellier, France", "High resolution satellite image, 4K")
    assert (
        prompt == "Aerial view of Montpellier, France. building, water. High resolution satellite image, 4K."
    )


def test_template_without_place_or_classes() -> None:
    assert scene_prompt([], None, None) == "Aerial view."
    assert scene_prompt(["snow"], "  ", "  ") == "Aerial view. snow."
    assert scene_prompt([], "Lyon", "summer!") == "Aerial view of Lyon. summer!"


def test_classes_in_vocabulary_order_without_nodata() -> None:
    class_map = np.array([[10, 0, 1], [19, 1, 5]], dtype=np.uint8)
    assert classes_present(class_map, FLAIR19) == ["building", "water", "herbaceous vegetation", "other"]
    assert window_prompt(class_map, FLAIR19, "Paris") == (
        "Aerial view of Paris. building, water, herbaceous vegetation, other."
    )


def test_empty_window_lists_no_class() -> None:
    assert window_prompt(np.zeros((4, 4), np.uint8)) == "Aerial view."
