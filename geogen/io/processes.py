"""Whether the process that wrote a claim, a partial file or a lock still runs: one implementation for all.

A PID alone is not an identity: once a process ends the OS may give its PID to another. Owner records therefore
also carry the process's start time where the OS tells it (``process_start``):

- Linux: ``<boot id>:<start time in clock ticks since boot>`` (``/proc/sys/kernel/random/boot_id`` and field 22 of
  ``/proc/<pid>/stat``), so a PID reused after a reboot or later in the same boot does not match;
- Windows: the creation time from ``GetProcessTimes`` (100 ns units since 1601);
- elsewhere (macOS, BSD): none; the PID alone is checked.

``pid_alive(pid, start)`` is False for a PID that is gone, a zombie (ended, not yet reaped), or a live PID whose
start time differs from the recorded one (the PID was reused). Standard library only (ctypes on Windows).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from pathlib import Path

START_TAG_LEN = 6
"""Hex digits of ``start_tag``: the start time's short form, used in partial file names."""


def _linux_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (field 3, the state, first); None if unreadable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:
        return stat[stat.rindex(")") + 2 :].split()
    except ValueError:
        return None


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def process_start(pid: int) -> str | None:
    """Process ``pid``'s start time as an opaque string (see the module docstring); None where unknown."""
    if pid <= 0:
        return None
    if sys.platform == "win32":  # pragma: no cover - Windows only
        state = _windows_process(pid)
        return state[1] if state is not None else None
    if sys.platform.startswith("linux"):
        fields = _linux_stat(pid)
        if fields is None or len(fields) < 20:
            return None
        return f"{_boot_id()}:{fields[19]}"  # field 22 (starttime) is the 20th after the name
    return None


def start_tag(start: str | None) -> str | None:
    """The short form of a start time (``START_TAG_LEN`` hex digits), for file names; None for None."""
    if not start:
        return None
    return hashlib.sha1(start.encode("utf-8", "replace")).hexdigest()[:START_TAG_LEN]


_OWN_START = process_start(os.getpid())


def own_start() -> str | None:
    """This process's start time (``process_start(os.getpid())``)."""
    return _OWN_START


def same_start(recorded: str | None, current: str | None) -> bool:
    """Whether a recorded start time (full, or its ``start_tag``) is ``current``; unknown on either side: True."""
    if not recorded or not current:
        return True
    return recorded == current or recorded == start_tag(current)


def pid_alive(pid: int, start: str | None = None) -> bool:
    """Whether process ``pid`` runs on this machine and, when ``start`` is given (a ``process_start`` value or its
    ``start_tag``), is the process that started then. A zombie counts as dead. Works on Windows too."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return same_start(start, _OWN_START)
    if sys.platform == "win32":  # pragma: no cover - Windows only
        state = _windows_process(pid)
        if state is None:
            return False
        running, created = state
        return running and same_start(start, created)
    try:
        os.kill(pid, 0)  # signal 0: an existence check only
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by another user
    except OSError:
        return False
    if sys.platform.startswith("linux"):
        fields = _linux_stat(pid)
        if fields is not None:
            if fields[0] in ("Z", "X"):  # killed or ended, not yet reaped by its parent
                return False
            if len(fields) >= 20 and not same_start(start, f"{_boot_id()}:{fields[19]}"):
                return False  # the PID was given to another process since
    return True


def _windows_process(pid: int) -> tuple[bool, str | None] | None:  # pragma: no cover - Windows only
    """(still running, creation time or None) of process ``pid``; None when there is no such process."""
    if sys.platform != "win32":
        return None
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.OpenProcess.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.GetExitCodeProcess.argtypes = [wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD)]
    kernel32.GetExitCodeProcess.restype = wintypes.BOOL
    filetime_p = ctypes.POINTER(wintypes.FILETIME)
    kernel32.GetProcessTimes.argtypes = [wintypes.HANDLE, filetime_p, filetime_p, filetime_p, filetime_p]
    kernel32.GetProcessTimes.restype = wintypes.BOOL
    kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
    kernel32.CloseHandle.restype = wintypes.BOOL
    process_query_limited_information = 0x1000
    still_active = 259
    error_access_denied = 5
    handle = kernel32.OpenProcess(process_query_limited_information, False, pid)
    if not handle:
        if ctypes.get_last_error() == error_access_denied:
            return True, None  # it exists, we may not look at it
        return None
    try:
        code = wintypes.DWORD()
        running = True
        if kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            running = code.value == still_active
        created = None
        times = [wintypes.FILETIME() for _ in range(4)]
        if kernel32.GetProcessTimes(handle, *(ctypes.byref(t) for t in times)):
            created = str((times[0].dwHighDateTime << 32) | times[0].dwLowDateTime)
        return running, created
    finally:
        with contextlib.suppress(OSError):
            kernel32.CloseHandle(handle)
