"""Which job owns which output: claims on final names, per-job partial names, and the sweep of dead jobs' debris.

A job run by ``geogen.job.runner.run_job`` has an id (``new_job_id``) and runs inside a ``JobScope``:

- **Claims.** Before any work, every final name the job will write (images, the result record) is claimed by
  creating ``.<name>.geogen-claim`` next to it exclusively; it holds the job's id, PID and host. A second live
  job claiming the same name gets a one-line ``OutputError``; a claim whose owner is dead (its PID gone on this
  host, or older than ``STALE_AFTER_S``) is taken over. Claims are removed when the job ends.
- **Commits** (``geogen.io.geotiff.commit_file``) first check the job's cancel token and that the claim is still
  the job's; without overwrite they never replace a file (a hard link or a Windows rename fails if the name was
  taken meanwhile). A job that fails or is cancelled after committing some outputs removes them again, so a
  cancelled job leaves nothing under final names.
- **Partial names** carry the owner: ``.<stem>.<tag>-<rand>.<job>-<pid>-<host>.partial<suffix>`` (plus GDAL's
  sidecars), so a job's clean-up removes only its own files and ``sweep`` (run at every job start in its
  output folder, and by ``geogen clean``) removes only those of dead jobs.

``host`` is the first 6 hex digits of the SHA-1 of the host name: a PID is checked only on its own host (a
folder shared over the network may hold files of live jobs on other machines; those go stale after
``STALE_AFTER_S`` only).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geogen.errors import OutputError

PARTIAL_MARK = ".partial"
CLAIM_SUFFIX = ".geogen-claim"
CANCEL_FILE = "cancel"
"""The folder-wide cancel file: created (or touched) after a job started, it cancels every job in the folder."""
JOB_CANCEL_PREFIX = "cancel-"
"""``cancel-<job id>`` in the output folder cancels that job only."""
JOB_ID_ENV = "GEOGEN_JOB_ID"
STALE_AFTER_S = 24 * 3600
"""Partials and claims older than this are stale whoever owns them."""
UNREADABLE_CLAIM_GRACE_S = 30.0
"""An empty or unreadable claim younger than this may be one being written: treated as live."""

_JOB_ID_RE = re.compile(r"^[0-9a-z]{4,32}$")
_PARTIAL_RE = re.compile(
    r"^\..*\.(?P<job>[0-9a-z]{4,32})-(?P<pid>[0-9]{1,10})-(?P<host>[0-9a-f]{6})" + re.escape(PARTIAL_MARK)
)
_LEGACY_PARTIAL_RE = re.compile(r"^\..+\.[0-9a-f]{8}" + re.escape(PARTIAL_MARK))  # geogen <= 0.x: no owner
_JOB_CANCEL_RE = re.compile("^" + re.escape(JOB_CANCEL_PREFIX) + r"(?P<job>[0-9a-z]{4,32})$")


def host_tag() -> str:
    """This machine's tag in partial names and claims."""
    return hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:6]


_HOST = host_tag()


def new_job_id() -> str:
    """A fresh job id (12 hex digits), or the caller's choice in ``GEOGEN_JOB_ID``.

    Raises:
        OutputError: ``GEOGEN_JOB_ID`` is set but is not 4 to 32 lowercase letters or digits.
    """
    chosen = os.environ.get(JOB_ID_ENV)
    if chosen is None or chosen == "":
        return uuid.uuid4().hex[:12]
    if not _JOB_ID_RE.match(chosen):
        raise OutputError(
            f"{JOB_ID_ENV}={chosen!r} is not a valid job id: use 4 to 32 lowercase letters or digits"
        )
    return chosen


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a zombie counts as dead). Works on Windows too."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if os.name == "nt":
        return _pid_alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    with contextlib.suppress(OSError, IndexError):  # Linux: a killed process not yet reaped is a zombie
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat[stat.rindex(")") + 2] in "ZX":
            return False
    return True


def _pid_alive_windows(pid: int) -> bool:  # pragma: no cover - Windows only
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.OpenProcess.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
    process_query_limited_information = 0x1000
    still_active = 259
    handle = kernel32.OpenProcess(process_query_limited_information, False, pid)
    if not handle:
        return bool(ctypes.get_last_error() == 5)  # type: ignore[attr-defined,unused-ignore]  # ACCESS_DENIED: exists
    try:
        code = wintypes.DWORD()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == still_active
    finally:
        kernel32.CloseHandle(handle)


