"""The geogen dock: sketch land cover, pick area/date/GSD/engine, Generate with progress and Cancel.

The dock only gathers a ``SketchRequest`` and shows results; the work runs in a GeogenTask that owns the
backend process, and layers are added on the main thread when the task has finished.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

from qgis.core import QgsApplication, QgsProject, QgsVectorLayer
from qgis.gui import (
    QgsCollapsibleGroupBox,
    QgsDockWidget,
    QgsExtentWidget,
    QgsFieldComboBox,
    QgsFileWidget,
    QgsMapLayerComboBox,
)
from qgis.PyQt.QtCore import QDate, pyqtSlot
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..common import settings
from ..common.compat import LAYER_FILTER_POLYGON, MSG_CRITICAL, MSG_INFO, MSG_SUCCESS, MSG_WARNING
from ..common.errors import GeogenPluginError, InputError
from ..common.export import LANDCOVER_LAYER, area_from_extent, export_polygons
from ..common.job import Area, RunOptions, relative_to_job, sketch_job, write_job
from ..common.log import log
from ..common.results import add_result_layers
from ..runner.backend import find_backend
from ..runner.info import backend_info, clear_cache, engines_for, models_for
from ..runner.task import GeogenTask
from .sketch_layer import CLASS_FIELD, create_sketch_layer

TASK = "sketch"
DEFAULT_CHOICE = "(default)"


@dataclass(frozen=True)
class SketchRequest:
    """Everything the dock's Generate needs, as plain values."""

    layer_id: str
    class_field: str
    area: Area
    gsd: float
    date: dt.date
    options: RunOptions
    prompt: str | None
    output_root: Path


