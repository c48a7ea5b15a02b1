"""The local model store: models/<name>/ folders (or linked folders elsewhere) and manifest.json.

Long work (copying, hashing, converting) happens outside the store lock; the lock covers only the final
rename and the manifest update, so two geogen processes can install models at the same time.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Any

from geogen.errors import ModelError
from geogen.progress import NullReporter, Reporter
from geogen.store import kinds as K
from geogen.store.checksums import VerifyReport, copy_and_hash, hash_files, verify_files
from geogen.store.convert import ConvertResult, convert_folder
from geogen.store.detect import Detection, detect, list_files
from geogen.store.entry import ModelEntry
from geogen.store.manifest import check_record, read_manifest, store_lock, update_manifest, write_manifest
from geogen.store.paths import ENV_VAR, MANIFEST_NAME, MODELS_DIR, store_root
from geogen.store.staging import ADD_PREFIX, SweepReport, discard, new_staging_dir, release, sweep
from geogen.store.weights import (
    check_weight_file,
    is_weight_pickle,
    load_pickle,
    weight_pickles,
    weights_format,
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_WINDOWS_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(1, 10)),
    *(f"lpt{i}" for i in range(1, 10)),
}


def check_name(name: str) -> str:
    """``name`` if it can name a model folder on every platform.

    Raises:
        ModelError: empty, too long, odd characters, or a name Windows reserves.
    """
    if not _NAME.match(name or "") or name.endswith(".") or name.split(".")[0].lower() in _WINDOWS_RESERVED:
        raise ModelError(
            f"invalid model name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with "
            "a letter or digit (and not a name Windows reserves such as 'con' or 'nul')"
        )
    return name


def check_pickles(root: Path, files: list[str], trust_pickle: bool) -> None:
    """Refuse weight pickles that weights-only loading rejects (cheap: tensors are memory-mapped, not read).

    Raises:
        ModelError: names the file and the --trust-pickle flag.
    """
    if trust_pickle:
        return
    for rel in weight_pickles(files):
        load_pickle(Path(root) / rel, mmap=True)


def check_weights(root: Path, files: list[str]) -> list[str]:
    """Structural check of every weights file (safetensors offsets against the file size, pickle zips).

    Raises:
        ModelError: the first truncated or damaged file, named.
    """
    checked = []
    for rel in files:
        path = Path(root) / rel
        if path.suffix.lower() == ".safetensors" or is_weight_pickle(rel):
            check_weight_file(path)
            checked.append(rel)
    return checked


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def _rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


class Store:
    """A model store rooted at ``root`` (default: ``GEOGEN_HOME`` or the per-user data folder)."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = (Path(root).expanduser() if root is not None else store_root()).absolute()
        if self.root.exists() and not self.root.is_dir():
            where = f"{ENV_VAR}={self.root}" if root is None else str(self.root)
            raise ModelError(f"the model store {where} is a file, not a folder; point {ENV_VAR} at a folder")

    @property
    def models_dir(self) -> Path:
        return self.root / MODELS_DIR

    # -- reading ---------------------------------------------------------------------------------------------
    def _entry(self, name: str, rec: Any) -> ModelEntry:
        rec = check_record(self.root / MANIFEST_NAME, name, rec)
        path = Path(rec["path"])
        facts = K.empty_facts()
        facts.update(rec.get("facts", {}))
        return ModelEntry(
            name=name,
            kind=rec["kind"],
            path=path if path.is_absolute() else self.root / path,
            facts=facts,
            files=rec.get("files", {}),
            linked=bool(rec.get("linked")),
            source=rec.get("source"),
            licence=rec.get("licence"),
            trust_pickle=bool(rec.get("trust_pickle")),
            added=rec.get("added"),
            catalog=rec.get("catalog"),
        )

    def entries(self) -> list[ModelEntry]:
        """Installed models, sorted by name."""
        models = read_manifest(self.root)["models"]
        return [self._entry(n, models[n]) for n in sorted(models, key=str.lower)]

    def find(self, name: str) -> ModelEntry | None:
        rec = read_manifest(self.root)["models"].get(name)
        return self._entry(name, rec) if rec else None

    def get(self, name: str) -> ModelEntry:
        """The installed model ``name``.

        Raises:
            ModelError: not installed (the message lists what is).
        """
        entry = self.find(name)
        if entry is None:
            names = [e.name for e in self.entries()]
            known = f"installed: {', '.join(names)}" if names else "no model is installed"
            raise ModelError(
                f"no model named {name!r} in the model store {self.root} ({known}; "
                "see `geogen models list`, `geogen models add` and `geogen models pull`)"
            )
        return entry

    # -- installing ------------------------------------------------------------------------------------------
    def _check_free(self, name: str, models: dict[str, Any]) -> None:
        clash = next((n for n in models if n.lower() == name.lower()), None)
        if clash:
            raise ModelError(
                f"a model named {clash!r} is already installed; remove it first "
                f"(`geogen models remove {clash}`) or pick another name"
            )
        if (self.models_dir / name).exists():
            raise ModelError(
                f"{self.models_dir / name} already exists but is not in the manifest; "
                "move it away or pick another name"
            )

    def _record(
        self,
        det: Detection,
        files: dict,
        *,
        path: Path,
        linked: bool,
        trust_pickle: bool,
        source: str | None,
        licence: str | None,
        catalog: str | None,
        facts: dict[str, Any],
    ) -> dict:
        merged = dict(det.facts)
        merged.update({k: v for k, v in facts.items() if v is not None})
        merged["pickle_files"] = weight_pickles(list(files))
        merged["weights_format"] = weights_format(list(files))
        try:
            stored_path = path.relative_to(self.root).as_posix() if not linked else str(path)
        except ValueError:
            stored_path = str(path)
        return {
            "kind": det.kind,
            "path": stored_path,
            "linked": linked,
            "trust_pickle": trust_pickle,
            "source": source,
            "licence": licence,
            "catalog": catalog,
            "added": _now(),
            "facts": merged,
            "files": files,
        }

    def add(
        self,
        name: str,
        path: Path | str,
        *,
        kind: str | None = None,
        link: bool = False,
        trust_pickle: bool = False,
        resolution: int | None = None,
        source: str | None = None,
        licence: str | None = None,
        catalog: str | None = None,
        facts: dict[str, Any] | None = None,
        reporter: Reporter | None = None,
        move: bool = False,
    ) -> ModelEntry:
        """Install the model at ``path`` as ``name``: detect it, check its pickles, copy (or link), hash.

        ``move=True`` renames ``path`` into the store instead of copying (used by ``pull`` for its download
        folder, which must be on the store's drive).

        Raises:
            ModelError: bad or taken name, unknown folder, inconsistent ``kind``, unsafe pickle, no space.
        """
        reporter = reporter or NullReporter()
        check_name(name)
        self._check_free(name, read_manifest(self.root)["models"])
        src = Path(path).expanduser().resolve()
        rels = [src.name] if src.is_file() else list_files(src) if src.is_dir() else []
        base = src.parent if src.is_file() else src
        check_weights(base, rels)  # truncated or damaged weights: refused before anything reads them
        det = detect(src, kind, trust_pickle=trust_pickle)
        check_pickles(base, rels, trust_pickle)
        extra = dict(facts or {})
        if resolution is not None:
            extra.update(resolution=int(resolution), resolution_source="user")
        elif extra.get("resolution") is not None:
            extra.setdefault("resolution_source", "catalog")
        if det.kind == K.LORA:
            extra["weights_file"] = src.name if src.is_file() else det.facts["weights_file"]
        record: dict[str, Any] = dict(
            path=base,
            trust_pickle=trust_pickle,
            source=source or f"local:{src}",
            licence=licence,
            catalog=catalog,
            facts=extra,
        )
        if link:
            reporter.log(f"hashing {len(rels)} file(s) in {base}")
            files = hash_files(base, rels)
            with update_manifest(self.root) as data:
                self._check_free(name, data["models"])
                data["models"][name] = self._record(det, files, linked=True, **record)
            return self.get(name)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        target = self.models_dir / name
        if move:
            staging, files = src, hash_files(src, rels)
        else:
            staging, files = self._copy_in(base, rels, name, reporter)
        try:
            with update_manifest(self.root) as data:
                self._check_free(name, data["models"])
                staging.replace(target)
                record["path"] = target
                data["models"][name] = self._record(det, files, linked=False, **record)
        except BaseException:
            if not move:
                discard(staging)
            raise
        if not move:
            release(staging)
        return self.get(name)

    def _copy_in(self, base: Path, rels: list[str], name: str, reporter: Reporter) -> tuple[Path, dict]:
        """Copy ``rels`` from ``base`` into a staging folder inside the store, hashing on the way."""
        total = sum((base / r).stat().st_size for r in rels)
        free = shutil.disk_usage(self.models_dir).free
        if total > free:
            raise ModelError(
                f"not enough disk space in {self.models_dir}: the model needs {total / 2**30:.2f} GiB, "
                f"{free / 2**30:.2f} GiB free (or use --link to leave it where it is)"
            )
        staging = new_staging_dir(self.models_dir, f"{ADD_PREFIX}{name}-")
        files = {}
        try:
            for i, rel in enumerate(rels):
                reporter.progress(i, len(rels), "copy")
                try:
                    files[rel] = copy_and_hash(base / rel, staging / rel)
                except OSError as exc:
                    raise ModelError(f"cannot copy {base / rel} into the model store ({exc})") from None
            reporter.progress(len(rels), len(rels), "copy")
        except BaseException:
            discard(staging)
            raise
        return staging, files

    # -- maintenance -----------------------------------------------------------------------------------------
    def sweep(self, *, keep_resumable: bool = True) -> SweepReport:
        """Remove temporary folders left in the store by add/pull commands that died (kill -9, power loss).

        A live command's folder is never touched; see ``geogen.store.staging``.
        """
        return sweep(self.models_dir, keep_resumable=keep_resumable)

    def remove(self, name: str) -> ModelEntry:
        """Forget ``name``; delete its folder unless it is linked (the user's files stay).

        Raises:
            ModelError: not installed.
        """
        with update_manifest(self.root) as data:
            if name not in data["models"]:
                self.get(name)  # raises with the list of installed models
            rec = data["models"].pop(name)
            try:
                entry = self._entry(name, rec)
            except ModelError:  # a damaged record: drop it, delete nothing (its folder is not known for sure)
                kind = rec.get("kind") if isinstance(rec, dict) else None
                entry = ModelEntry(
                    name=name,
                    kind=kind if isinstance(kind, str) else "unknown",
                    path=self.models_dir / name,
                    facts={},
                    files={},
                    linked=True,
                )
            trash = None
            if not entry.linked and entry.path.exists():
                trash = self.models_dir / f".trash-{name}-{dt.datetime.now().timestamp():.0f}"
                try:  # out of the way atomically; deleted once the manifest is written
                    entry.path.replace(trash)
                except OSError as exc:
                    raise ModelError(f"cannot remove {entry.path} ({exc}); is the model in use?") from None
        if trash is not None:
            _rmtree(trash)
        return entry

    def verify(self, name: str) -> VerifyReport:
        """Re-hash ``name``'s files and compare them with the manifest; check every weights file's structure
        (a file truncated before it was installed hashes as recorded but cannot load).

        Raises:
            ModelError: not installed.
        """
        entry = self.get(name)
        present = list_files(entry.path) if entry.path.is_dir() else []
        if entry.linked:  # the user's folder may hold other things: only what was recorded counts
            present = [r for r in present if r in entry.files]
        report = verify_files(entry.path, entry.files, present)
        bad = set(report.changed) | set(report.missing)
        for rel in sorted(entry.files):
            if rel in bad:
                continue
            try:
                check_weights(entry.path, [rel])
            except ModelError as exc:
                report.damaged.append(f"{rel} ({str(exc).replace(str(entry.path / rel), '').strip()})")
        return report

    def convert(self, name: str, *, keep_bin: bool = False, trust_pickle: bool = False) -> ConvertResult:
        """Convert ``name``'s weight pickles to safetensors, re-hash and update the manifest.

        A linked model's pickles are always kept: geogen never deletes files it does not own.
        The trust given at ``add`` time (``--trust-pickle``, recorded in the manifest) lets geogen *load* the
        model; it is not reused here: unpickling a pickle that weights-only loading refuses needs
        ``trust_pickle=True`` again, as an explicit decision for this conversion.

        Raises:
            ModelError: not installed, modified since install (run verify), or a pickle refused as unsafe.
        """
        entry = self.get(name)
        report = self.verify(name)
        if report.changed or report.missing:
            raise ModelError(
                f"model {name!r} has changed since it was installed "
                f"(`geogen models verify {name}` lists the files); not converting it"
            )
        pickles = weight_pickles(list(entry.files))
        result = convert_folder(
            entry.path,
            pickles,
            keep_bin=keep_bin or entry.linked,
            trust_pickle=trust_pickle,
        )
        if not pickles:
            return result
        with store_lock(self.root):
            data = read_manifest(self.root)
            rec = data["models"].get(name)
            if rec is None:
                raise ModelError(f"model {name!r} was removed while it was being converted")
            files = dict(rec["files"])
            for rel in result.removed:
                files.pop(rel, None)
            new = [dst for _, dst in result.converted] + [
                r for r in list_files(entry.path) if r.endswith(".safetensors.index.json")
            ]
            files.update(hash_files(entry.path, sorted(set(new))))
            rec["files"] = files
            rec["facts"]["pickle_files"] = weight_pickles(list(files))
            rec["facts"]["weights_format"] = weights_format(list(files))
            write_manifest(self.root, data)
        return result