@dataclass(frozen=True)
class Owner:
    """Who wrote a partial file or holds a claim."""

    job: str
    pid: int
    host: str

    @property
    def tag(self) -> str:
        """The owner part of a partial name: ``<job>-<pid>-<host>``."""
        return f"{self.job}-{self.pid}-{self.host}"


_PROCESS_JOB = uuid.uuid4().hex[:12]  # owner of partials written outside any job (library calls)


def _process_owner() -> Owner:
    return Owner(_PROCESS_JOB, os.getpid(), _HOST)


# --- the current job -------------------------------------------------------------------------------------


@dataclass
class _Claim:
    file: Path
    overwrite: bool


@dataclass
class JobScope:
    """What one running job owns: its claims, the final files it committed, the folders of its partials."""

    job_id: str
    check: Callable[[], None] = lambda: None
    pid: int = field(default_factory=os.getpid)
    claims: dict[Path, _Claim] = field(default_factory=dict)
    committed: list[Path] = field(default_factory=list)
    folders: set[Path] = field(default_factory=set)
    swept: set[Path] = field(default_factory=set)
    removed: list[Path] = field(default_factory=list)

    @property
    def owner(self) -> Owner:
        return Owner(self.job_id, self.pid, _HOST)

    def _payload(self) -> str:
        return json.dumps(
            {
                "job": self.job_id,
                "pid": self.pid,
                "host": _HOST,
                "hostname": socket.gethostname(),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
        )

    def note_folder(self, folder: Path) -> None:
        """Remember a folder holding this job's partials; sweep dead jobs' debris there the first time."""
        folder = Path(folder)
        self.folders.add(folder)
        if folder not in self.swept:
            self.swept.add(folder)
            with contextlib.suppress(OSError):
                self.removed.extend(sweep(folder))

    def claim(self, final: Path, *, overwrite: bool, label: str | None = None) -> None:
        """Claim ``final`` for this job (idempotent); ``label`` names it in the error (default: its path).

        Raises:
            OutputError: another live job holds it, or the claim cannot be created.
        """
        final = Path(final)
        if final in self.claims:
            return
        self.note_folder(final.parent)
        cf = claim_file(final)
        for _ in range(5):
            if _create_exclusive(cf, self._payload(), final):
                self.claims[final] = _Claim(cf, overwrite)
                return
            info = read_claim(cf)
            if info is not None and info.job == self.job_id and info.pid == self.pid:
                self.claims[final] = _Claim(cf, overwrite)
                return
            if not _claim_stale(cf, info, active=_active_jobs()):
                raise _held_error(label or str(final), info)
            _take_away(cf, info)
        raise OutputError(f"cannot claim output {final}: its claim file {cf.name} keeps changing")

    def before_commit(self, final: Path, overwrite: bool) -> bool:
        """Check, right before ``final`` is committed, that the job still runs and still owns the name.

        Returns the overwrite flag to use: ``overwrite`` and the claim's own flag.

        Raises:
            CancelledError: the job was cancelled (nothing is committed).
            OutputError: another job took the name.
        """
        self.check()
        final = Path(final)
        if _is_partial_name(final.name):
            return overwrite
        c = self.claims.get(final)
        if c is None:
            self.claim(final, overwrite=overwrite)
            return overwrite
        info = read_claim(c.file)
        if info is None or info.job != self.job_id or info.pid != self.pid:
            if info is None and _create_exclusive(c.file, self._payload(), final):
                return overwrite and c.overwrite
            raise OutputError(
                f"output {final} was claimed by another geogen job while this one ran; nothing was written "
                "(choose another output name, or run the jobs one after the other)"
            )
        return overwrite and c.overwrite

    def committed_file(self, final: Path) -> None:
        self.committed.append(Path(final))

    def close(self, *, ok: bool) -> None:
        """End of the job: on failure remove what it committed; remove its partials and release its claims."""
        if not ok:
            for f in reversed(self.committed):
                with contextlib.suppress(OSError):
                    f.unlink()
        self.committed.clear()
        for folder in self.folders:
            remove_own_partials(folder, self.owner)
        for c in self.claims.values():
            info = read_claim(c.file)
            if info is not None and info.job == self.job_id and info.pid == self.pid:
                with contextlib.suppress(OSError):
                    c.file.unlink()
        self.claims.clear()


_CURRENT: contextvars.ContextVar[JobScope | None] = contextvars.ContextVar("geogen_job_scope", default=None)
_ACTIVE: list[JobScope] = []
_ACTIVE_LOCK = threading.Lock()


def _active_jobs() -> set[str]:
    with _ACTIVE_LOCK:
        return {s.job_id for s in _ACTIVE} | {_PROCESS_JOB}


def current() -> JobScope | None:
    """The job running in this context; in a worker thread of the only job of this process, that job."""
    scope = _CURRENT.get()
    if scope is not None:
        return scope
    with _ACTIVE_LOCK:
        return _ACTIVE[0] if len(_ACTIVE) == 1 else None


def owner_tag() -> str:
    """The owner part of partial names written now (the current job's, or this process's)."""
    scope = current()
    return (scope.owner if scope is not None else _process_owner()).tag


@contextlib.contextmanager
def job_scope(job_id: str, check: Callable[[], None] | None = None) -> Iterator[JobScope]:
    """Run a job as ``job_id`` in this context: its claims, commits and partials belong to it.

    On an exception (a cancel included) the outputs it committed are removed; in every case its partials are
    removed and its claims released.
    """
    scope = JobScope(job_id, check or (lambda: None))
    token = _CURRENT.set(scope)
    with _ACTIVE_LOCK:
        _ACTIVE.append(scope)
    ok = False
    try:
        yield scope
        ok = True
    finally:
        try:
            scope.close(ok=ok)
        finally:
            with _ACTIVE_LOCK:
                _ACTIVE.remove(scope)
            _CURRENT.reset(token)


# --- files -------------------------------------------------------------------------------------------------


def claim_file(final: Path) -> Path:
    """The claim file of ``final``: ``.<name>.geogen-claim`` next to it."""
    return final.with_name(f".{final.name}{CLAIM_SUFFIX}")


def partial_name(final: Path, tag: str) -> Path:
    """A unique hidden partial name next to ``final``, owned by the current job (or this process)."""
    scope = current()
    if scope is not None:
        scope.folders.add(final.parent)
    return final.with_name(
        f".{final.stem}.{tag}-{uuid.uuid4().hex[:8]}.{owner_tag()}{PARTIAL_MARK}{final.suffix}"
    )


def _is_partial_name(name: str) -> bool:
    return bool(_PARTIAL_RE.match(name) or _LEGACY_PARTIAL_RE.match(name))


def is_partial(path: Path) -> bool:
    """Whether ``path`` is a geogen partial (temporary) file name."""
    return _is_partial_name(Path(path).name)


def read_claim(cf: Path) -> Owner | None:
    """The owner recorded in claim file ``cf``; None when missing, empty or unreadable."""
    try:
        data: Any = json.loads(cf.read_text(encoding="utf-8"))
        return Owner(str(data["job"]), int(data["pid"]), str(data["host"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _create_exclusive(cf: Path, payload: str, final: Path) -> bool:
    try:
        fd = os.open(cf, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
    except FileExistsError:
        return False
    except PermissionError:
        if cf.exists():  # Windows: a claim being deleted right now
            return False
        raise OutputError(f"output folder is not writable: {final.parent}") from None
    except OSError as exc:
        raise OutputError(f"cannot claim output {final}: {exc.strerror or exc}") from None
    try:
        os.write(fd, payload.encode("utf-8"))
    finally:
        os.close(fd)
    return True


def _age_s(path: Path) -> float | None:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return None


def _owner_dead(owner: Owner, *, active: set[str]) -> bool:
    if owner.host != _HOST:
        return False  # another machine's job: only its age can tell
    if owner.pid == os.getpid():
        return owner.job not in active  # this process, but no job of it by that id runs now
    return not pid_alive(owner.pid)


def _claim_stale(cf: Path, info: Owner | None, *, active: set[str]) -> bool:
    age = _age_s(cf)
    if age is None:
        return True  # vanished meanwhile: try again
    if info is None:
        return age > UNREADABLE_CLAIM_GRACE_S
    return age > STALE_AFTER_S or _owner_dead(info, active=active)


def _take_away(cf: Path, info: Owner | None) -> bool:
    """Remove a stale claim, making sure it is the one judged stale (not a new one made meanwhile)."""
    aside = cf.with_name(f"{cf.name}.stale-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(cf, aside)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if read_claim(aside) == info:
        with contextlib.suppress(OSError):
            aside.unlink()
        return True
    # a live claim made after our look: put it back (without replacing one made since)
    try:
        os.link(aside, cf)
        aside.unlink()
    except (OSError, AttributeError, NotImplementedError):
        with contextlib.suppress(OSError):
            os.rename(aside, cf)
    return False


def _held_error(what: str, info: Owner | None) -> OutputError:
    who = f"pid {info.pid}" if info is not None else "its claim is being written"
    if info is not None and info.host != _HOST:
        who += " on another computer"
    return OutputError(
        f"output {what} is being written by another geogen job ({who}); wait for it to end or choose "
        "another output name"
    )


def remove_own_partials(folder: Path, owner: Owner) -> list[Path]:
    """Remove ``owner``'s partial files in ``folder``; returns them."""
    removed: list[Path] = []
    needle = f".{owner.tag}{PARTIAL_MARK}"
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for e in entries:
        if e.name.startswith(".") and needle in e.name:
            with contextlib.suppress(OSError):
                if e.is_file(follow_symlinks=False):
                    os.unlink(e.path)
                    removed.append(Path(e.path))
    return removed


@dataclass(frozen=True)
class SweepEntry:
    """A file ``sweep`` looked at: geogen debris, stale (removed) or of a live job (kept)."""

    path: Path
    kind: str  # "partial", "claim" or "cancel"
    stale: bool
    reason: str


def scan(folder: Path, *, now: float | None = None) -> list[SweepEntry]:
    """geogen's partials, claims and per-job cancel files in ``folder``, each judged stale or live.

    Stale: its owner's PID is gone on this host, or it is older than ``STALE_AFTER_S`` (partials of older geogen
    versions, which name no owner: by age only). A per-job cancel file is stale when older than an hour and no
    live claim names its job. Only regular files are considered.
    """
    now = time.time() if now is None else now
    active = _active_jobs()
    try:
        entries = [e for e in os.scandir(folder) if e.is_file(follow_symlinks=False)]
    except OSError:
        return []
    out: list[SweepEntry] = []
    live_jobs: set[str] = set()
    cancels = []
    for e in entries:
        name = e.name
        try:
            age = now - e.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        path = Path(e.path)
        m = _PARTIAL_RE.match(name)
        if m:
            owner = Owner(m["job"], int(m["pid"]), m["host"])
            if age > STALE_AFTER_S:
                out.append(SweepEntry(path, "partial", True, "older than 24 h"))
            elif _owner_dead(owner, active=active):
                out.append(SweepEntry(path, "partial", True, f"its job (pid {owner.pid}) is not running"))
            else:
                out.append(
                    SweepEntry(path, "partial", False, f"job {owner.job} (pid {owner.pid}) is running")
                )
        elif _LEGACY_PARTIAL_RE.match(name):
            stale = age > STALE_AFTER_S
            out.append(SweepEntry(path, "partial", stale, "older than 24 h" if stale else "recent, no owner"))
        elif name.startswith(".") and name.endswith(CLAIM_SUFFIX):
            info = read_claim(path)
            if info is None:
                stale = age > UNREADABLE_CLAIM_GRACE_S
                out.append(SweepEntry(path, "claim", stale, "unreadable" if stale else "being written"))
            elif age > STALE_AFTER_S or _owner_dead(info, active=active):
                out.append(SweepEntry(path, "claim", True, f"its job (pid {info.pid}) is not running"))
            else:
                live_jobs.add(info.job)
                out.append(SweepEntry(path, "claim", False, f"job {info.job} (pid {info.pid}) is running"))
        elif name.startswith(".") and CLAIM_SUFFIX + ".stale-" in name and age > UNREADABLE_CLAIM_GRACE_S:
            out.append(SweepEntry(path, "claim", True, "left by a claim take-over"))
        else:
            mc = _JOB_CANCEL_RE.match(name)
            if mc:
                cancels.append((path, mc["job"], age))
    for path, job, age in cancels:
        stale = job not in live_jobs and job not in active and age > 3600
        out.append(
            SweepEntry(path, "cancel", stale, "old cancel request" if stale else "recent cancel request")
        )
    return out


def sweep(folder: Path, *, dry_run: bool = False) -> list[Path]:
    """Remove the stale entries of ``scan(folder)``; returns the paths removed (or that would be)."""
    removed: list[Path] = []
    for entry in scan(folder):
        if not entry.stale:
            continue
        if dry_run:
            removed.append(entry.path)
            continue
        if entry.kind == "claim" and entry.path.name.endswith(CLAIM_SUFFIX):
            if _take_away(entry.path, read_claim(entry.path)):
                removed.append(entry.path)
            continue
        try:
            entry.path.unlink()
        except FileNotFoundError:
            continue
        except OSError:
            continue  # Windows: open elsewhere; next time
        removed.append(entry.path)
    return removed
