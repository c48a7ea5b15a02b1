"""Temporary folders of ``models add`` / ``models pull`` inside the store, and the clean-up of dead ones.

Each folder ``models/.add-<name>-<hex>`` or ``models/.pull-<name>-<hex>`` has an owner file next to it,
``<folder>.owner`` (PID, host, time), created before the folder. A folder whose owner is a dead process on
this host (or, when the PID cannot be checked, whose last change is older than ``UNCHECKABLE_AFTER_S``) is
debris: the next store command removes it. A live operation's folder is never touched.

A dead pull's folder holds the partial downloads that ``geogen models pull`` of the same model resumes, so it
is kept for ``RESUME_KEEP_S`` after its last write (the next pull of that model adopts it); after that it is
debris too.

Claiming a dead folder (to remove or to adopt it) is an atomic rename, so two processes never both get it.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from geogen.store.lock import owner_dead, owner_record, read_owner

ADD_PREFIX = ".add-"
PULL_PREFIX = ".pull-"
TRASH_PREFIX = ".trash-"
OWNER_SUFFIX = ".owner"
UNCHECKABLE_AFTER_S = 24 * 3600.0  # no owner file, or an owner on another host
RESUME_KEEP_S = 24 * 3600.0  # a dead pull's partial downloads wait this long for a resuming pull
_HEX12 = re.compile(r"[0-9a-f]{12}")


def owner_file(folder: Path) -> Path:
    return folder.with_name(folder.name + OWNER_SUFFIX)


def _create_owner(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    try:
        os.write(fd, owner_record().encode())
    finally:
        os.close(fd)
    return True


def new_staging_dir(parent: Path, prefix: str) -> Path:
    """A fresh, uniquely named folder in ``parent`` (normal permissions), owned by this process."""
    parent.mkdir(parents=True, exist_ok=True)
    while True:
        path = parent / f"{prefix}{uuid.uuid4().hex[:12]}"
        if _create_owner(owner_file(path)):
            break
    try:
        path.mkdir()
    except BaseException:
        release(path)
        raise
    return path


def release(folder: Path) -> None:
    """Forget the ownership of ``folder`` (once it is installed under its final name, or deleted)."""
    with suppress(OSError):
        owner_file(folder).unlink()


def discard(folder: Path) -> None:
    """Delete a staging folder and its owner file."""
    shutil.rmtree(folder, ignore_errors=True)
    release(folder)


def _last_change(folder: Path) -> float:
    """The newest mtime in ``folder`` (a download's partial file is written until its owner dies)."""
    newest = 0.0
    for dirpath, _dirs, files in os.walk(folder):
        for name in [".", *files]:
            with suppress(OSError):
                newest = max(newest, os.stat(os.path.join(dirpath, name)).st_mtime)
    return newest


def _size(folder: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            with suppress(OSError):
                total += os.stat(os.path.join(dirpath, name)).st_size
    return total


def _is_dead(folder: Path) -> bool:
    seen = read_owner(owner_file(folder))
    age = time.time() - _last_change(folder)
    if seen is None:  # no owner file: a geogen from before owner files, or a crash while cleaning up
        return age > UNCHECKABLE_AFTER_S
    return owner_dead(seen[1], age, UNCHECKABLE_AFTER_S)


def _claim(folder: Path, new: Path) -> bool:
    """Atomically rename ``folder`` to ``new`` (False when someone else claimed it first)."""
    try:
        folder.rename(new)
    except OSError:
        return False
    release(folder)
    return True


@dataclass
class SweepReport:
    removed: list[str]
    bytes: int
    where: str = ""

    def message(self) -> str | None:
        if not self.removed:
            return None
        return (
            f"removed {len(self.removed)} temporary folder(s) left by interrupted geogen commands "
            f"({self.bytes / 2**20:.1f} MiB) from {self.where}: {', '.join(self.removed)}"
        )


def sweep(models_dir: Path, *, keep_resumable: bool = True) -> SweepReport:
    """Remove the dead add/pull folders (and left-over trash) in ``models_dir``; a live one is never touched.

    ``keep_resumable=False`` also removes dead pull folders younger than ``RESUME_KEEP_S``.
    """
    report = SweepReport([], 0, str(models_dir))
    try:
        entries = sorted(models_dir.iterdir())
    except OSError:
        return report
    for path in entries:
        name = path.name
        if name.endswith(OWNER_SUFFIX):
            folder = path.with_name(name[: -len(OWNER_SUFFIX)])
            seen = read_owner(path)
            with suppress(OSError):
                age = time.time() - path.stat().st_mtime
                if not folder.exists() and seen is not None and owner_dead(seen[1], age, UNCHECKABLE_AFTER_S):
                    path.unlink()
            continue
        if not path.is_dir() or path.is_symlink():
            continue
        if name.startswith(TRASH_PREFIX):  # a removed model whose deletion was interrupted
            if owner_file(path).exists() and not _is_dead(path):
                continue
        elif name.startswith((ADD_PREFIX, PULL_PREFIX)):
            if not _is_dead(path):
                continue
            if (
                keep_resumable
                and name.startswith(PULL_PREFIX)
                and time.time() - _last_change(path) < RESUME_KEEP_S
            ):
                continue
        else:
            continue
        size = _size(path)
        trash = models_dir / f"{TRASH_PREFIX}sweep-{uuid.uuid4().hex[:12]}"
        if not _claim(path, trash):
            continue
        shutil.rmtree(trash, ignore_errors=True)
        report.removed.append(name)
        report.bytes += size
    return report


def adopt(models_dir: Path, prefix: str) -> Path | None:
    """Take over the newest dead folder named ``<prefix>*`` (a crashed pull's downloads), renamed and owned
    by this process; None when there is none."""
    try:
        candidates = [
            p
            for p in models_dir.iterdir()
            if p.name.startswith(prefix) and _HEX12.fullmatch(p.name[len(prefix) :]) and p.is_dir()
        ]
    except OSError:
        return None
    for folder in sorted(candidates, key=_last_change, reverse=True):
        if not _is_dead(folder):
            continue
        while True:
            new = models_dir / f"{prefix}{uuid.uuid4().hex[:12]}"
            if _create_owner(owner_file(new)):
                break
        if _claim(folder, new):
            return new
        release(new)
    return None
