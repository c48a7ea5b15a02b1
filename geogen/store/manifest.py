"""The store's manifest.json: one record per installed model, rewritten atomically under the store lock.

Readers never need the lock: the file is replaced in one step (temporary file + ``os.replace``), so a reader
sees either the old or the new manifest, never half of one.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from geogen.errors import ModelError
from geogen.store.lock import file_lock
from geogen.store.paths import MANIFEST_NAME

SCHEMA_VERSION = 1
LOCK_NAME = ".lock"


def _empty() -> dict[str, Any]:
    return {"version": SCHEMA_VERSION, "models": {}}


def _retry(fn, attempts: int = 20, wait: float = 0.05):
    """Windows refuses to replace or open a file another process holds open: retry briefly."""
    for i in range(attempts):
        try:
            return fn()
        except PermissionError:
            if i == attempts - 1:
                raise
            time.sleep(wait)


def read_manifest(root: Path) -> dict[str, Any]:
    """The manifest of the store at ``root`` (an empty one when the store is new).

    Raises:
        ModelError: the manifest is not valid JSON or comes from a newer geogen.
    """
    path = Path(root) / MANIFEST_NAME
    try:
        text = _retry(lambda: path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _empty()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(
            f"the model store manifest {path} is damaged ({exc.msg} at line {exc.lineno})"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise ModelError(f"the model store manifest {path} is damaged (no 'models' table)")
    if int(data.get("version", 0)) > SCHEMA_VERSION:
        raise ModelError(
            f"the model store manifest {path} was written by a newer geogen "
            f"(version {data['version']}); upgrade geogen"
        )
    return data


def write_manifest(root: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as the manifest atomically (temporary file in the same folder, then ``os.replace``)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".manifest-{uuid.uuid4().hex[:12]}.tmp"
    try:
        with open(tmp, "x", encoding="utf-8") as f:  # "x": exclusive, normal permissions (mkstemp's are 0600)
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        _retry(lambda: os.replace(tmp, root / MANIFEST_NAME))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def store_lock(root: Path) -> Iterator[None]:
    """Hold the store's lock (one writer at a time across processes)."""
    with file_lock(Path(root) / LOCK_NAME):
        yield


@contextmanager
def update_manifest(root: Path) -> Iterator[dict[str, Any]]:
    """Read-modify-write the manifest under the store lock; nothing is written if the block raises."""
    with store_lock(root):
        data = read_manifest(root)
        yield data
        write_manifest(root, data)
