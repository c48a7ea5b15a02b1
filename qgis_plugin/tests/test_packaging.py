"""The packaging command builds a zip that installs as a QGIS plugin (unzipped into a plugins folder, found,
loaded and started by QGIS's own plugin loader)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "package_plugin.py"), "--output-dir", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip())
    assert path.parent == out
    return path


def test_zip_content(plugin_zip: Path):
    version = next(
        line.split("=", 1)[1].strip()
        for line in (REPO / "metadata.txt").read_text().splitlines()
        if line.startswith("version=")
    )
    assert plugin_zip.name == f"geogen_qgis-{version}.zip"
    with zipfile.ZipFile(plugin_zip) as zf:
        names = zf.namelist()
        assert zf.read("geogen_qgis/metadata.txt") == (REPO / "metadata.txt").read_bytes()
    assert all(n.startswith("geogen_qgis/") for n in names)
    assert "geogen_qgis/__init__.py" in names and "geogen_qgis/provider.py" in names
    assert not [n for n in names if "/tests/" in n or n.endswith(".pyc") or "__pycache__" in n]


def test_zip_installs_and_starts_as_a_plugin(plugin_zip: Path, tmp_path: Path, qgis_iface, qgis_processing):
    import qgis.utils
    from qgis.core import QgsApplication

    plugins = tmp_path / "python" / "plugins"
    plugins.mkdir(parents=True)
    with zipfile.ZipFile(plugin_zip) as zf:
        zf.extractall(plugins)
    registry = QgsApplication.processingRegistry()
    if registry.providerById("geogen") is not None:
        registry.removeProvider("geogen")
    saved = (qgis.utils.plugin_paths, qgis.utils.iface)
    qgis.utils.plugin_paths = [str(plugins)]
    qgis.utils.iface = qgis_iface
    sys.path.insert(0, str(plugins))
    try:
        qgis.utils.updateAvailablePlugins()  # QGIS discovers the plugin folder by its metadata.txt
        assert qgis.utils.available_plugins == ["geogen_qgis"]
        meta = qgis.utils.plugins_metadata_parser["geogen_qgis"]
        assert meta.get("general", "supportsQt6") == "True" and meta.get("general", "name") == "geogen"
        assert qgis.utils.loadPlugin("geogen_qgis")
        assert qgis.utils.startPlugin("geogen_qgis")
        plugin = qgis.utils.plugins["geogen_qgis"]
        assert type(plugin).__module__ == "geogen_qgis.plugin"  # the installed copy, not the source tree
        assert len(registry.providerById("geogen").algorithms()) == 5
        assert qgis.utils.unloadPlugin("geogen_qgis")
        assert registry.providerById("geogen") is None
        assert "geogen_qgis" not in sys.modules
    finally:
        qgis.utils.plugin_paths, qgis.utils.iface = saved
        qgis.utils.updateAvailablePlugins()
        if str(plugins) in sys.path:
            sys.path.remove(str(plugins))
        for name in [m for m in sys.modules if m == "geogen_qgis" or m.startswith("geogen_qgis.")]:
            del sys.modules[name]
