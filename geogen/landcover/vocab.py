"""Land-cover vocabularies: the engine's class codes, names and official colours, and colour-coded conditions.

A vocabulary is what an engine understands. FLAIR-1's 19 classes (IGN, Garioud et al. 2023) with the
legend colours that Seg2Sat's ControlNet was trained on are the default (``"flair19"``). Class code 0 is
never a class: it means nodata / outside the drawn area everywhere in geogen.

Conditions are rendered with exact palette colours (no antialiasing, nearest-neighbour only), so every pixel
of a condition image is a legend colour and the rendering inverts losslessly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from geogen.errors import ClassMappingError

NODATA = 0
"""Class code meaning nodata / outside the area, in every vocabulary."""


@dataclass(frozen=True)
class LandCoverClass:
    """One class: its integer ``code`` (>= 1), display ``name`` and legend ``colour`` (r, g, b)."""

    code: int
    name: str
    colour: tuple[int, int, int]

    @property
    def hex(self) -> str:
        """The colour as ``#rrggbb``."""
        return "#{:02x}{:02x}{:02x}".format(*self.colour)


def _normalise(name: str) -> str:
    return " ".join(name.strip().lower().replace("_", " ").replace("-", " ").split())


@dataclass(frozen=True)
class Vocabulary:
    """An ordered set of classes with unique codes, names and colours."""

    name: str
    classes: tuple[LandCoverClass, ...]
    _by_code: dict[int, LandCoverClass] = field(init=False, repr=False, compare=False)
    _by_name: dict[str, LandCoverClass] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_code = {c.code: c for c in self.classes}
        by_name = {_normalise(c.name): c for c in self.classes}
        colours = {c.colour for c in self.classes}
        if (
            len(by_code) != len(self.classes)
            or len(by_name) != len(self.classes)
            or len(colours) != len(self.classes)
        ):
            raise ValueError(f"vocabulary {self.name!r} has duplicate codes, names or colours")
        if NODATA in by_code or max(by_code) > 255:
            raise ValueError(f"vocabulary {self.name!r}: class codes must lie in 1..255")
        object.__setattr__(self, "_by_code", by_code)
        object.__setattr__(self, "_by_name", by_name)

    @property
    def codes(self) -> tuple[int, ...]:
        """Class codes in vocabulary order."""
        return tuple(c.code for c in self.classes)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __getitem__(self, code: int) -> LandCoverClass:
        """The class with ``code``.

        Raises:
            ClassMappingError: no class has that code.
        """
        try:
            return self._by_code[int(code)]
        except (KeyError, TypeError, ValueError):
            raise ClassMappingError(
                f"{code!r} is not a class code of vocabulary {self.name!r} "
                f"(codes {min(self._by_code)}..{max(self._by_code)})"
            ) from None

    def name_of(self, code: int) -> str:
        """The name of the class with ``code``.

        Raises:
            ClassMappingError: no class has that code.
        """
        return self[code].name

    def label(self, code: int) -> str:
        """``'name' (code)`` for messages; unknown codes are shown as such instead of raising."""
        cls = self._by_code.get(int(code))
        return f"'{cls.name}' ({code})" if cls else f"unknown class {code}"

    def code(self, value: str | int) -> int:
        """The code of a class given by name (any case, '_' or '-' for spaces) or by code (int or digits).

        Raises:
            ClassMappingError: the value names no class of this vocabulary.
        """
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return self[int(value)].code
        if isinstance(value, str):
            text = value.strip()
            if text.isdigit():
                return self[int(text)].code
            cls = self._by_name.get(_normalise(text))
            if cls is not None:
                return cls.code
        raise ClassMappingError(
            f"{value!r} is not a class of vocabulary {self.name!r}; use one of: "
            + ", ".join(f"{c.code}={c.name}" for c in self.classes)
        )

    def palette(self) -> np.ndarray:
        """(256, 3) uint8 lookup table: code -> colour; 0 and codes outside the vocabulary are black."""
        lut = np.zeros((256, 3), dtype=np.uint8)
        for c in self.classes:
            lut[c.code] = c.colour
        return lut


def _flair19() -> Vocabulary:
    legend = [
        (1, "building", "#db0e9a"),
        (2, "pervious surface", "#938e7b"),
        (3, "impervious surface", "#f80c00"),
        (4, "bare soil", "#a97101"),
        (5, "water", "#1553ae"),
        (6, "coniferous", "#194a26"),
        (7, "deciduous", "#46e483"),
        (8, "brushwood", "#f3a60d"),
        (9, "vineyard", "#660082"),
        (10, "herbaceous vegetation", "#55ff00"),
        (11, "agricultural land", "#fff30d"),
        (12, "plowed land", "#e4df7c"),
        (13, "swimming pool", "#3de6eb"),
        (14, "snow", "#ffffff"),
        (15, "clear cut", "#8ab3a0"),
        (16, "mixed", "#6b714f"),
        (17, "ligneous", "#c5dc42"),
        (18, "greenhouse", "#9999ff"),
        (19, "other", "#000000"),
    ]
    classes = tuple(
        LandCoverClass(code, name, (int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16)))
        for code, name, h in legend
    )
    return Vocabulary("flair19", classes)


