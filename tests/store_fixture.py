"""The empty-model-store fixture of the test folders that build tiny models; each folder's conftest imports it
(pytest then uses it there, autouse)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets an empty model store of its own (never the user's)."""
    home = tmp_path / "geogen_home"
    monkeypatch.setenv("GEOGEN_HOME", str(home))
    return home