class GeogenDock(QgsDockWidget):
    """See the module docstring."""

    def __init__(self, iface, parent=None) -> None:
        super().__init__("geogen", parent)
        self.setObjectName("GeogenDock")
        self.iface = iface
        self.task: GeogenTask | None = None
        self.job_dir: Path | None = None
        self.last_layers: list = []
        self._backend_checked = False
        self._closed = False

        body = QWidget()
        layout = QVBoxLayout(body)

        sketch = QgsCollapsibleGroupBox("Sketch")
        form = QFormLayout(sketch)
        self.new_layer_button = QPushButton("New sketch layer")
        self.new_layer_button.setToolTip(
            "A GeoPackage polygon layer in the FLAIR-1 palette; draw land cover on it"
        )
        self.new_layer_button.clicked.connect(self.new_sketch_layer)
        form.addRow(self.new_layer_button)
        self.layer_combo = QgsMapLayerComboBox()
        self.layer_combo.setFilters(LAYER_FILTER_POLYGON)
        self.field_combo = QgsFieldComboBox()
        self.layer_combo.layerChanged.connect(self._layer_changed)
        form.addRow("Land-cover layer", self.layer_combo)
        form.addRow("Class field", self.field_combo)
        layout.addWidget(sketch)

        scene = QgsCollapsibleGroupBox("Scene")
        form = QFormLayout(scene)
        self.extent_widget = QgsExtentWidget()
        if iface is not None and iface.mapCanvas() is not None:
            self.extent_widget.setMapCanvas(iface.mapCanvas())
        form.addRow("Area", self.extent_widget)
        self.date_edit = QDateEdit(QDate.currentDate())
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("yyyy-MM-dd")
        form.addRow("Date", self.date_edit)
        self.gsd_spin = QDoubleSpinBox()
        self.gsd_spin.setRange(0.05, 1000.0)
        self.gsd_spin.setDecimals(2)
        self.gsd_spin.setValue(1.0)
        self.gsd_spin.setSuffix(" m/px")
        form.addRow("GSD", self.gsd_spin)
        self.engine_combo = QComboBox()
        self.engine_combo.currentTextChanged.connect(self._engine_changed)
        form.addRow("Engine", self.engine_combo)
        self.model_combo = QComboBox()
        form.addRow("Model", self.model_combo)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2_147_483_647)
        form.addRow("Seed", self.seed_spin)
        self.prompt_edit = QLineEdit()
        self.prompt_edit.setPlaceholderText("optional, for diffusion engines")
        form.addRow("Prompt", self.prompt_edit)
        layout.addWidget(scene)

        run = QHBoxLayout()
        self.generate_button = QPushButton("Generate")
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        run.addWidget(self.generate_button)
        run.addWidget(self.cancel_button)
        layout.addLayout(run)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        layout.addWidget(self.progress)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)

        config = QgsCollapsibleGroupBox("Settings")
        config.setCollapsed(True)
        form = QFormLayout(config)
        self.backend_widget = QgsFileWidget()
        self.backend_widget.setStorageMode(QgsFileWidget.StorageMode.GetFile)
        self.backend_widget.setFilePath(settings.backend_path())
        self.backend_widget.fileChanged.connect(self._backend_changed)
        form.addRow("Backend (geogen executable)", self.backend_widget)
        self.output_widget = QgsFileWidget()
        self.output_widget.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.output_widget.setFilePath(str(settings.output_folder()))
        self.output_widget.fileChanged.connect(settings.set_output_folder)
        form.addRow("Output folder", self.output_widget)
        self.check_button = QPushButton("Check backend")
        self.check_button.clicked.connect(lambda: self.refresh_backend(force=True))
        form.addRow(self.check_button)
        layout.addWidget(config)
        layout.addStretch(1)
        self.setWidget(body)
        self._layer_changed(self.layer_combo.currentLayer())
        self._fill_engines(None)

    # --- backend -----------------------------------------------------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._backend_checked:
            self.refresh_backend()

    def refresh_backend(self, force: bool = False) -> bool:
        """Ask the backend what it offers and fill the engine/model lists; say clearly when it is missing."""
        self._backend_checked = True
        if force:
            clear_cache()
        try:
            backend = find_backend()
            info = backend_info(backend)
        except GeogenPluginError as exc:
            self._fill_engines(None)
            self.status.setText(str(exc))
            return False
        self._fill_engines(info)
        self.status.setText(f"backend: geogen {info.get('geogen_version', '?')} ({backend.program})")
        return True

    def _fill_engines(self, info) -> None:
        self.engine_combo.blockSignals(True)
        self.engine_combo.clear()
        engines = engines_for(info, TASK)
        self.engine_combo.addItems(engines or [DEFAULT_CHOICE])
        preferred = settings.default_engine(TASK)
        if preferred in engines:
            self.engine_combo.setCurrentText(preferred)
        self.engine_combo.blockSignals(False)
        self.model_combo.clear()
        self.model_combo.addItems([DEFAULT_CHOICE, *models_for(info, TASK)])

    def _engine_changed(self, name: str) -> None:
        if name and name != DEFAULT_CHOICE:
            settings.set_default_engine(TASK, name)

    def _backend_changed(self, path: str) -> None:
        settings.set_backend_path(path)
        self.refresh_backend(force=True)

    # --- sketch layer ------------------------------------------------------------------------------------
    def _layer_changed(self, layer) -> None:
        self.field_combo.setLayer(layer)
        if isinstance(layer, QgsVectorLayer) and layer.fields().indexOf(CLASS_FIELD) >= 0:
            self.field_combo.setField(CLASS_FIELD)

    def new_sketch_layer(self) -> QgsVectorLayer | None:
        """Create a sketch layer in the output folder, add it to the project and start editing it."""
        project = QgsProject.instance()
        crs = project.crs()
        if not crs.isValid() and self.iface is not None:
            crs = self.iface.mapCanvas().mapSettings().destinationCrs()
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = settings.output_folder() / f"sketch-{stamp}.gpkg"
        try:
            layer = create_sketch_layer(path, crs)
        except GeogenPluginError as exc:
            self._message(str(exc), MSG_CRITICAL)
            return None
        project.addMapLayer(layer)
        self.layer_combo.setLayer(layer)
        layer.startEditing()
        if self.iface is not None:
            self.iface.setActiveLayer(layer)
        return layer

    # --- generate ----------------------------------------------------------------------------------------
    def request(self) -> SketchRequest:
        """The current form as a SketchRequest.

        Raises:
            InputError: no land-cover layer or class field, or an empty area.
        """
        layer = self.layer_combo.currentLayer()
        if not isinstance(layer, QgsVectorLayer):
            raise InputError("choose a land-cover polygon layer (or create a sketch layer)")
        field = self.field_combo.currentField()
        if not field:
            raise InputError(f"choose the class field of layer {layer.name()!r}")
        rect, crs = self.extent_widget.outputExtent(), self.extent_widget.outputCrs()
        if rect.isNull() or rect.isEmpty():
            if self.iface is None:
                raise InputError("choose an area")
            canvas = self.iface.mapCanvas()
            rect, crs = canvas.extent(), canvas.mapSettings().destinationCrs()
        qd = self.date_edit.date()
        engine = self.engine_combo.currentText()
        model = self.model_combo.currentText()
        output_root = Path(self.output_widget.filePath() or settings.output_folder())
        return SketchRequest(
            layer_id=layer.id(),
            class_field=field,
            area=area_from_extent(rect, crs),
            gsd=self.gsd_spin.value(),
            date=dt.date(qd.year(), qd.month(), qd.day()),
            options=RunOptions(
                engine=None if engine == DEFAULT_CHOICE else engine,
                model=None if model == DEFAULT_CHOICE else model,
                seed=self.seed_spin.value(),
                name=TASK,
            ),
            prompt=self.prompt_edit.text().strip() or None,
            output_root=output_root,
        )

    def generate(self) -> GeogenTask | None:
        """Export the sketch, write the job and queue the task; returns it (None when nothing was started)."""
        if self.task is not None:
            self._message("a geogen job is already running", MSG_WARNING)
            return None
        try:
            backend = find_backend()
            req = self.request()
            layer = QgsProject.instance().mapLayer(req.layer_id)
            if layer.isEditable() and layer.isModified():
                layer.commitChanges(False)  # the backend reads the file: save the sketch, keep editing
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
            job_dir = req.output_root / f"{TASK}-{stamp}"
            gpkg = export_polygons(
                layer,
                req.class_field,
                job_dir / "inputs" / "landcover.gpkg",
                QgsProject.instance().transformContext(),
            )
            job = sketch_job(
                relative_to_job(gpkg, job_dir),
                req.options,
                class_field=req.class_field,
                layer=LANDCOVER_LAYER,
                aoi=req.area,
                gsd=req.gsd,
                date=req.date,
                prompt=req.prompt,
            )
            job_file = write_job(job, job_dir)
        except GeogenPluginError as exc:
            self._message(str(exc), MSG_CRITICAL)
            return None
        self.job_dir = job_dir
        self.task = GeogenTask(f"geogen: {TASK} ({job_dir.name})", backend, job_file, self._task_finished)
        self.task.progressChanged.connect(self._task_progress)
        self.progress.setValue(0)
        self.generate_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"running {job_dir.name} ...")
        log(f"job {job_file} started with {backend.describe()}")
        QgsApplication.taskManager().addTask(self.task)
        return self.task

    def cancel(self) -> None:
        if self.task is not None:
            self.status.setText("cancelling ...")
            self.task.cancel()

    @pyqtSlot(float)
    def _task_progress(self, value: float) -> None:
        self.progress.setValue(int(value))
        if self.task is not None and self.task.stage:
            self.status.setText(f"{self.task.stage}: {int(value)} %")

    def _task_finished(self, task: GeogenTask) -> None:
        self.task = None
        if self._closed:
            return
        self.generate_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setValue(100 if task.outcome else 0)
        if task.outcome is not None:
            self._show_results(task)
        elif task.cancelled:
            if self.job_dir is not None and self.job_dir.is_dir():
                shutil.rmtree(
                    self.job_dir, ignore_errors=True
                )  # a job directory the dock made: nothing to keep
            self.status.setText("cancelled")
            self._message("generation cancelled", MSG_INFO)
        else:
            self.status.setText(f"failed: {task.error}")
            self._message(task.error or "the job failed", MSG_CRITICAL)

    def _show_results(self, task: GeogenTask) -> None:
        project = QgsProject.instance()
        above = (
            project.mapLayer(self.layer_combo.currentLayer().id())
            if self.layer_combo.currentLayer()
            else None
        )
        try:
            self.last_layers = add_result_layers(
                task.outcome.outputs, project, f"geogen {TASK}: {self.job_dir.name}", above=above
            )
        except GeogenPluginError as exc:
            self._message(str(exc), MSG_CRITICAL)
            return
        for warning in task.outcome.warnings:
            self._message(warning, MSG_WARNING)
        summary = task.outcome.result.get("summary") or f"{len(self.last_layers)} layer(s) added"
        self.status.setText(summary)
        self._message(summary, MSG_SUCCESS)

    def _message(self, text: str, level) -> None:
        log(text, {MSG_CRITICAL: "error", MSG_WARNING: "warning"}.get(level, "info"))
        if self.iface is not None:
            self.iface.messageBar().pushMessage("geogen", text, level, 10)

    def shutdown(self) -> None:
        """Stop a running job before the plugin goes away."""
        self._closed = True
        if self.task is not None:
            self.task.cancel()
