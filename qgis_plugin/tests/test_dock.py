"""The dock: sketch layer creation, Generate through a QgsTask owning the REAL backend process, Cancel, and
clear messages when the backend is missing or the job fails."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsGeometry,
    QgsRectangle,
)
from qgis.PyQt.QtCore import QDate

from qgis_plugin.common import settings
from qgis_plugin.common.compat import MSG_CRITICAL, MSG_INFO, MSG_SUCCESS
from qgis_plugin.common.job import RunOptions, sketch_job, write_job
from qgis_plugin.common.palette import FLAIR19
from qgis_plugin.runner.backend import Backend
from qgis_plugin.runner.task import GeogenTask
from qgis_plugin.tests.helpers import FAKE_BACKEND, wait_for

UTM33 = QgsCoordinateReferenceSystem("EPSG:32633")
AOI = QgsRectangle(465400, 5079500, 465600, 5079700)


@pytest.fixture()
def dock(qgis_iface, project, tmp_path: Path):
    from qgis_plugin.widgets.dock import GeogenDock

    project.setCrs(UTM33)
    settings.set_output_folder(str(tmp_path / "out"))
    qgis_iface.messageBar().clear_messages()
    widget = GeogenDock(qgis_iface)
    widget.refresh_backend()
    yield widget
    widget.shutdown()
    if widget.task is not None:
        wait_for(lambda: widget.task is None, 30)
    widget.deleteLater()
    settings.set_output_folder("")


def draw(layer, rect: QgsRectangle, classes: list[int]) -> None:
    """Split ``rect`` into vertical strips, one per class, and add them to the (editable) sketch layer."""
    width = rect.width() / len(classes)
    for i, value in enumerate(classes):
        strip = QgsRectangle(
            rect.xMinimum() + i * width, rect.yMinimum(), rect.xMinimum() + (i + 1) * width, rect.yMaximum()
        )
        feature = QgsFeature(layer.fields())
        feature.setGeometry(QgsGeometry.fromRect(strip))
        feature.setAttribute("class", value)
        assert layer.addFeature(feature)


def messages(qgis_iface, level) -> list[str]:
    return qgis_iface.messageBar().get_messages(level)


def test_new_sketch_layer_has_value_map_and_flair_palette(dock, project, tmp_path: Path):
    layer = dock.new_sketch_layer()
    assert layer is not None and layer.isValid() and layer.isEditable()
    assert project.mapLayer(layer.id()) is layer and layer.crs() == UTM33
    assert Path(layer.source().split("|")[0]).parent == tmp_path / "out"
    setup = layer.editorWidgetSetup(layer.fields().indexOf("class"))
    assert setup.type() == "ValueMap"
    value_map = {k: v for entry in setup.config()["map"] for k, v in entry.items()}
    assert value_map["1 building"] == 1 and value_map["19 other"] == 19 and len(value_map) == 19
    renderer = layer.renderer()
    assert isinstance(renderer, QgsCategorizedSymbolRenderer) and renderer.classAttribute() == "class"
    colours = {int(c.value()): c.symbol().color().name() for c in renderer.categories()}
    assert colours == {c.value: c.color for c in FLAIR19}
    assert dock.layer_combo.currentLayer() is layer and dock.field_combo.currentField() == "class"


def test_engines_come_from_the_backend(dock):
    items = [dock.engine_combo.itemText(i) for i in range(dock.engine_combo.count())]
    assert items[0] == "exemplar"
    assert "geogen 0." in dock.status.text()


def test_generate_adds_the_result_over_the_sketch(dock, project, qgis_iface):
    layer = dock.new_sketch_layer()
    draw(layer, AOI, [11, 7, 10])  # agricultural land, deciduous, herbaceous
    dock.extent_widget.setOutputCrs(UTM33)
    dock.extent_widget.setOutputExtentFromUser(AOI, UTM33)
    dock.gsd_spin.setValue(1.0)
    dock.date_edit.setDate(QDate(2021, 6, 15))
    task = dock.generate()
    assert task is not None and not dock.generate_button.isEnabled()
    wait_for(lambda: dock.task is None, 120)
    assert task.error is None and task.outcome is not None
    tree = [child.name() for child in project.layerTreeRoot().children()]
    assert (
        tree[0].startswith("geogen sketch: sketch-") and tree[1] == layer.name()
    )  # the result sits over the sketch
    (result,) = dock.last_layers
    assert result.crs() == UTM33
    ext = result.extent()
    assert abs(ext.xMinimum() - AOI.xMinimum()) <= 1 and abs(ext.yMaximum() - AOI.yMaximum()) <= 1
    assert abs(ext.width() - AOI.width()) <= 1 and abs(ext.height() - AOI.height()) <= 1
    job = (dock.job_dir / "job.json").read_text()
    assert '"date": "2021-06-15"' in job and '"gsd": 1.0' in job
    assert any("geogen:" in m for m in messages(qgis_iface, MSG_SUCCESS))
    assert dock.generate_button.isEnabled() and not dock.cancel_button.isEnabled()


def test_cancel_stops_the_real_backend_and_leaves_nothing(dock, project, qgis_iface):
    layer = dock.new_sketch_layer()
    big = QgsRectangle(465000, 5079400, 465800, 5079800)  # two 512 px tiles at 1 m: cancelled after the first
    draw(layer, big, [11, 7, 10, 3])
    dock.extent_widget.setOutputCrs(UTM33)
    dock.extent_widget.setOutputExtentFromUser(big, UTM33)
    dock.gsd_spin.setValue(1.0)
    task = dock.generate()
    job_dir = dock.job_dir
    wait_for(lambda: task.percent > 0 or dock.task is None, 60)
    dock.cancel()
    wait_for(lambda: dock.task is None, 60)
    assert task.cancelled and task.outcome is None
    assert not task.killed  # the real backend stopped by itself at the cancel file
    assert project.count() == 1  # only the sketch layer
    assert not job_dir.exists()  # the dock's own job directory is removed
    assert any("cancelled" in m for m in messages(qgis_iface, MSG_INFO))


def test_missing_backend_is_a_clear_message(dock, qgis_iface, monkeypatch, tmp_path: Path):
    monkeypatch.setenv("GEOGEN_BACKEND", str(tmp_path / "nowhere" / "geogen"))
    layer = dock.new_sketch_layer()
    draw(layer, AOI, [5])
    assert dock.generate() is None
    (message,) = messages(qgis_iface, MSG_CRITICAL)
    assert "geogen backend not found" in message and "pip install geogen" in message
    assert not dock.refresh_backend(force=True) and "not found" in dock.status.text()


def test_empty_sketch_is_refused(dock, qgis_iface):
    dock.new_sketch_layer()
    dock.extent_widget.setOutputCrs(UTM33)
    dock.extent_widget.setOutputExtentFromUser(AOI, UTM33)
    assert dock.generate() is None
    assert any("no polygon" in m for m in messages(qgis_iface, MSG_CRITICAL)), messages(
        qgis_iface, MSG_CRITICAL
    )


def test_failing_job_shows_the_backend_message(dock, project, qgis_iface):
    layer = dock.new_sketch_layer()
    draw(layer, AOI, [5])
    far = QgsRectangle(500000, 5000000, 500200, 5000200)  # nowhere near the sketch
    dock.extent_widget.setOutputCrs(UTM33)
    dock.extent_widget.setOutputExtentFromUser(far, UTM33)
    task = dock.generate()
    wait_for(lambda: dock.task is None, 60)
    assert task.error and "overlap" in task.error and not task.cancelled  # the backend's GeometryError
    assert project.count() == 1
    assert any(task.error in m for m in messages(qgis_iface, MSG_CRITICAL))
    assert dock.status.text().startswith("failed:")


def test_task_kills_a_hanging_backend(tmp_path: Path):
    """The task owns its process: a backend that ignores the cancel file is killed after the grace period."""
    from qgis.core import QgsApplication

    job_file = write_job(sketch_job("in.gpkg", RunOptions(name="sketch")), tmp_path)
    done = []
    task = GeogenTask(
        "hang",
        Backend((sys.executable, str(FAKE_BACKEND), "hang")),
        job_file,
        done.append,
        cancel_grace_s=1.0,
    )
    QgsApplication.taskManager().addTask(task)
    wait_for(lambda: (tmp_path / "pid").exists(), 30)
    task.cancel()
    wait_for(lambda: bool(done), 30)
    assert task.cancelled and task.killed and task.error is None
    pid = int((tmp_path / "pid").read_text())
    if sys.platform != "win32":
        with pytest.raises(OSError):
            os.kill(pid, 0)
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name or p.name.startswith("cancel")]
