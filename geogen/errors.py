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
