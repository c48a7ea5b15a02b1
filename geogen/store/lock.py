"""A lock file that works on every platform: exclusive creation (O_EXCL), with a stale-lock timeout.

fcntl/msvcrt locks differ per platform and vanish on network drives; creating a file with O_EXCL is atomic
everywhere. A lock older than ``stale_after`` seconds is taken to belong to a crashed process and is removed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from geogen.errors import ModelError


def _try_create(path: Path) -> int | None:
    try:
        return os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return None
    except PermissionError:  # Windows: the previous holder's file is still being deleted
        if path.exists():
            return None
        raise


def _remove_if_stale(path: Path, stale_after: float) -> None:
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return
    if age > stale_after:
        # OSError: someone else removed or re-took it; the next attempt decides.
        with suppress(OSError):
            os.remove(path)


@contextmanager
def file_lock(
    path: Path, *, timeout: float = 60.0, stale_after: float = 600.0, poll: float = 0.05
) -> Iterator[None]:
    """Hold ``path`` as a lock file for the duration of the block.

    Raises:
        ModelError: another process held the lock for longer than ``timeout`` seconds.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    while True:
        fd = _try_create(path)
        if fd is not None:
            break
        _remove_if_stale(path, stale_after)
        if time.monotonic() > deadline:
            raise ModelError(
                f"the model store is locked by another geogen process (lock file {path}); "
                f"if no other geogen is running, delete that file"
            )
        time.sleep(poll)
    try:
        try:
            os.write(fd, f"{os.getpid()} {time.time():.0f}\n".encode())
        finally:
            os.close(fd)
        yield
    finally:
        with suppress(FileNotFoundError):
            os.remove(path)
