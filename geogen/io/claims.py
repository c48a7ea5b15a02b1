"""Which job owns which output: claims on final names, per-job partial names, and the sweep of dead jobs' debris.

A job run by ``geogen.job.runner.run_job`` has an id (``new_job_id``) and runs inside a ``JobScope``:

- **Claims.** Before any work, every final name the job will write (images, the result record) is claimed by
  creating ``.<name>.geogen-claim`` next to it exclusively; it holds the job's id, PID, process start time and
  host. A second live job claiming the same name gets a one-line ``OutputError``; a claim whose owner is dead is
  taken over. Claims are removed when the job ends.
- **Commits** (``geogen.io.geotiff.commit_file``) first check the job's cancel token and that the claim is still
  the job's; without overwrite they never replace a file (a hard link or a Windows rename fails if the name was
  taken meanwhile). With overwrite the file replaced is kept under a partial name of the job until it ends. A
  job that fails or is cancelled after committing some outputs removes them again and puts back the files they
  replaced, so a cancelled job leaves the final names as they were.
- **Partial names** carry the owner: ``.<stem>.<tag>-<rand>.<job>-<pid>-<host>[-<start>].partial<suffix>``
  (plus GDAL's sidecars; ``start``: ``geogen.io.processes.start_tag``, where the OS tells it), so a job's
  clean-up removes only its own files and ``sweep`` (run at every job start in its output folder, and by
  ``geogen clean``) removes only those of dead jobs. Cancel files are never swept.

Dead: on this host, the owner's PID is gone, a zombie, or reused by a process started at another time (liveness
only: a job may run for days). ``host`` is the first 6 hex digits of the SHA-1 of the host name: a PID is checked
only on its own host (a folder shared over the network may hold files of live jobs on other machines; those, and
files without a readable owner, go stale after ``STALE_AFTER_S`` only).
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
from geogen.io import processes
from geogen.io.processes import pid_alive as pid_alive  # the one liveness check, re-exported

PARTIAL_MARK = ".partial"
CLAIM_SUFFIX = ".geogen-claim"
CANCEL_FILE = "cancel"
"""The folder-wide cancel file: created (or touched) after a job started, it cancels every job in the folder."""
JOB_CANCEL_PREFIX = "cancel-"
"""``cancel-<job id>`` in the output folder cancels that job only."""
JOB_ID_ENV = "GEOGEN_JOB_ID"
STALE_AFTER_S = 24 * 3600
"""Partials and claims of another host (or of no known owner) older than this are stale."""
UNREADABLE_CLAIM_GRACE_S = 30.0
"""An empty or unreadable claim younger than this may be one being written: treated as live."""

_JOB_ID_RE = re.compile(r"^[0-9a-z]{4,32}$")
_PARTIAL_RE = re.compile(
    r"^\..*\.(?P<job>[0-9a-z]{4,32})-(?P<pid>[0-9]{1,10})-(?P<host>[0-9a-f]{6})(?:-(?P<start>[0-9a-f]{6}))?"
    + re.escape(PARTIAL_MARK)
)
_LEGACY_PARTIAL_RE = re.compile(r"^\..+\.[0-9a-f]{8}" + re.escape(PARTIAL_MARK))  # geogen <= 0.x: no owner
_START_TAG_RE = re.compile(rf"^[0-9a-f]{{{processes.START_TAG_LEN}}}$")


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


@dataclass(frozen=True)
class Owner:
    """Who wrote a partial file or holds a claim."""

    job: str
    pid: int
    host: str
    start: str | None = None
    """The process's start time (``geogen.io.processes.process_start``, or its short ``start_tag`` when read
    from a partial name); None where the OS does not tell it, or in files of older versions."""

    @property
    def tag(self) -> str:
        """The owner part of a partial name: ``<job>-<pid>-<host>`` plus ``-<start tag>`` where known."""
        st = self.start if self.start and _START_TAG_RE.match(self.start) else processes.start_tag(self.start)
        return f"{self.job}-{self.pid}-{self.host}" + (f"-{st}" if st else "")


_PROCESS_JOB = uuid.uuid4().hex[:12]  # owner of partials written outside any job (library calls)


def _process_owner() -> Owner:
    return Owner(_PROCESS_JOB, os.getpid(), _HOST, processes.own_start())


# --- the current job -------------------------------------------------------------------------------------


@dataclass
class _Claim:
    file: Path
    overwrite: bool


@dataclass
class _Commit:
    final: Path
    previous: Path | None  # the file it replaced, kept under a partial name of the job until the job ends


@dataclass
class JobScope:
    """What one running job owns: its claims, the final files it committed, the folders of its partials."""

    job_id: str
    check: Callable[[], None] = lambda: None
    pid: int = field(default_factory=os.getpid)
    claims: dict[Path, _Claim] = field(default_factory=dict)
    committed: list[_Commit] = field(default_factory=list)
    folders: set[Path] = field(default_factory=set)
    swept: set[Path] = field(default_factory=set)

    @property
    def owner(self) -> Owner:
        start = processes.own_start() if self.pid == os.getpid() else processes.process_start(self.pid)
        return Owner(self.job_id, self.pid, _HOST, start)

    def _payload(self) -> str:
        return json.dumps(
            {
                "job": self.job_id,
                "pid": self.pid,
                "start": self.owner.start,
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
                sweep(folder)

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

    def keep_previous(self, final: Path) -> Path | None:
        """Before ``final`` is replaced (overwrite): keep the file there under a partial name of this job, so that
        a failed or cancelled job can put it back (``close``); returns that name (None: no file to keep).

        A hard link keeps the final name in place until the atomic replace; where links are not available the
        file is renamed aside (and put back by ``restore_previous`` if the commit then fails).

        Raises:
            OutputError: the file cannot be moved (on Windows: it is open elsewhere).
        """
        final = Path(final)
        if final.is_symlink() or not final.is_file():
            return None
        aside = partial_name(final, "previous")
        try:
            os.link(final, aside)
            return aside
        except (OSError, NotImplementedError, AttributeError):
            pass
        try:
            os.replace(final, aside)
        except FileNotFoundError:
            return None
        except OSError:
            raise OutputError(
                f"cannot replace {final}: the file is in use or read-only (close it, e.g. remove the layer in "
                "QGIS, or choose another output name)"
            ) from None
        return aside

    @staticmethod
    def restore_previous(final: Path, previous: Path) -> None:
        """Put back the file ``keep_previous`` kept (the commit failed, or the job did)."""
        with contextlib.suppress(OSError):
            os.replace(previous, final)

    def committed_file(self, final: Path, previous: Path | None = None) -> None:
        """``final`` was committed by this job; ``previous`` holds the file it replaced (``keep_previous``)."""
        self.committed.append(_Commit(Path(final), previous))

    def close(self, *, ok: bool) -> None:
        """End of the job: on failure remove what it committed and put back the files those replaced; remove
        its partials (the replaced files, on success) and release its claims."""
        if not ok:
            for done in reversed(self.committed):
                if done.previous is not None:
                    self.restore_previous(done.final, done.previous)
                else:
                    with contextlib.suppress(OSError):
                        done.final.unlink()
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
        start = data.get("start")
        return Owner(
            str(data["job"]), int(data["pid"]), str(data["host"]), str(start) if start is not None else None
        )
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
    """Whether a same-host owner is gone: its PID is gone or a zombie, or was reused by a process that started
    at another time, or (this process) no job of it by that id runs now. Another host's owner: False (only
    the age can tell, see ``_stale``)."""
    if owner.host != _HOST:
        return False
    if owner.pid == os.getpid() and processes.same_start(owner.start, processes.own_start()):
        return owner.job not in active
    return not pid_alive(owner.pid, owner.start)


def _stale(owner: Owner, age: float, *, active: set[str]) -> bool:
    """A readable owner on this host is judged by liveness alone (a job may run for days); one on another
    host by age (``STALE_AFTER_S``)."""
    if owner.host == _HOST:
        return _owner_dead(owner, active=active)
    return age > STALE_AFTER_S


def _claim_stale(cf: Path, info: Owner | None, *, active: set[str]) -> bool:
    age = _age_s(cf)
    if age is None:
        return True  # vanished meanwhile: try again
    if info is None:
        return age > UNREADABLE_CLAIM_GRACE_S
    return _stale(info, age, active=active)


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
    kind: str  # "partial" or "claim"
    stale: bool
    reason: str


def scan(folder: Path, *, now: float | None = None) -> list[SweepEntry]:
    """geogen's partials and claims in ``folder``, each judged stale or live.

    Stale: on this host, its owner is not running (PID gone, a zombie, or reused by a later process: see
    ``geogen.io.processes``), however old the file (a job may run for days); on another host, or without an
    owner to check (partials of older geogen versions), older than ``STALE_AFTER_S``. Only regular files are
    considered. Cancel files are not debris: ``cancel`` is the user's, and a job removes its own
    ``cancel-<job id>`` when it ends (the plugin removes the one it made for a job it had to kill), so neither
    is ever listed or removed here.
    """
    now = time.time() if now is None else now
    active = _active_jobs()
    try:
        entries = [e for e in os.scandir(folder) if e.is_file(follow_symlinks=False)]
    except OSError:
        return []
    out: list[SweepEntry] = []
    for e in entries:
        name = e.name
        if not name.startswith("."):
            continue
        try:
            age = now - e.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        path = Path(e.path)
        m = _PARTIAL_RE.match(name)
        if m:
            owner = Owner(m["job"], int(m["pid"]), m["host"], m["start"])
            if not _stale(owner, age, active=active):
                out.append(
                    SweepEntry(path, "partial", False, f"job {owner.job} (pid {owner.pid}) is running")
                )
            elif owner.host != _HOST:
                out.append(SweepEntry(path, "partial", True, "of another computer, older than 24 h"))
            else:
                out.append(SweepEntry(path, "partial", True, f"its job (pid {owner.pid}) is not running"))
        elif _LEGACY_PARTIAL_RE.match(name):
            stale = age > STALE_AFTER_S
            out.append(SweepEntry(path, "partial", stale, "older than 24 h" if stale else "recent, no owner"))
        elif name.endswith(CLAIM_SUFFIX):
            info = read_claim(path)
            if info is None:
                stale = age > UNREADABLE_CLAIM_GRACE_S
                out.append(SweepEntry(path, "claim", stale, "unreadable" if stale else "being written"))
            elif _stale(info, age, active=active):
                why = "of another computer, older than 24 h" if info.host != _HOST else "is not running"
                out.append(SweepEntry(path, "claim", True, f"its job (pid {info.pid}) {why}"))
            else:
                out.append(SweepEntry(path, "claim", False, f"job {info.job} (pid {info.pid}) is running"))
        elif CLAIM_SUFFIX + ".stale-" in name and age > UNREADABLE_CLAIM_GRACE_S:
            out.append(SweepEntry(path, "claim", True, "left by a claim take-over"))
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
