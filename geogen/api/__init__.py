"""geogen's Python API: one function per task and ``run`` for any job, each returning a typed ``Result``.

The command line (``geogen superres``, ``sketch``, ``text``, ``temporal``, ``run``, ``demo``) is a thin
wrapper over these functions: it parses its flags, calls one of them and prints the result. Progress comes
through a callback (or a ``geogen.progress.Reporter``), cancellation through a ``CancelToken`` or a
``threading.Event``; the library never installs signal handlers.
"""

from __future__ import annotations

from geogen.api.control import CallbackReporter, ProgressCallback
from geogen.api.jobs import run
from geogen.api.result import Result
from geogen.api.tasks import sample_scene, sketch, superres, temporal, text
from geogen.job.runner import CancelToken

__all__ = [
    "CallbackReporter",
    "CancelToken",
    "ProgressCallback",
    "Result",
    "run",
    "sample_scene",
    "sketch",
    "superres",
    "temporal",
    "text",
]
