"""The plugin's settings in QgsSettings (under ``geogen/``): backend command, default engine per task, output
folder.

Nothing secret is stored here.
"""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsSettings
from qgis.PyQt.QtCore import QStandardPaths

PREFIX = "geogen"
KEY_BACKEND = f"{PREFIX}/backend_path"
KEY_OUTPUT_FOLDER = f"{PREFIX}/output_folder"
KEY_ENGINE = f"{PREFIX}/default_engine"


def _get(key: str) -> str:
    value = QgsSettings().value(key, "")
    return str(value) if value else ""


def _set(key: str, value: str) -> None:
    settings = QgsSettings()
    if value:
        settings.setValue(key, value)
    else:
        settings.remove(key)


def backend_path() -> str:
    """The backend executable the user chose ("" when auto-detected)."""
    return _get(KEY_BACKEND)


def set_backend_path(path: str) -> None:
    """Store the backend executable ("" to auto-detect)."""
    _set(KEY_BACKEND, path.strip())


def default_engine(task: str) -> str:
    """The engine the user last chose for ``task`` ("" for the backend's default)."""
    return _get(f"{KEY_ENGINE}/{task}")


def set_default_engine(task: str, engine: str) -> None:
    """Remember ``engine`` as the choice for ``task`` ("" to forget it)."""
    _set(f"{KEY_ENGINE}/{task}", engine)


def default_output_folder() -> Path:
    """Where results go when the user chose nothing: <Documents>/geogen."""
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(docs or Path.home()) / "geogen"


def output_folder() -> Path:
    """The folder under which each job gets its own job directory."""
    value = _get(KEY_OUTPUT_FOLDER)
    return Path(value) if value else default_output_folder()


def set_output_folder(path: str) -> None:
    """Store the output folder ("" for the default)."""
    _set(KEY_OUTPUT_FOLDER, path.strip())
