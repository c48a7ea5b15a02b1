"""Finding the geogen backend executable, checking it, and the environment to run it in.

The backend lives in its own Python environment (torch, rasterio, ...), never inside QGIS's process. It is
found, in this order: the GEOGEN_BACKEND environment variable, the plugin setting, ``geogen`` on PATH, then
common virtual-environment locations. A configured path may be the executable or the virtual environment's
folder.

The backend must be a program the OS starts directly, never through a shell or a script host
(``check_program``): on Windows an ``.exe`` (``.bat``/``.cmd`` would run through cmd.exe, which re-parses the
arguments; ``.ps1``/``.vbs``/``.js``/``.wsf``/``.py`` through a script host or launcher), elsewhere a regular
file with execute permission (a venv's ``bin/geogen`` console script is one). A ``Backend`` built in code may
also be an interpreter followed by a script (``(python, script.py)``, as the tests' fake backends are); its
program, the interpreter, is checked the same way.

The child environment is an allowlist (``clean_environment``): the backend gets only what a Python program
with torch, GDAL and a model download needs, never QGIS's own Python/GDAL/PROJ/Qt settings nor anything that
changes how the interpreter or the dynamic loader behaves. Passed through when set (names compared
case-insensitively, as Windows does):

- where programs, the home folder and temporary files are: ``PATH``, ``PATHEXT``, ``HOME``, ``USERPROFILE``,
  ``HOMEDRIVE``, ``HOMEPATH``, ``USER``, ``USERNAME``, ``LOGNAME``, ``APPDATA``, ``LOCALAPPDATA``,
  ``PROGRAMDATA``, ``PROGRAMFILES``, ``PROGRAMFILES(X86)``, ``PROGRAMW6432``, ``TEMP``, ``TMP``, ``TMPDIR``,
  ``XDG_*``;
- Windows system folders and facts Python itself needs (sockets, random numbers, ``platform``):
  ``SYSTEMROOT``, ``WINDIR``, ``SYSTEMDRIVE``, ``NUMBER_OF_PROCESSORS``, ``PROCESSOR_ARCHITECTURE``,
  ``PROCESSOR_IDENTIFIER``, ``OS`` (not ``COMSPEC``: no shell is ever started);
- language and time: ``LANG``, ``LANGUAGE``, ``LC_*``, ``TZ``;
- network: ``HTTP_PROXY``, ``HTTPS_PROXY``, ``NO_PROXY``, ``ALL_PROXY`` (either case), ``SSL_CERT_FILE``,
  ``SSL_CERT_DIR``, ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``;
- devices, threads and model caches: ``CUDA_*`` (``CUDA_VISIBLE_DEVICES``, ...),
  ``PYTORCH_CUDA_ALLOC_CONF``, ``PYTORCH_ENABLE_MPS_FALLBACK``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``,
  ``OPENBLAS_NUM_THREADS``, ``NUMEXPR_NUM_THREADS``, ``NUMEXPR_MAX_THREADS``, ``VECLIB_MAXIMUM_THREADS``,
  ``HF_*`` (``HF_HOME``, ``HF_HUB_OFFLINE``, ...), ``HUGGINGFACE_HUB_CACHE``, ``TRANSFORMERS_CACHE``,
  ``TRANSFORMERS_OFFLINE``, ``TORCH_HOME``;
- geogen's own: ``GEOGEN_*`` (``GEOGEN_HOME``, ...).

Everything else is dropped: notably ``LD_PRELOAD``, ``LD_LIBRARY_PATH``, ``DYLD_*``, ``PYTHONPATH``,
``PYTHONHOME``, ``PYTHONINSPECT`` (the backend would wait at an interactive prompt after its job),
``PYTHONWARNINGS``, ``PYTHONSTARTUP``, ``GDAL_*``, ``PROJ_*``, ``QT_*``, ``QGIS_*``. The plugin then sets
``PYTHONUNBUFFERED=1`` and ``PYTHONIOENCODING=utf-8`` so progress lines arrive as they are written.
"""

from __future__ import annotations

import contextlib
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

