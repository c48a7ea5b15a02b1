"""Shared pieces with no UI: settings, palette, job building, exports, result layers, QGIS compatibility."""
