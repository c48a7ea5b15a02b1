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


def _os_error(path: Path, exc: OSError, doing: str) -> ModelError:
    if isinstance(exc, NotADirectoryError) or (path.parent.exists() and not path.parent.is_dir()):
        return ModelError(
            f"the model store {path.parent} is a file, not a folder (check GEOGEN_HOME or move that file)"
        )
    return ModelError(f"cannot {doing} the model store manifest {path} ({exc.strerror or exc})")


def _check_value(where: str, key: str, value: Any, types: tuple[type, ...], expected: str) -> None:
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise ModelError(f"{where}: {key!r} is {type(value).__name__} {value!r:.40}, expected {expected}")


def check_record(path: Path, name: Any, rec: Any) -> dict[str, Any]:
    """``rec`` if it is a well-formed manifest record for model ``name``.

    Raises:
        ModelError: one line naming the manifest, the record and the wrong field.
    """
    where = (
        f"the model store manifest {path} is damaged: the record of {name!r}"
        if isinstance(name, str)
        else f"the model store manifest {path} is damaged"
    )
    hint = f" (fix it by hand, or `geogen models remove {name}` drops that record)"
    try:
        if not isinstance(rec, dict):
            raise ModelError(f"{where} is {type(rec).__name__}, expected an object")
        _check_value(where, "kind", rec.get("kind"), (str,), "a string")
        _check_value(where, "path", rec.get("path"), (str,), "a string")
        for key in ("facts", "files"):
            _check_value(where, key, rec.get(key, {}), (dict,), "an object")
        for key in ("source", "licence", "added", "catalog"):
            _check_value(where, key, rec.get(key), (str, type(None)), "a string")
        for key in ("linked", "trust_pickle"):
            _check_value(where, key, rec.get(key, False), (bool,), "true or false")
        for rel, info in rec.get("files", {}).items():
            _check_value(where, f"files.{rel}", info, (dict,), "an object")
            _check_value(where, f"files.{rel}.sha256", info.get("sha256"), (str,), "a string")
            _check_value(where, f"files.{rel}.size", info.get("size", 0), (int,), "an integer")
    except ModelError as exc:
        raise ModelError(f"{exc}{hint}") from None
    return rec


def read_manifest(root: Path) -> dict[str, Any]:
    """The manifest of the store at ``root`` (an empty one when the store is new).

    Records are checked when they are used (``check_record``), so one damaged record can still be removed.

    Raises:
        ModelError: the manifest is not valid JSON, is unreadable, comes from a newer geogen, or the store
            folder is a file.
    """
    path = Path(root) / MANIFEST_NAME
    if Path(root).exists() and not Path(root).is_dir():
        raise _os_error(path, NotADirectoryError(), "read")
    try:
        text = _retry(lambda: path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _empty()
    except UnicodeDecodeError:
        raise ModelError(f"the model store manifest {path} is damaged (not UTF-8 text)") from None
    except OSError as exc:
        raise _os_error(path, exc, "read") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(
            f"the model store manifest {path} is damaged ({exc.msg} at line {exc.lineno})"
        ) from None
    except RecursionError:
        raise ModelError(f"the model store manifest {path} is damaged (nested too deeply)") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise ModelError(f"the model store manifest {path} is damaged (no 'models' table)")
    version = data.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelError(f"the model store manifest {path} is damaged ('version' is {version!r})")
    if version > SCHEMA_VERSION:
        raise ModelError(
            f"the model store manifest {path} was written by a newer geogen "
            f"(version {data['version']}); upgrade geogen"
        )
    return data


def write_manifest(root: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as the manifest atomically (temporary file in the same folder, then ``os.replace``)."""
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(root / MANIFEST_NAME, exc, "write") from None
    tmp = root / f".manifest-{uuid.uuid4().hex[:12]}.tmp"
    try:
        with open(tmp, "x", encoding="utf-8") as f:  # "x": exclusive, normal permissions (mkstemp's are 0600)
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        _retry(lambda: os.replace(tmp, root / MANIFEST_NAME))
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _os_error(root / MANIFEST_NAME, exc, "write") from None
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
