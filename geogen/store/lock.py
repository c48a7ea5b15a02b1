"""A lock file that works on every platform, and owner records for the store's temporary folders.

fcntl/msvcrt locks differ per platform and vanish on network drives; creating a file with O_EXCL is atomic
everywhere. The lock file records its owner (PID and its start time, host, time): a lock whose owner is a dead process on this
host is taken over at once; one whose owner cannot be checked (another host, an unreadable record) is taken
to belong to a crashed process once it is older than ``stale_after`` seconds.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from geogen.errors import ModelError
from geogen.io.processes import own_start
from geogen.io.processes import pid_alive as pid_alive  # the one liveness check, re-exported

# A lock is held for a rename and a manifest write: one that was never filled in is dead after this long.
_EMPTY_LOCK_S = 10.0


def owner_record() -> str:
    """This process as an owner record (one JSON line: pid, its start time where the OS tells it, host, time, a
    unique token)."""
    return json.dumps(
        {
            "pid": os.getpid(),
            "start": own_start(),
            "host": socket.gethostname(),
            "time": round(time.time()),
            "token": uuid.uuid4().hex,
        }
    )


def read_owner(path: Path) -> tuple[str, dict[str, Any] | None] | None:
    """(raw text, parsed record or None when unreadable) of the owner file ``path``; None when it is gone."""
    try:
        with open(path, "rb") as f:
            raw = f.read(4096).decode("utf-8", "replace")
    except FileNotFoundError:
        return None
    except OSError:
        return "", None
    try:
        rec = json.loads(raw)
    except ValueError:
        return raw, None
    ok = isinstance(rec, dict) and isinstance(rec.get("pid"), int) and isinstance(rec.get("host"), str)
    return raw, rec if ok else None


def owner_dead(rec: dict[str, Any] | None, age_s: float, stale_after: float) -> bool:
    """Whether an owner is gone: on this host a dead PID (gone, a zombie, or reused by a process started at another
    time: ``geogen.io.processes``); when the PID cannot be checked, an old record."""
    if rec is not None and rec["host"] == socket.gethostname():
        start = rec.get("start")
        return not pid_alive(int(rec["pid"]), start if isinstance(start, str) else None)
    return age_s > stale_after


def _age(path: Path) -> float | None:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return None


def _try_create(path: Path) -> int | None:
    try:
        return os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return None
    except PermissionError:  # Windows: the previous holder's file is still being deleted
        if path.exists():
            return None
        raise


def _break_if_dead(path: Path, stale_after: float) -> bool:
    """Remove the lock ``path`` if its owner is dead; True when it was removed.

    Two waiters may see the same dead lock: the removal happens under a second, short-lived lock
    (``<lock>.break``) and only if the lock still holds the dead owner's record, so a waiter can never remove
    a lock that another waiter has just taken.
    """
    seen = read_owner(path)
    age = _age(path)
    if seen is None or age is None:
        return False
    raw, rec = seen
    # A lock created but never filled in: its owner died at once.
    dead = age > _EMPTY_LOCK_S if rec is None and not raw.strip() else owner_dead(rec, age, stale_after)
    if not dead:
        return False
    breaker = path.with_name(path.name + ".break")
    fd = _try_create(breaker)
    if fd is None:  # another waiter is breaking it; a breaker left by a crash is itself stale soon
        breaker_age = _age(breaker)
        if breaker_age is not None and breaker_age > _EMPTY_LOCK_S:
            with suppress(OSError):
                os.remove(breaker)
        return False
    try:
        again = read_owner(path)
        if again is not None and again[0] == raw:
            with suppress(OSError):
                os.remove(path)
                return True
        return False
    finally:
        os.close(fd)
        with suppress(OSError):
            os.remove(breaker)


@contextmanager
def file_lock(
    path: Path, *, timeout: float = 60.0, stale_after: float = 600.0, poll: float = 0.05
) -> Iterator[None]:
    """Hold ``path`` as a lock file for the duration of the block.

    Raises:
        ModelError: another (live) process held the lock for longer than ``timeout`` seconds.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(
            f"cannot create the model store folder {path.parent} ({exc.strerror or exc})"
        ) from None
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = _try_create(path)
        except OSError as exc:
            raise ModelError(f"cannot create the lock file {path} ({exc.strerror or exc})") from None
        if fd is not None:
            break
        if _break_if_dead(path, stale_after):
            continue
        if time.monotonic() > deadline:
            who = read_owner(path)
            rec = who[1] if who else None
            owner = f" (held by process {rec['pid']} on {rec['host']})" if rec else ""
            raise ModelError(
                f"the model store is locked by another geogen process{owner} (lock file {path}); "
                f"if no other geogen is running, delete that file"
            )
        time.sleep(poll)
    try:
        try:
            os.write(fd, owner_record().encode())
        finally:
            os.close(fd)
        yield
    finally:
        with suppress(FileNotFoundError):
            os.remove(path)
