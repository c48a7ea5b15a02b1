"""The "geogen" Processing provider: one algorithm per backend task."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms import ALGORITHMS
from .common.errors import BackendNotFoundError
from .runner.backend import find_backend
from .runner.info import current_info

ICON = Path(__file__).resolve().parent / "icon.svg"


class GeogenProvider(QgsProcessingProvider):
    """Lists the algorithms even without a backend, so users meet the message saying how to install it."""

    def id(self) -> str:
        return "geogen"

    def name(self) -> str:
        return "geogen"

    def longName(self) -> str:
        info = current_info()
        version = f" {info.get('geogen_version')}" if info else ""
        return f"geogen{version}: georeferenced synthetic and super-resolved imagery"

    def icon(self) -> QIcon:
        return QIcon(str(ICON))

    def loadAlgorithms(self) -> None:
        for algorithm in ALGORITHMS:
            self.addAlgorithm(algorithm())

    def canBeActivated(self) -> bool:
        return not self.warningMessage()

    def warningMessage(self) -> str:
        """Why algorithms cannot run (no backend), or "" when they can."""
        try:
            find_backend()
        except BackendNotFoundError as exc:
            return str(exc)
        return ""
