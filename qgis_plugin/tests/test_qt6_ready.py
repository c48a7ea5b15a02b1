"""Qt6 / QGIS 4 readiness: every plugin module is scanned statically for Qt5-only API.

Rules: imports only through qgis.PyQt (never PyQt5/PyQt6/sip directly); no exec_()/print_(); fully scoped
enums (``Qt.AlignmentFlag.AlignCenter``, not ``Qt.AlignCenter``; the same for Q*/Qgs*/Qgis classes); QAction,
QActionGroup and QShortcut taken from QtGui (QtWidgets only as the Qt5 fallback in an ``except ImportError``);
no classes Qt6 removed (QRegExp, QDesktopWidget, QStringList...); QVariant types only in common/compat.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

PLUGIN = Path(__file__).resolve().parents[1]
MOVED_TO_QTGUI = {"QAction", "QActionGroup", "QShortcut", "QUndoCommand", "QUndoStack", "QFileSystemModel"}
REMOVED_IN_QT6 = {
    "QRegExp",
    "QRegExpValidator",
    "QDesktopWidget",
    "QStringList",
    "QTextCodec",
    "QGLWidget",
    "QMatrix",
    "QSound",
    "QtWebKit",
    "QtWebKitWidgets",
    "QtXmlPatterns",
}


def _is_scoped_enum_violation(node: ast.Attribute, parent: ast.AST | None) -> bool:
    """``Owner.Member`` where Owner is a Qt/QGIS class and Member an enum value (CamelCase, not a call, not
    followed by another attribute): an unscoped enum."""
    if not isinstance(node.value, ast.Name):
        return False
    owner, member = node.value.id, node.attr
    qt_class = owner[:1] == "Q" and owner[1:2].isupper()
    qgis_class = owner.startswith("Qgs") and owner[3:4].isupper()
    if not (qt_class or qgis_class or owner in ("Qt", "Qgis")):
        return False
    if not member[:1].isupper() or member.isupper():  # methods are lowercase; ALL_CAPS are constants
        return False
    if isinstance(parent, ast.Attribute) and parent.value is node:  # Qt.AlignmentFlag.AlignCenter
        return False
    # Not a call either: QgsProcessingContext.LayerDetails(...) is a class, not an enum value.
    return not (isinstance(parent, ast.Call) and parent.func is node)


def scan_source(source: str, filename: str = "<string>") -> list[str]:
    """Qt5-only constructs in ``source``, as "file:line: problem" strings."""
    tree = ast.parse(source, filename)
    parents: dict[ast.AST, ast.AST] = {}
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            parents[child] = parent
    in_except_import_error: set[ast.AST] = set()
    for handler in ast.walk(tree):
        if (
            isinstance(handler, ast.ExceptHandler)
            and isinstance(handler.type, ast.Name)
            and handler.type.id == "ImportError"
        ):
            in_except_import_error.update(ast.walk(handler))
    problems = []

    def report(node: ast.AST, text: str) -> None:
        problems.append(f"{filename}:{getattr(node, 'lineno', '?')}: {text}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ("PyQt5", "PyQt6", "PyQt4", "sip", "PySide2", "PySide6"):
                    report(node, f"import {alias.name} (use qgis.PyQt)")
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.split(".")[0] in ("PyQt5", "PyQt6", "PyQt4", "sip", "PySide2", "PySide6"):
                report(node, f"from {module} import ... (use qgis.PyQt)")
            names = {a.name for a in node.names}
            if module.endswith("QtWidgets") and names & MOVED_TO_QTGUI and node not in in_except_import_error:
                report(
                    node,
                    f"{sorted(names & MOVED_TO_QTGUI)} from QtWidgets (QtGui in Qt6; fall back in an "
                    "except ImportError)",
                )
            for name in sorted(names & REMOVED_IN_QT6):
                report(node, f"{name} does not exist in Qt6")
        elif isinstance(node, ast.Attribute):
            if node.attr in ("exec_", "print_"):
                report(node, f"{node.attr}() (use exec()/print())")
            elif node.attr in REMOVED_IN_QT6:
                report(node, f"{node.attr} does not exist in Qt6")
            elif _is_scoped_enum_violation(node, parents.get(node)):
                report(node, f"unscoped enum {node.value.id}.{node.attr}")
            if (
                isinstance(node.value, ast.Name)
                and node.value.id == "QVariant"
                and not filename.endswith("compat.py")
            ):
                report(node, "QVariant types (use compat.int_field_type / QMetaType)")
        elif isinstance(node, ast.Name) and node.id in REMOVED_IN_QT6:
            report(node, f"{node.id} does not exist in Qt6")
    return problems


def plugin_modules() -> list[Path]:
    return sorted(p for p in PLUGIN.rglob("*.py") if "tests" not in p.relative_to(PLUGIN).parts)


def test_scanner_catches_qt5_only_code():
    bad = (
        "from PyQt5.QtCore import Qt\n"
        "import sip\n"
        "from qgis.PyQt.QtWidgets import QAction, QDesktopWidget\n"
        "dialog.exec_()\n"
        "label.setAlignment(Qt.AlignCenter)\n"
        "level = Qgis.Info\n"
        "flags = QgsTask.CanCancel\n"
        "t = QVariant.Int\n"
    )
    problems = scan_source(bad, "bad.py")
    for expected in (
        "PyQt5",
        "import sip",
        "['QAction'] from QtWidgets",
        "QDesktopWidget",
        "exec_()",
        "Qt.AlignCenter",
        "Qgis.Info",
        "QgsTask.CanCancel",
        "QVariant",
    ):
        assert any(expected in p for p in problems), (expected, problems)
    good = (
        "try:\n    from qgis.PyQt.QtGui import QAction\nexcept ImportError:\n"
        "    from qgis.PyQt.QtWidgets import QAction\n"
        "dialog.exec()\n"
        "label.setAlignment(Qt.AlignmentFlag.AlignCenter)\n"
        "level = Qgis.MessageLevel.Info\n"
        "details = QgsProcessingContext.LayerDetails('n', project)\n"
        "out = QgsProcessing.TEMPORARY_OUTPUT\n"
        "p = QgsProject.instance()\n"
    )
    assert scan_source(good, "good.py") == []


def test_plugin_modules_use_no_qt5_only_api():
    modules = plugin_modules()
    assert len(modules) >= 20  # every module of the plugin is scanned
    problems = [p for path in modules for p in scan_source(path.read_text(encoding="utf-8"), str(path))]
    assert problems == []
