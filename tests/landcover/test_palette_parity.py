"""The QGIS plugin's copy of the FLAIR-19 palette equals the backend's: codes, names and colours, in order.

The plugin runs in QGIS's Python and cannot import geogen, so it keeps its own plain-data copy
(``qgis_plugin/common/palette.py``); this test loads that file by path, without QGIS, and compares.
"""

from __future__ import annotations

import importlib.util
from itertools import zip_longest
from pathlib import Path
from types import ModuleType

from geogen.landcover.vocab import FLAIR19

PLUGIN_PALETTE = Path(__file__).resolve().parents[2] / "qgis_plugin" / "common" / "palette.py"


def _load_plugin_palette() -> ModuleType:
    spec = importlib.util.spec_from_file_location("geogen_test_plugin_palette", PLUGIN_PALETTE)
    assert spec is not None and spec.loader is not None, f"cannot load {PLUGIN_PALETTE}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def first_difference(backend: list[tuple[int, str, str]], plugin: list[tuple[int, str, str]]) -> str | None:
    """A message naming the first (code, name, colour) entry that differs, or None when the lists are equal."""
    for i, (b, p) in enumerate(zip_longest(backend, plugin)):
        if b != p:
            return f"entry {i + 1}: backend (geogen.landcover.vocab) has {b}, plugin ({PLUGIN_PALETTE.name}) has {p}"
    return None


def test_plugin_palette_matches_the_backend() -> None:
    plugin = _load_plugin_palette()
    assert FLAIR19.name == plugin.VOCABULARY, "the plugin names another vocabulary"
    backend = [(c.code, c.name, c.hex.lower()) for c in FLAIR19.classes]
    theirs = [(int(c.value), str(c.name), str(c.color).lower()) for c in plugin.FLAIR19]
    difference = first_difference(backend, theirs)
    assert difference is None, difference


def test_a_difference_is_named() -> None:
    backend = [(1, "building", "#db0e9a"), (2, "water", "#1553ae")]
    assert first_difference(backend, backend) is None
    changed = [(1, "building", "#db0e9a"), (2, "water", "#1553af")]
    assert "entry 2" in first_difference(backend, changed) and "#1553af" in first_difference(backend, changed)
    assert "None" in first_difference(backend, backend[:1])
