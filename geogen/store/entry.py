"""What engines get from the store: ``ModelEntry`` (where a model is, its kind and facts) and kind checks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geogen.errors import ModelError
from geogen.store import kinds as K


@dataclass(frozen=True)
class ModelEntry:
    """An installed model (or a folder detected on the fly: ``installed`` False, files without sha256).

    ``path`` is the model's folder; the main model's config/weights are in ``path / facts["weights_dir"]``,
    a LoRA's file is ``path / facts["weights_file"]``, a pipeline's model_index.json is in
    ``facts["pipeline_dir"]``.
    """

    name: str
    kind: str
    path: Path
    facts: dict[str, Any]
    files: dict[str, dict[str, Any]]
    linked: bool = False
    source: str | None = None
    licence: str | None = None
    trust_pickle: bool = False
    added: str | None = None
    installed: bool = True
    catalog: str | None = field(default=None)

    @property
    def label(self) -> str:
        return K.label(self.kind)

    @property
    def weights_path(self) -> Path:
        """The main model's folder (a LoRA: its weights file)."""
        if self.facts.get("weights_file"):
            return self.path / self.facts["weights_file"]
        return self.path / (self.facts.get("weights_dir") or ".")

    @property
    def pipeline_path(self) -> Path | None:
        rel = self.facts.get("pipeline_dir")
        return self.path / rel if rel else None

    @property
    def size_bytes(self) -> int:
        return sum(int(f.get("size", 0)) for f in self.files.values())

    def to_json(self, *, with_files: bool = True) -> dict[str, Any]:
        """Plain JSON (for ``geogen models list/info --json`` and the QGIS plugin)."""
        out = {
            "name": self.name,
            "kind": self.kind,
            "label": self.label,
            "path": str(self.path),
            "weights_path": str(self.weights_path),
            "linked": self.linked,
            "installed": self.installed,
            "source": self.source,
            "catalog": self.catalog,
            "licence": self.licence,
            "trust_pickle": self.trust_pickle,
            "added": self.added,
            "size_bytes": self.size_bytes,
            "facts": dict(self.facts),
        }
        if with_files:
            out["files"] = {k: dict(v) for k, v in self.files.items()}
        return out


def require_kind(entry: ModelEntry, kinds: str | Iterable[str]) -> ModelEntry:
    """``entry`` if it is one of ``kinds``.

    Raises:
        ModelError: e.g. "model 'x' is a LoRA; this engine needs a DiffusionSat single-image model".
    """
    wanted = [kinds] if isinstance(kinds, str) else list(kinds)
    if entry.kind in wanted:
        return entry
    needs = " or a ".join(K.label(k) for k in wanted)
    raise ModelError(f"model {entry.name!r} is a {entry.label}; this engine needs a {needs}")