FLAIR19 = _flair19()
"""FLAIR-1's 19 classes with the official legend colours (IGN; the colours Seg2Sat was trained on)."""

VOCABULARIES: dict[str, Vocabulary] = {"flair19": FLAIR19}
_ALIASES = {"flair1": "flair19", "flair-1": "flair19", "flair": "flair19"}


def get_vocabulary(name: str) -> Vocabulary:
    """The vocabulary called ``name`` (``"flair19"``, also ``"flair1"``/``"flair"``).

    Raises:
        ClassMappingError: unknown vocabulary name.
    """
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    try:
        return VOCABULARIES[key]
    except KeyError:
        raise ClassMappingError(
            f"unknown land-cover vocabulary {name!r}; known: {', '.join(VOCABULARIES)}"
        ) from None


def _unknown_codes(class_map: np.ndarray, vocab: Vocabulary) -> list[int]:
    present = np.unique(class_map)
    return [int(v) for v in present if int(v) != NODATA and int(v) not in vocab]


def render_condition(class_map: np.ndarray, vocab: Vocabulary = FLAIR19) -> np.ndarray:
    """Colour-code a (H, W) class map with the vocabulary's exact legend colours -> (3, H, W) uint8.

    Nodata (0) renders black, as Seg2Sat renders it (so does FLAIR's class 19 'other').

    Raises:
        ClassMappingError: the map holds codes outside the vocabulary (all of them are listed).
    """
    arr = np.asarray(class_map)
    if arr.ndim != 2 or arr.dtype.kind not in "iu":
        raise ClassMappingError(f"a class map must be a 2-D integer array, got {arr.dtype} {arr.shape}")
    unknown = _unknown_codes(arr, vocab)
    if unknown:
        raise ClassMappingError(f"class map holds codes not in vocabulary {vocab.name!r}: {unknown}")
    rgb = vocab.palette()[arr.astype(np.uint8)]
    return np.ascontiguousarray(np.moveaxis(rgb, -1, 0))


def classes_from_condition(condition: np.ndarray, vocab: Vocabulary = FLAIR19) -> np.ndarray:
    """Invert :func:`render_condition`: (3, H, W) legend colours -> (H, W) uint8 class codes.

    Black decodes to the vocabulary's black class when it has one (FLAIR's 19 'other'), else to nodata (0).

    Raises:
        ClassMappingError: pixels whose colour is no legend colour (every such colour is listed, up to 20).
    """
    arr = np.asarray(condition)
    if arr.ndim != 3 or arr.shape[0] != 3 or arr.dtype != np.uint8:
        raise ClassMappingError(f"a condition must be a (3, H, W) uint8 array, got {arr.dtype} {arr.shape}")
    key = (arr[0].astype(np.int32) << 16) | (arr[1].astype(np.int32) << 8) | arr[2].astype(np.int32)
    pairs = [((r << 16) | (g << 8) | b, c.code) for c in vocab.classes for r, g, b in [c.colour]]
    if all(k != 0 for k, _ in pairs):
        pairs.append((0, NODATA))
    colour_keys = np.array([k for k, _ in pairs], dtype=np.int32)
    codes = np.array([code for _, code in pairs], dtype=np.uint8)
    order = np.argsort(colour_keys)
    sorted_keys, sorted_codes = colour_keys[order], codes[order]
    pos = np.clip(np.searchsorted(sorted_keys, key), 0, len(sorted_keys) - 1)
    found = sorted_keys[pos] == key
    if not found.all():
        bad = np.unique(key[~found])
        shown = ", ".join(f"#{int(k):06x}" for k in bad[:20])
        more = f" and {len(bad) - 20} more" if len(bad) > 20 else ""
        raise ClassMappingError(
            f"{int((~found).sum())} condition pixels have colours outside vocabulary {vocab.name!r}: "
            f"{shown}{more}"
        )
    return sorted_codes[pos]


def class_names(codes: Iterable[int], vocab: Vocabulary = FLAIR19) -> list[str]:
    """Names of ``codes`` in vocabulary order, nodata and unknown codes skipped (e.g. for prompts)."""
    wanted = {int(c) for c in codes}
    return [c.name for c in vocab.classes if c.code in wanted]
