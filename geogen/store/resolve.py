"""``resolve``: what engines call to turn a model name (or a folder) into a ``ModelEntry``."""

from __future__ import annotations

from pathlib import Path

from geogen.errors import ModelError
from geogen.store.detect import detect, list_files
from geogen.store.entry import ModelEntry
from geogen.store.store import Store
from geogen.store.weights import weight_pickles, weights_format


def resolve(
    name_or_path: str | Path,
    *,
    store: Store | None = None,
    kind: str | None = None,
    trust_pickle: bool = False,
) -> ModelEntry:
    """The model engines should load: an installed model by name, or a folder/file detected on the fly.

    A name wins over a same-named folder in the working directory; anything with a path separator is a path.
    ``kind`` picks among several models in one folder; installed entries come back as recorded (check them
    with ``require_kind``).

    Raises:
        ModelError: neither installed nor an existing path, or the path matches no model kind.
    """
    store = store or Store()
    text = str(name_or_path)
    looks_like_name = isinstance(name_or_path, str) and "/" not in text and "\\" not in text
    if looks_like_name:
        entry = store.find(text)
        if entry is not None:
            return entry
    path = Path(text).expanduser()
    if not path.exists():
        if looks_like_name:
            store.get(text)  # raises: unknown name, with what is installed
        raise ModelError(f"no such model file or folder: {path}")
    det = detect(path, kind, trust_pickle=trust_pickle)
    base = path.parent if path.is_file() else path
    rels = [path.name] if path.is_file() else list_files(path)
    facts = dict(det.facts)
    facts["pickle_files"] = weight_pickles(rels)
    facts["weights_format"] = weights_format(rels)
    if path.is_file():
        facts["weights_file"] = path.name
    files = {r: {"size": (base / r).stat().st_size} for r in rels}
    return ModelEntry(
        name=path.name,
        kind=det.kind,
        path=base.resolve(),
        facts=facts,
        files=files,
        linked=True,
        source=f"local:{path.resolve()}",
        trust_pickle=trust_pickle,
        installed=False,
    )
