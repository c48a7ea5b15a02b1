"""Where the model store lives: ``GEOGEN_HOME``, else the platform's per-user data folder."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

ENV_VAR = "GEOGEN_HOME"
MANIFEST_NAME = "manifest.json"
MODELS_DIR = "models"


def user_data_dir(
    platform: str | None = None, environ: Mapping[str, str] | None = None, home: Path | None = None
) -> Path:
    """The per-user data folder for geogen on ``platform`` (``sys.platform`` values).

    Windows: %LOCALAPPDATA%\\geogen; macOS: ~/Library/Application Support/geogen;
    elsewhere: $XDG_DATA_HOME/geogen (when absolute, as the XDG spec requires) or ~/.local/share/geogen.
    """
    platform = sys.platform if platform is None else platform
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    if platform.startswith("win"):
        local = environ.get("LOCALAPPDATA")
        return (Path(local) if local else home / "AppData" / "Local") / "geogen"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "geogen"
    xdg = environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".local" / "share"
    return base / "geogen"


def store_root(environ: Mapping[str, str] | None = None) -> Path:
    """The store folder: ``$GEOGEN_HOME`` when set, else :func:`user_data_dir`."""
    environ = os.environ if environ is None else environ
    env = environ.get(ENV_VAR, "").strip()
    return Path(env).expanduser() if env else user_data_dir(environ=environ)
