"""geogen QGIS plugin: a thin client for the geogen backend (sketch/text to scene, Sentinel-2
super-resolution, temporal sequences). It never imports torch, rasterio or geogen itself: it writes job
files and runs the backend as a separate process.
"""


def classFactory(iface):
    """QGIS calls this to create the plugin."""
    from .plugin import GeogenPlugin

    return GeogenPlugin(iface)
