"""User class mappings: the user's land-cover values (raster codes, attribute values) -> engine class codes.

A mapping file is JSON, one object: ``{"input value": "engine class name or code", ...}``, e.g.
``{"1": "agricultural land", "2": 16, "urban": "impervious surface", "0": "nodata"}``.

- Keys are compared as text, trimmed and case-insensitively; numeric keys as numbers, so ``"2"``, ``"2.0"``
  and a raster value 2 are the same key. A JSON ``null`` attribute matches the key ``"null"``.
- Targets are class names (any case, ``_``/``-`` for spaces) or codes of the engine's vocabulary, or
  ``"nodata"`` / ``0`` to leave those pixels out of the output (transparent).
- A value the mapping does not cover is an error, never silently dropped: :class:`ClassMappingError` lists
  every unmapped value at once, so the user can fix the file in one go. The input's own nodata value always
  maps to nodata.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geogen.errors import ClassMappingError, InputFileError
from geogen.landcover.vocab import FLAIR19, NODATA, Vocabulary

_NODATA_NAMES = {"nodata", "no data", "none", "outside", "transparent"}
_MAX_LISTED = 50


def canonical_key(value: object) -> str:
    """The form in which input values and mapping keys are compared (see the module docstring)."""
    if value is None:
        return "null"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isfinite(f) and f.is_integer():
            return str(int(f))
        return repr(f)
    text = " ".join(str(value).split()).casefold()
    try:
        number = float(text)
    except ValueError:
        return text
    return canonical_key(number) if math.isfinite(number) else text


def _list_values(values: Iterable[object]) -> str:
    shown = sorted({canonical_key(v) for v in values}, key=lambda k: (len(k), k))
    text = ", ".join(repr(v) for v in shown[:_MAX_LISTED])
    if len(shown) > _MAX_LISTED:
        text += f" and {len(shown) - _MAX_LISTED} more"
    return text


@dataclass(frozen=True)
class ClassMapping:
    """A validated mapping from canonical input keys to engine class codes (0 = nodata)."""

    table: Mapping[str, int]
    vocab: Vocabulary = FLAIR19
    source: str = "mapping"

    @classmethod
    def from_dict(
        cls, entries: Mapping[str, object], vocab: Vocabulary = FLAIR19, source: str = "mapping"
    ) -> ClassMapping:
        """Validate ``{"input value": class name or code}``.

        Raises:
            ClassMappingError: targets naming no class (all listed), or two keys that compare equal.
        """
        if not isinstance(entries, Mapping) or not entries:
            raise ClassMappingError(
                f"{source}: a class mapping must be a non-empty JSON object, got {entries!r}"
            )
        table: dict[str, int] = {}
        bad: list[str] = []
        for key, target in entries.items():
            ckey = canonical_key(key)
            if ckey in table:
                raise ClassMappingError(f"{source}: keys {key!r} and another key both mean {ckey!r}")
            if isinstance(target, str) and target.strip().lower() in _NODATA_NAMES:
                table[ckey] = NODATA
                continue
            if (
                isinstance(target, (int, np.integer))
                and not isinstance(target, bool)
                and int(target) == NODATA
            ):
                table[ckey] = NODATA
                continue
            try:
                table[ckey] = vocab.code(target)  # type: ignore[arg-type]
            except ClassMappingError:
                bad.append(f"{key!r} -> {target!r}")
        if bad:
            raise ClassMappingError(
                f"{source}: targets that are not classes of vocabulary {vocab.name!r}: {'; '.join(bad)} "
                f"(use a class name or code, or 'nodata'; classes: "
                + ", ".join(f"{c.code}={c.name}" for c in vocab.classes)
                + ")"
            )
        return cls(table, vocab, source)

    @classmethod
    def from_file(cls, path: str | Path, vocab: Vocabulary = FLAIR19) -> ClassMapping:
        """Read and validate a JSON mapping file.

        Raises:
            InputFileError: the file is missing or unreadable.
            ClassMappingError: not valid JSON, not an object, or targets naming no class.
        """
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputFileError(f"cannot read class mapping file {str(p)!r}: {exc.strerror or exc}") from exc
        try:
            entries = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ClassMappingError(f"class mapping file {str(p)!r} is not valid JSON: {exc}") from exc
        return cls.from_dict(entries, vocab, source=f"class mapping file {str(p)!r}")

    def map_value(self, value: object) -> int:
        """The engine code of one input value.

        Raises:
            ClassMappingError: the mapping does not cover the value.
        """
        return self.map_values([value])[0]

    def map_values(self, values: Iterable[object]) -> list[int]:
        """Engine codes of input values (e.g. one attribute value per polygon), in order.

        Raises:
            ClassMappingError: listing every value the mapping does not cover.
        """
        values = list(values)
        keys = [canonical_key(v) for v in values]
        missing = [v for v, k in zip(values, keys, strict=True) if k not in self.table]
        if missing:
            raise self._unmapped(missing)
        return [self.table[k] for k in keys]

    def map_array(self, array: np.ndarray, nodata: float | int | None = None) -> np.ndarray:
        """Map a class raster (any numeric dtype) to engine codes, (H, W) uint8; ``nodata`` (and NaN) -> 0.

        Raises:
            ClassMappingError: listing every raster value the mapping does not cover.
        """
        arr = np.asarray(array)
        if arr.dtype.kind not in "iuf":
            raise ClassMappingError(f"a class raster must be numeric, got {arr.dtype}")
        values, inverse = np.unique(arr, return_inverse=True)
        lut = np.zeros(len(values), dtype=np.uint8)
        missing = []
        for i, v in enumerate(values.tolist()):
            if (nodata is not None and v == nodata) or (isinstance(v, float) and math.isnan(v)):
                continue
            code = self.table.get(canonical_key(v))
            if code is None:
                missing.append(v)
            else:
                lut[i] = code
        if missing:
            raise self._unmapped(missing)
        return lut[inverse.reshape(arr.shape)]

    def _unmapped(self, values: list[object]) -> ClassMappingError:
        n = len({canonical_key(v) for v in values})
        return ClassMappingError(
            f"{self.source} does not map {n} input value{'s' if n != 1 else ''}: {_list_values(values)}; "
            f"add them (to a class of {self.vocab.name!r} or to 'nodata')"
        )


def load_mapping(
    spec: str | Path | Mapping[str, object] | None, vocab: Vocabulary = FLAIR19, base: Path | None = None
) -> ClassMapping | None:
    """A mapping from a job's ``mapping`` field: a JSON file path (relative to ``base``), a dict, or None.

    Raises:
        InputFileError: the file is missing or unreadable.
        ClassMappingError: the mapping is invalid.
    """
    if spec is None:
        return None
    if isinstance(spec, Mapping):
        return ClassMapping.from_dict(spec, vocab)
    path = Path(spec)
    if base is not None and not path.is_absolute():
        path = base / path
    return ClassMapping.from_file(path, vocab)


def code_lookup(
    spec: str | Path | Mapping[str, object] | None, vocab: Vocabulary = FLAIR19, base: Path | None = None
) -> Callable[[object], int | None]:
    """Input class value -> engine code, or None when unmapped (the caller lists all unmapped values at once).

    With a mapping (file path, relative to ``base``, or dict) values go through it; without one they must
    already be class codes or class names of ``vocab``.

    Raises:
        InputFileError: the mapping file is missing or unreadable.
        ClassMappingError: the mapping is invalid.
    """
    mapping = load_mapping(spec, vocab, base)
    if mapping is not None:
        table = mapping.table
        return lambda value: table.get(canonical_key(value))

    def direct(value: object) -> int | None:
        key = canonical_key(value)
        try:
            return vocab.code(int(key) if key.lstrip("-").isdigit() else key)
        except ClassMappingError:
            return None

    return direct


def check_codes(class_map: np.ndarray, vocab: Vocabulary = FLAIR19) -> np.ndarray:
    """A class raster that should already hold engine codes, as (H, W) uint8 (no mapping given).

    Raises:
        ClassMappingError: listing every value that is neither 0 (nodata) nor a class code of ``vocab``.
    """
    arr = np.asarray(class_map)
    if arr.dtype.kind not in "iuf":
        raise ClassMappingError(f"a class raster must be numeric, got {arr.dtype}")
    values = np.unique(arr)
    bad = [
        v for v in values.tolist() if not (float(v).is_integer() and (int(v) == NODATA or int(v) in vocab))
    ]
    if bad:
        raise ClassMappingError(
            f"the class raster holds {len(bad)} value{'s' if len(bad) != 1 else ''} that are not classes of "
            f"{vocab.name!r}: {_list_values(bad)}; give a class mapping file for them"
        )
    return arr.astype(np.uint8)
