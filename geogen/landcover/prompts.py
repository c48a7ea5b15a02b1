"""Prompts for land-cover-conditioned generation, in the caption form Seg2Sat's ControlNet was trained on.

Training captions read "Aerial view of <place>. <comma-separated classes present>." (the place from reverse
geocoding); the user's own text (a style modifier such as "High resolution satellite image, 4K") follows.
Each generation window gets its own prompt: the classes present in that window, in vocabulary order.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from geogen.landcover.vocab import FLAIR19, NODATA, Vocabulary, class_names


def classes_present(class_map: np.ndarray, vocab: Vocabulary = FLAIR19) -> list[str]:
    """Names of the classes in ``class_map`` (H, W codes), in vocabulary order; nodata (0) is not a class."""
    codes = np.unique(np.asarray(class_map))
    return class_names((int(c) for c in codes if int(c) != NODATA), vocab)


def _sentence(text: str) -> str:
    text = " ".join(text.split()).strip()
    return text if not text or text.endswith((".", "!", "?")) else text + "."


def scene_prompt(classes: Iterable[str], place: str | None = None, extra: str | None = None) -> str:
    """ "Aerial view of <place>. <class>, <class>." then ``extra`` (the user's prompt or modifier), if any.

    Without a place the first sentence is "Aerial view."; without classes the class sentence is left out.
    """
    place = " ".join((place or "").split())
    parts = [f"Aerial view of {place}." if place else "Aerial view."]
    names = list(classes)
    if names:
        parts.append(", ".join(names) + ".")
    if extra and extra.strip():
        parts.append(_sentence(extra))
    return " ".join(parts)


def window_prompt(
    class_map: np.ndarray, vocab: Vocabulary = FLAIR19, place: str | None = None, extra: str | None = None
) -> str:
    """The prompt of one generation window: :func:`scene_prompt` with the classes present in ``class_map``."""
    return scene_prompt(classes_present(class_map, vocab), place, extra)
