"""Plugin entry point: registers the Processing provider and the dock, and removes them on unload."""

from __future__ import annotations

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QIcon

try:  # Qt6 (QGIS 4) has QAction in QtGui
    from qgis.PyQt.QtGui import QAction
except ImportError:  # Qt5 (QGIS 3)
    from qgis.PyQt.QtWidgets import QAction

from .provider import ICON, GeogenProvider

MENU = "&geogen"


class GeogenPlugin:
    """Wires the provider (initProcessing) and the dock (initGui) into QGIS."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider: GeogenProvider | None = None
        self.dock = None
        self.action: QAction | None = None

    def initProcessing(self) -> None:
        if self.provider is None:
            provider = GeogenProvider()
            if QgsApplication.processingRegistry().addProvider(provider):
                self.provider = provider  # else another copy is registered: never remove what is not ours

    def initGui(self) -> None:
        self.initProcessing()
        from .widgets.dock import GeogenDock

        self.dock = GeogenDock(self.iface, self.iface.mainWindow())
        self.dock.setVisible(False)
        self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.action = QAction(QIcon(str(ICON)), "geogen", self.iface.mainWindow())
        self.action.setCheckable(True)
        self.action.setToolTip("Show the geogen dock (sketch a scene and generate it)")
        self.action.toggled.connect(self.dock.setVisible)
        self.dock.visibilityChanged.connect(self.action.setChecked)
        self.iface.addPluginToMenu(MENU, self.action)
        self.iface.addToolBarIcon(self.action)

    def unload(self) -> None:
        if self.action is not None:
            self.iface.removePluginMenu(MENU, self.action)
            self.iface.removeToolBarIcon(self.action)
            self.action.deleteLater()
            self.action = None
        if self.dock is not None:
            self.dock.shutdown()
            self.iface.removeDockWidget(self.dock)
            self.dock.deleteLater()
            self.dock = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
