"""One place that writes to QGIS's message log under the "geogen" tag."""

from __future__ import annotations

from qgis.core import QgsMessageLog

from .compat import MSG_CRITICAL, MSG_INFO, MSG_WARNING

TAG = "geogen"
_LEVELS = {"info": MSG_INFO, "warning": MSG_WARNING, "error": MSG_CRITICAL, "critical": MSG_CRITICAL}


def log(message: str, level: str = "info") -> None:
    """Write ``message`` to the QGIS log panel's geogen tab (level: info, warning or error)."""
    QgsMessageLog.logMessage(message, TAG, _LEVELS.get(level, MSG_INFO))
