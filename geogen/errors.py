"""geogen's exceptions: one root, subclasses mixed with the built-in types callers already handle.

Every user mistake surfaces as a ``GeogenError``; the CLI prints its message alone (no traceback) and exits non-zero.
"""

from __future__ import annotations


class GeogenError(Exception):
    """Root of every error geogen raises on purpose."""

    exit_code = 2


class JobSpecError(GeogenError, ValueError):
    """The job spec is malformed or inconsistent."""


class OptionsError(JobSpecError):
    """An engine's ``options`` are invalid: an unknown key, or a value of the wrong type or range.

    The message always reads ``options.<key>: <problem>``, one part per problem, and for unknown keys lists the
    engine's valid options.
    """


class InputFileError(GeogenError, OSError):
    """An input file is missing or cannot be read."""


class RasterError(GeogenError, ValueError):
    """A raster is unusable (no CRS, inconsistent bands, wrong dtype...)."""


class VectorError(GeogenError, ValueError):
    """A vector layer is unusable (empty, invalid geometry, unknown field...)."""


class GeometryError(GeogenError, ValueError):
    """An area of interest or grid is invalid (empty, outside the data, GSD <= 0...)."""


class AreaTooLargeError(GeogenError, ValueError):
    """The area needs more tiles than the configured limit."""


class OutputError(GeogenError, OSError):
    """The output location is not writable or the output already exists."""


class EngineError(GeogenError, ValueError):
    """Unknown engine, or an engine that cannot run this job."""


class ModelError(GeogenError, ValueError):
    """A model is missing, incompatible, or untrusted."""


class ClassMappingError(GeogenError, ValueError):
    """Land-cover classes that the engine's vocabulary cannot represent."""


class CancelledError(GeogenError):
    """The job was cancelled (SIGTERM/SIGINT or the plugin's Cancel button)."""

    exit_code = 130


# errno values of the operating system's limits and refusals: a user's situation to fix, never a bug
_OS_LIMITS = {
    "ENOSPC": "no space left on the disk",
    "EDQUOT": "disk quota exceeded",
    "EACCES": "permission denied",
    "EPERM": "operation not permitted",
    "EROFS": "read-only file system",
    "ENAMETOOLONG": "file name too long for the operating system",
    "EMFILE": "too many open files",
    "EFBIG": "file too large for the file system",
    "EISDIR": "is a folder, not a file",
    "ENOTDIR": "a part of the path is not a folder",
    "EINVAL": "invalid file name for the operating system",
}


# the same conditions as the C library words them (GDAL reports them in its messages, without an errno)
_OS_LIMIT_TEXTS = {
    "no space left on device": "ENOSPC",
    "disk quota exceeded": "EDQUOT",
    "free disk space available is": "ENOSPC",
    "permission denied": "EACCES",
    "read-only file system": "EROFS",
    "file name too long": "ENAMETOOLONG",
    "too many open files": "EMFILE",
}


def os_limit_reason(exc: BaseException) -> str | None:
    """A short reason when ``exc`` is an OS limit or refusal (disk full, permissions, read-only, name too
    long...) met by Python (an OSError's errno) or by GDAL (its message), else None."""
    import errno as _errno

    if isinstance(exc, GeogenError):
        return None
    if isinstance(exc, OSError) and exc.errno is not None:
        if isinstance(exc, PermissionError):
            return _OS_LIMITS["EACCES"]
        for name, reason in _OS_LIMITS.items():
            if exc.errno == getattr(_errno, name, None):
                return reason
        if getattr(exc, "winerror", None) == 206:  # ERROR_FILENAME_EXCED_RANGE
            return _OS_LIMITS["ENAMETOOLONG"]
        return None
    text = str(exc).lower()
    cause = exc.__cause__ or exc.__context__
    if cause is not None and cause is not exc:
        text += " " + str(cause).lower()
    for words, name in _OS_LIMIT_TEXTS.items():
        if words in text:
            return _OS_LIMITS[name]
    return None


def os_error(exc: BaseException, path: object | None = None, *, output: bool = True) -> GeogenError:
    """``exc`` (an OS limit or refusal) as a one-line ``OutputError`` (or ``InputFileError``) naming the path
    (``exc.filename`` when it has one, else ``path``)."""
    filename = getattr(exc, "filename", None)
    where = filename if filename else (path if path is not None else "")
    reason = os_limit_reason(exc) or (getattr(exc, "strerror", None) or str(exc).splitlines()[0]).lower()
    cls: type[GeogenError] = OutputError if output else InputFileError
    return cls(f"cannot {'write' if output else 'read'} {where}: {reason}")
