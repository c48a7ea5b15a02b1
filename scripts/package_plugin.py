#!/usr/bin/env python3
"""Build the installable QGIS plugin zip: dist/geogen_qgis-<version>.zip.

The zip holds one folder, ``geogen_qgis/``, with the plugin package (tests and caches left out) and the
repository's ``metadata.txt`` (and LICENSE when present); the version comes from metadata.txt. Runs with any
Python 3; the zip's entries have fixed timestamps, so the same sources give the same bytes.

    python scripts/package_plugin.py [--output-dir dist]
"""

from __future__ import annotations

import argparse
import configparser
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "qgis_plugin"
PLUGIN_DIR = "geogen_qgis"
EXCLUDED_DIRS = {"tests", "__pycache__", ".pytest_cache"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo"}
FIXED_TIME = (2020, 1, 1, 0, 0, 0)


def read_version(metadata: Path) -> str:
    """The ``version`` in metadata.txt's [general] section."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(metadata, encoding="utf-8")
    try:
        return parser["general"]["version"].strip()
    except KeyError:
        raise SystemExit(f"{metadata} has no [general] version") from None


def plugin_files(source: Path) -> list[Path]:
    """Files of the plugin package, sorted, without tests and caches."""
    files = []
    for p in sorted(source.rglob("*")):
        rel = p.relative_to(source)
        if (
            p.is_file()
            and not (set(rel.parts[:-1]) & EXCLUDED_DIRS)
            and p.suffix not in EXCLUDED_SUFFIXES
            and rel.parts[0] not in EXCLUDED_DIRS
        ):
            files.append(p)
    return files


def _add(zf: zipfile.ZipFile, path: Path, arcname: str) -> None:
    info = zipfile.ZipInfo(arcname, FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, path.read_bytes())


def build(output_dir: Path, root: Path = ROOT) -> Path:
    """Write the plugin zip into ``output_dir`` and return its path."""
    metadata = root / "metadata.txt"
    if not metadata.is_file():
        raise SystemExit(f"missing {metadata}")
    version = read_version(metadata)
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / f"{PLUGIN_DIR}-{version}.zip"
    with zipfile.ZipFile(target, "w") as zf:
        for path in plugin_files(root / "qgis_plugin"):
            _add(zf, path, f"{PLUGIN_DIR}/{path.relative_to(root / 'qgis_plugin').as_posix()}")
        _add(zf, metadata, f"{PLUGIN_DIR}/metadata.txt")
        for extra in ("LICENSE", "LICENSE.txt"):
            if (root / extra).is_file():
                _add(zf, root / extra, f"{PLUGIN_DIR}/{extra}")
    return target


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "dist", help="where to write the zip")
    args = parser.parse_args(argv)
    print(build(args.output_dir.resolve()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
