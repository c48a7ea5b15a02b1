"""Small helpers shared by the plugin tests."""

from __future__ import annotations

import time
from pathlib import Path

FAKE_BACKEND = Path(__file__).resolve().parent / "fake_backend.py"


def wait_for(predicate, timeout: float = 60.0) -> None:
    """Process Qt events until ``predicate()`` is true (tasks finish on the main thread's event loop)."""
    from qgis.PyQt.QtCore import QCoreApplication

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        QCoreApplication.processEvents()
        time.sleep(0.02)