# The child environment's allowlist (see the module docstring): exact names and prefixes, upper case.
ALLOWED_ENV = frozenset(
    {
        "PATH",
        "PATHEXT",
        "HOME",
        "USERPROFILE",
        "HOMEDRIVE",
        "HOMEPATH",
        "USER",
        "USERNAME",
        "LOGNAME",
        "APPDATA",
        "LOCALAPPDATA",
        "PROGRAMDATA",
        "PROGRAMFILES",
        "PROGRAMFILES(X86)",
        "PROGRAMW6432",
        "TEMP",
        "TMP",
        "TMPDIR",
        "SYSTEMROOT",
        "WINDIR",
        "SYSTEMDRIVE",
        "NUMBER_OF_PROCESSORS",
        "PROCESSOR_ARCHITECTURE",
        "PROCESSOR_IDENTIFIER",
        "OS",
        "LANG",
        "LANGUAGE",
        "TZ",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "PYTORCH_CUDA_ALLOC_CONF",
        "PYTORCH_ENABLE_MPS_FALLBACK",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "NUMEXPR_MAX_THREADS",
        "VECLIB_MAXIMUM_THREADS",
        "HUGGINGFACE_HUB_CACHE",
        "TRANSFORMERS_CACHE",
        "TRANSFORMERS_OFFLINE",
        "TORCH_HOME",
    }
)
ALLOWED_ENV_PREFIXES = ("GEOGEN_", "LC_", "XDG_", "CUDA_", "HF_")
# Set for every backend run, whatever the parent had.
FORCED_ENV = {"PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}

# Windows runs these through cmd.exe or a script host (or the py launcher) rather than as a program.
WINDOWS_SCRIPT_HOSTS = {
    ".bat": "cmd.exe",
    ".cmd": "cmd.exe",
    ".ps1": "PowerShell",
    ".vbs": "Windows Script Host",
    ".vbe": "Windows Script Host",
    ".js": "Windows Script Host",
    ".jse": "Windows Script Host",
    ".wsf": "Windows Script Host",
    ".wsh": "Windows Script Host",
    ".msc": "the Microsoft Management Console",
    ".py": "the Python launcher",
    ".pyw": "the Python launcher",
}
WINDOWS_PROGRAM_SUFFIXES = (".exe",)

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


def check_program(path: Path, source: str = "the backend path", *, os_name: str | None = None) -> Path:
    """``path`` when it is a program the OS starts directly (see the module docstring), else an error.

    Args:
        source: where the path came from, for the message ("the GEOGEN_BACKEND environment variable", ...).
        os_name: ``os.name`` to apply the rules of ("nt" for Windows); the running OS's by default.

    Raises:
        BackendNotFoundError: the path is missing, a folder, a Windows script (.bat, .cmd, .ps1, .vbs, ...) or
            not executable; the message names the path and says what to point to instead.
    """
    windows = (os.name if os_name is None else os_name) == "nt"
    suffix = path.suffix.lower()
    if windows and suffix in WINDOWS_SCRIPT_HOSTS:
        raise BackendNotFoundError(
            f"refused geogen backend {str(path)!r} (from {source}): a {suffix} file is run through "
            f"{WINDOWS_SCRIPT_HOSTS[suffix]}, not started as a program; point it to the geogen.exe "
            f"of the backend's environment (e.g. geogen-env\\Scripts\\geogen.exe). {INSTALL_HINT}"
        )
    if not path.exists():
        raise BackendNotFoundError(
            f"geogen backend not found: {source} points to {str(path)!r}, which does not exist. {INSTALL_HINT}"
        )
    if not path.is_file():
        raise BackendNotFoundError(
            f"geogen backend not usable: {source} points to {str(path)!r}, which is not an executable file "
            f"(a folder or a device). {INSTALL_HINT}"
        )
    if windows and suffix not in WINDOWS_PROGRAM_SUFFIXES:
        raise BackendNotFoundError(
            f"refused geogen backend {str(path)!r} (from {source}): not a Windows program (.exe); point it to "
            f"the geogen.exe of the backend's environment. {INSTALL_HINT}"
        )
    if not windows and not os.access(path, os.X_OK):
        raise BackendNotFoundError(
            f"geogen backend not usable: {source} points to {str(path)!r}, which is not an executable file "
            f"(no execute permission). {INSTALL_HINT}"
        )
    return path


def _resolve(path: Path, source: str) -> Path:
    """The program a configured path means: the path itself (with .exe added on Windows when it names
    nothing), or the geogen executable of the virtual environment folder it names; checked."""
    if sys.platform == "win32" and not path.exists():
        with_exe = path.with_name(path.name + ".exe")
        if with_exe.is_file():
            path = with_exe
    if path.is_dir():  # a virtual environment folder
        candidate = path / ("Scripts" if sys.platform == "win32" else "bin") / EXE_NAME
        if candidate.is_file():
            path = candidate
    return check_program(path, source)


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
        BackendNotFoundError: an explicitly configured path is missing or not a program the plugin may start
            (see ``check_program``), or nothing was found at all.
    """
    environ = os.environ if environ is None else environ
    setting = settings.backend_path() if setting is None else setting
    for value, source in (
        (environ.get(ENV_VAR, ""), f"the {ENV_VAR} environment variable"),
        (setting, "the plugin settings"),
    ):
        if value.strip():
            return Backend((str(_resolve(Path(value.strip()).expanduser(), source)),), source)
    on_path = shutil.which(EXE_NAME)  # on Windows only geogen.exe: never a geogen.bat/.cmd found by PATHEXT
    if on_path:
        with contextlib.suppress(BackendNotFoundError):
            return Backend((str(check_program(Path(on_path), "PATH")),), "PATH")
    for candidate in common_locations():
        if candidate.is_file():
            with contextlib.suppress(BackendNotFoundError):
                return Backend((str(check_program(candidate, str(candidate))),), str(candidate.parent.parent))
    raise BackendNotFoundError(
        f"geogen backend not found (looked at {ENV_VAR}, the plugin settings, PATH and "
        f"{', '.join(str(c) for c in common_locations()[:2])}, ...). {INSTALL_HINT}"
    )


def allowed_variable(name: str) -> bool:
    """Whether the environment variable ``name`` reaches the backend (see the module docstring)."""
    upper = name.upper()
    return upper in ALLOWED_ENV or upper.startswith(ALLOWED_ENV_PREFIXES)


def clean_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The backend's environment: the allowed variables of ``environ``, with unbuffered UTF-8 Python output."""
    env = {k: v for k, v in environ.items() if allowed_variable(k)}
    env.update(FORCED_ENV)
    return env
