"""Finding the geogen backend executable and the environment to run it in.

The backend lives in its own Python environment (torch, rasterio, ...), never inside QGIS's process. It is
found, in this order: the GEOGEN_BACKEND environment variable, the plugin setting, ``geogen`` on PATH, then
common virtual-environment locations.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..common import settings
from ..common.errors import BackendNotFoundError

ENV_VAR = "GEOGEN_BACKEND"
EXE_NAME = "geogen.exe" if sys.platform == "win32" else "geogen"

# Variables QGIS sets for its own Python, GDAL, PROJ and Qt: inherited, they make the backend load the wrong
# libraries or data ("proj.db ... from another PROJ installation").
STRIPPED_ENV = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONEXECUTABLE",
    "PYTHONUSERBASE",
    "PROJ_DATA",
    "PROJ_LIB",
    "GDAL_DATA",
    "GDAL_DRIVER_PATH",
    "GDAL_PLUGINS",
    "QT_PLUGIN_PATH",
    "QT_QPA_PLATFORM_PLUGIN_PATH",
    "QGIS_PREFIX_PATH",
    "QGIS_PLUGINPATH",
    "__PYVENV_LAUNCHER__",
)

INSTALL_HINT = (
    "Install the backend in its own Python environment (not QGIS's): "
    "python -m venv geogen-env, then geogen-env/bin/pip install geogen "
    "(or run `python3 bootstrap.py setup` in a geogen source checkout). "
    "Then set the backend path in the geogen dock's Settings (or the GEOGEN_BACKEND environment variable) to "
    f"the `{EXE_NAME}` executable, e.g. geogen-env/bin/geogen (geogen-env\\Scripts\\geogen.exe on Windows)."
)


@dataclass(frozen=True)
class Backend:
    """How to start the backend: the program and the arguments that come before the subcommand."""

    command: tuple[str, ...]
    source: str = "explicit"  # where it was found, for messages

    @property
    def program(self) -> str:
        return self.command[0]

    def argv(self, *args: str) -> list[str]:
        """The argument list after the program, for QProcess.start(program, argv)."""
        return [*self.command[1:], *args]

    def describe(self) -> str:
        return f"{' '.join(self.command)} (from {self.source})"


def _executable(path: Path) -> Path | None:
    """``path`` itself, or with .exe on Windows, when it is a file."""
    for p in (path, path.with_name(path.name + ".exe")) if sys.platform == "win32" else (path,):
        if p.is_file():
            return p
    if path.is_dir():  # a virtual environment folder
        for sub in ("Scripts" if sys.platform == "win32" else "bin",):
            candidate = path / sub / EXE_NAME
            if candidate.is_file():
                return candidate
    return None


def common_locations() -> list[Path]:
    """Virtual environments where people usually put the backend."""
    home = Path.home()
    venvs = [
        home / ".geogen" / "venv",
        home / ".venvs" / "geogen",
        home / "geogen" / ".venv",
        home / "geogen-env",
        home / ".local" / "share" / "geogen" / "venv",
    ]
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        venvs.append(Path(os.environ["LOCALAPPDATA"]) / "geogen" / "venv")
    sub = "Scripts" if sys.platform == "win32" else "bin"
    return [v / sub / EXE_NAME for v in venvs]


def find_backend(setting: str | None = None, environ: Mapping[str, str] | None = None) -> Backend:
    """The backend to run (see the module docstring for the search order).

    Args:
        setting: the configured backend path (default: the plugin setting).
        environ: the environment to read GEOGEN_BACKEND from (default: os.environ).

    Raises:
        BackendNotFoundError: an explicitly configured path does not exist, or nothing was found at all.
    """
    environ = os.environ if environ is None else environ
    setting = settings.backend_path() if setting is None else setting
    for value, source in (
        (environ.get(ENV_VAR, ""), f"the {ENV_VAR} environment variable"),
        (setting, "the plugin settings"),
    ):
        if value.strip():
            exe = _executable(Path(value.strip()).expanduser())
            if exe is None:
                raise BackendNotFoundError(
                    f"geogen backend not found: {source} points to {value.strip()!r}, which is not an "
                    f"executable file. {INSTALL_HINT}"
                )
            return Backend((str(exe),), source)
    on_path = shutil.which("geogen")
    if on_path:
        return Backend((on_path,), "PATH")
    for candidate in common_locations():
        if candidate.is_file():
            return Backend((str(candidate),), str(candidate.parent.parent))
    raise BackendNotFoundError(
        f"geogen backend not found (looked at {ENV_VAR}, the plugin settings, PATH and "
        f"{', '.join(str(c) for c in common_locations()[:2])}, ...). {INSTALL_HINT}"
    )


def clean_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without QGIS's Python/GDAL/PROJ/Qt variables, with unbuffered UTF-8 Python output."""
    env = {k: v for k, v in environ.items() if k.upper() not in STRIPPED_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env
