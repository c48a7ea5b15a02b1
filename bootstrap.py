#!/usr/bin/env python3
"""Set up what is missing, then run geogen's demo job or its whole test suite.

    python3 bootstrap.py demo    # backend venv + the embedded default job on bundled real data
    python3 bootstrap.py test    # backend venv + QGIS test venv + every test

Idempotent: a second run skips every step whose inputs did not change. Works on Linux, macOS and Windows
(the QGIS test environment is prepared automatically on Debian/Ubuntu; elsewhere point GEOGEN_QGIS_PYTHON
at a Python that can ``import qgis.core``).

Environment:
    GEOGEN_TORCH        pip requirement(s) for torch, installed before the project (default "torch==2.13.0").
                        GPU users: e.g. GEOGEN_TORCH="torch --index-url https://download.pytorch.org/whl/cu124".
    GEOGEN_QGIS_PYTHON  Python interpreter with QGIS's bindings (default: /usr/bin/python3 on Linux).
    GEOGEN_SKIP_QGIS    set to 1 to run `test` without the QGIS plugin tests where QGIS cannot be installed
                        (otherwise a missing QGIS fails the run: the plugin tests are part of "every test").
"""

from __future__ import annotations

import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
QGIS_VENV = ROOT / ".venv-qgis"
STAMP_VERSION = "3"
QGIS_TEST_REQUIREMENTS = ["pytest", "pytest-qgis==5.0.2"]


def log(msg: str) -> None:
    print(f"[bootstrap] {msg}", flush=True)


