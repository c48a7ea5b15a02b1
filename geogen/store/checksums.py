"""sha256 of every file of a model, recorded at install time and re-checked by ``geogen models verify``."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

CHUNK = 1 << 20
FileTable = dict[str, dict[str, object]]  # relative POSIX path -> {"sha256": hex, "size": bytes}


def sha256_file(path: Path, on_bytes: Callable[[int], None] | None = None) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    return h.hexdigest()


def hash_files(root: Path, rel_paths: Iterable[str]) -> FileTable:
    """``{rel: {"sha256", "size"}}`` for files under ``root``."""
    root = Path(root)
    return {
        rel: {"sha256": sha256_file(root / rel), "size": (root / rel).stat().st_size} for rel in rel_paths
    }


def copy_and_hash(src: Path, dst: Path) -> dict[str, object]:
    """Copy ``src`` to ``dst``, hashing the bytes on the way (one read for both); keeps the mtime."""
    h = hashlib.sha256()
    size = 0
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(CHUNK):
            h.update(chunk)
            fout.write(chunk)
            size += len(chunk)
    shutil.copystat(src, dst)
    return {"sha256": h.hexdigest(), "size": size}


@dataclass
class VerifyReport:
    """Files that differ from the manifest: changed content, missing, and present but not recorded; and weights
    files whose structure is broken ("rel (what is wrong)"), e.g. truncated before they were installed."""

    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.damaged)


def verify_files(root: Path, expected: FileTable, present: Iterable[str] = ()) -> VerifyReport:
    """Compare files under ``root`` with ``expected`` (a size mismatch is a change without hashing)."""
    root = Path(root)
    report = VerifyReport()
    for rel, rec in sorted(expected.items()):
        path = root / rel
        if not path.is_file():
            report.missing.append(rel)
        elif (
            path.stat().st_size != rec.get("size", path.stat().st_size) or sha256_file(path) != rec["sha256"]
        ):
            report.changed.append(rel)
    report.extra = sorted(set(present) - set(expected))
    return report