def run(cmd: list[str], **kwargs) -> None:
    log(" ".join(shlex.quote(str(c)) for c in cmd))
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def venv_script(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / (name + (".exe" if os.name == "nt" else ""))


def fingerprint(*parts: str) -> str:
    h = hashlib.sha256(STAMP_VERSION.encode())
    for p in parts:
        h.update(p.encode())
    return h.hexdigest()


def stamp_ok(venv: Path, fp: str) -> bool:
    stamp = venv / ".geogen-stamp"
    return venv_python(venv).exists() and stamp.exists() and stamp.read_text().strip() == fp


def write_stamp(venv: Path, fp: str) -> None:
    (venv / ".geogen-stamp").write_text(fp + "\n")


def _sudo() -> list[str] | None:
    """[] as root, ["sudo"] where sudo exists, None when packages cannot be installed."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return []
    return ["sudo"] if shutil.which("sudo") else None


def apt_install(*packages: str) -> bool:
    """Install Debian packages when this is a Debian/Ubuntu machine we may administer; False otherwise."""
    apt, sudo = shutil.which("apt-get"), _sudo()
    if not apt or sudo is None:
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run([*sudo, apt, "update", "-qq"], env=env)
    run([*sudo, apt, "install", "-y", "-qq", "--no-install-recommends", *packages], env=env)
    return True


def venv_works(py: Path) -> bool:
    return py.exists() and subprocess.run([py, "-m", "pip", "--version"], capture_output=True).returncode == 0


def make_venv(python: str | Path, venv: Path, *extra: str) -> None:
    """A fresh venv at ``venv``; Debian's python3-venv is installed first when ensurepip is missing."""
    if subprocess.run([python, "-c", "import ensurepip"], capture_output=True).returncode != 0:
        minor = subprocess.run(
            [python, "-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        if not apt_install("python3-venv", f"python{minor}-venv"):
            sys.exit(f"{python} cannot create virtual environments (no ensurepip): install python3-venv")
    if venv.exists():
        shutil.rmtree(venv)
    run([python, "-m", "venv", *extra, venv])


def ensure_backend() -> Path:
    """The backend venv: torch first (pinned, so pip never pulls a CUDA build here), then geogen[test] editable."""
    # bootstrap.py runs under whatever python3 the user has, which may predate requires-python.
    if sys.version_info < (3, 10):  # noqa: UP036 (a runtime check for older interpreters, not dead code)
        sys.exit(f"geogen needs Python >= 3.10, this is {platform.python_version()}")
    torch_req = os.environ.get("GEOGEN_TORCH", "torch==2.13.0")
    fp = fingerprint((ROOT / "pyproject.toml").read_text(), torch_req, sys.version)
    py = venv_python(VENV)
    if stamp_ok(VENV, fp):
        return py
    if not venv_works(py):
        make_venv(sys.executable, VENV)
    pip = [py, "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "install", "-q", "--upgrade", "pip"])
    torch_stamp = VENV / ".geogen-torch"
    has_torch = subprocess.run([py, "-c", "import torch"], capture_output=True).returncode == 0
    same_torch = torch_stamp.exists() and torch_stamp.read_text().strip() == torch_req
    if not has_torch or not same_torch:
        # A changed GEOGEN_TORCH (e.g. a CUDA build) replaces the installed torch.
        run(
            [
                *pip,
                "install",
                "-q",
                *(["--force-reinstall", "--no-deps"] if has_torch else []),
                *shlex.split(torch_req),
            ]
        )
        if has_torch:
            run([*pip, "install", "-q", *shlex.split(torch_req)])  # its dependencies, if new ones
        torch_stamp.write_text(torch_req + "\n")
    run([*pip, "install", "-q", "-e", f"{ROOT}[test]"])
    write_stamp(VENV, fp)
    return py


def qgis_python() -> Path | None:
    """A system Python that imports qgis.core, installing Debian's python3-qgis when possible."""
    candidate = os.environ.get("GEOGEN_QGIS_PYTHON") or (
        "/usr/bin/python3" if sys.platform.startswith("linux") else ""
    )
    if not candidate:
        return None
    probe = [candidate, "-c", "import qgis.core"]
    if subprocess.run(probe, capture_output=True).returncode == 0:
        return Path(candidate)
    if (
        not os.environ.get("GEOGEN_QGIS_PYTHON")
        and apt_install("python3-qgis", "python3-venv")
        and subprocess.run(probe, capture_output=True).returncode == 0
    ):
        return Path(candidate)
    return None


def ensure_qgis() -> Path | None:
    """The QGIS test venv (system site packages + pytest-qgis only), or None when QGIS cannot be had here."""
    system_py = qgis_python()
    if system_py is None:
        return None
    fp = fingerprint(str(system_py), *QGIS_TEST_REQUIREMENTS)
    py = venv_python(QGIS_VENV)
    if stamp_ok(QGIS_VENV, fp):
        return py
    make_venv(system_py, QGIS_VENV, "--system-site-packages")
    run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", *QGIS_TEST_REQUIREMENTS])
    write_stamp(QGIS_VENV, fp)
    return py


def test_env() -> dict[str, str]:
    env = dict(
        os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"
    )
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def pytest_run(py: Path, args: list[str], env: dict[str, str]) -> int:
    """Run pytest; 'no tests collected' (exit 5) counts as a failure."""
    cmd = [str(py), "-m", "pytest", *args]
    log(" ".join(cmd))
    rc = subprocess.run(cmd, cwd=ROOT, env=env).returncode
    if rc == 5:
        log("pytest collected no tests: failing")
        return 1
    return rc


def cmd_demo(extra: list[str]) -> int:
    ensure_backend()
    return subprocess.run([str(venv_script(VENV, "geogen")), "demo", *extra], cwd=ROOT).returncode


STATIC_CHECKS = (
    ("ruff format", ["ruff", "format", "--check", "."]),
    ("ruff check", ["ruff", "check", "."]),
    ("mypy", ["mypy"]),
    ("import-linter", ["lint-imports"]),
)


def static_checks(env: dict[str, str]) -> int:
    """Formatting, lint, types and layer contracts (configured in pyproject.toml); non-zero when any fails."""
    failed = []
    for name, (tool, *args) in STATIC_CHECKS:
        cmd = [str(venv_script(VENV, tool)), *args]
        log(" ".join(cmd))
        if subprocess.run(cmd, cwd=ROOT, env=env).returncode != 0:
            failed.append(name)
    if failed:
        log(f"static checks failed: {', '.join(failed)}")
    return 1 if failed else 0


def cmd_test(extra: list[str]) -> int:
    py = ensure_backend()
    qpy = ensure_qgis()
    env = test_env()
    rc = static_checks(env)
    rc = max(rc, pytest_run(py, ["tests", *extra], env))
    plugin_tests = ROOT / "qgis_plugin" / "tests"
    if plugin_tests.is_dir():
        if qpy is None:
            msg = "QGIS (python3-qgis) is not available: the plugin tests cannot run"
            if not os.environ.get("GEOGEN_SKIP_QGIS"):
                log(
                    msg
                    + "; set GEOGEN_QGIS_PYTHON to a Python with QGIS (or GEOGEN_SKIP_QGIS=1 to skip them)"
                )
                return 1
            log(msg + "; skipped because GEOGEN_SKIP_QGIS is set")
        else:
            qenv = dict(env, QT_QPA_PLATFORM="offscreen", GEOGEN_BACKEND=str(venv_script(VENV, "geogen")))
            for var in ("PYTHONPATH", "PYTHONHOME"):
                qenv.pop(var, None)
            rc = max(rc, pytest_run(qpy, [str(plugin_tests.relative_to(ROOT)), *extra], qenv))
    return rc


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "setup"}:
        print(__doc__)
        return 2
    cmd, extra = argv[0], argv[1:]
    try:
        if cmd == "setup":
            ensure_backend()
            ensure_qgis()
            return 0
        return cmd_demo(extra) if cmd == "demo" else cmd_test(extra)
    except subprocess.CalledProcessError as exc:
        log(f"set-up step failed (exit {exc.returncode}): {' '.join(map(str, exc.cmd))}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
