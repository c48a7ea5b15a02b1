"""What every geogen algorithm shares: engine/model/seed/steps/output parameters, running the backend, and
loading the outputs into the project.

A subclass declares its task's inputs (``add_inputs``, with the ``add_*`` helpers here) and turns one run's
parameter values (a ``JobRequest``) into a job dict (``build_job``); this class writes ``job.json`` into the
output folder (the job directory), runs ``geogen run job.json --progress jsonl`` and maps the backend's
progress, logs and errors onto ``feedback``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputFile,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingParameterDateTime,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QCoreApplication

from ..common import settings
from ..common.compat import DATETIME_DATE, NUMBER_DOUBLE, NUMBER_INTEGER, PARAM_ADVANCED
from ..common.errors import BackendNotFoundError, GeogenPluginError, JobCancelledError
from ..common.job import write_job
from ..common.log import log
from ..common.results import layer_name, post_processor
from ..runner.backend import Backend, find_backend
from ..runner.info import current_info, engines_for, models_for
from ..runner.process import run_job
from .request import DEFAULT_CHOICE, JobRequest

COMMON_HELP = (
    "<p>The backend runs as a separate process (<code>geogen run job.json</code>) in its own Python "
    "environment. The output folder becomes the job directory: it holds each run's job file (<code>job-TIME-ID.json</code>; "
    "<code>job.json</code> is a copy of the latest), the exported inputs, the GeoTIFFs and <code>result.json</code>. Outputs are added to the project in one group; "
    "synthetic images are flagged as such in their names and GeoTIFF tags.</p>"
    "<p><b>Engine</b>: as reported by the installed backend (<code>geogen info</code>). <b>Seed</b>: the "
    "same job and seed give the same pixels.</p>"
)


class GeogenAlgorithm(QgsProcessingAlgorithm):
    """Base of the geogen algorithms (see the module docstring)."""

    TASK = ""
    NAME = ""
    DISPLAY_NAME = ""
    HELP = ""
    USES_STEPS = False

    OUTPUT = "OUTPUT"
    OUTPUT_LAYERS = "OUTPUT_LAYERS"
    RESULT = "RESULT"
    ENGINE = "ENGINE"
    MODEL = "MODEL"
    SEED = "SEED"
    STEPS = "STEPS"
    EXTENT = "EXTENT"
    GSD = "GSD"
    DATE = "DATE"
    PROMPT = "PROMPT"

    # --- identity -------------------------------------------------------------------------------------------
    def tr(self, text: str) -> str:
        return QCoreApplication.translate("geogen", text)

    def createInstance(self):
        return type(self)()

    def name(self) -> str:
        return self.NAME

    def displayName(self) -> str:
        return self.tr(self.DISPLAY_NAME)

    def shortHelpString(self) -> str:
        return self.tr(self.HELP) + COMMON_HELP

    def canExecute(self):
        try:
            find_backend()
        except BackendNotFoundError as exc:
            return False, str(exc)
        return True, ""

    # --- parameters -----------------------------------------------------------------------------------------
    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        self.add_inputs()
        self.add_run_parameters()
        self.addParameter(
            QgsProcessingParameterFolderDestination(self.OUTPUT, self.tr("Output folder (job directory)"))
        )
        self.addOutput(QgsProcessingOutputMultipleLayers(self.OUTPUT_LAYERS, self.tr("Generated layers")))
        self.addOutput(QgsProcessingOutputFile(self.RESULT, self.tr("Result record (result.json)")))

    def add_inputs(self) -> None:
        """Add the task's own parameters (subclasses)."""
        raise NotImplementedError

    def add_run_parameters(self) -> None:
        """Engine and model (as the backend reports them), seed, and diffusion steps where they apply."""
        info = current_info()
        engines = engines_for(info, self.TASK) or [DEFAULT_CHOICE]
        preferred = settings.default_engine(self.TASK)
        self.addParameter(
            QgsProcessingParameterEnum(
                self.ENGINE,
                self.tr("Engine"),
                options=engines,
                allowMultiple=False,
                defaultValue=preferred if preferred in engines else engines[0],
                usesStaticStrings=True,
            )
        )
        self.add_models(info)
        self.addParameter(
            QgsProcessingParameterNumber(
                self.SEED, self.tr("Seed"), NUMBER_INTEGER, defaultValue=0, minValue=0
            )
        )
        if self.USES_STEPS:
            self.add_advanced(
                QgsProcessingParameterNumber(
                    self.STEPS,
                    self.tr("Diffusion steps (0 = engine default)"),
                    NUMBER_INTEGER,
                    defaultValue=0,
                    minValue=0,
                    maxValue=1000,
                )
            )

    def add_models(self, info: dict[str, Any] | None) -> None:
        """The model choice: "default" or a model the backend reports for this task (subclasses add more)."""
        self.add_model_choice(self.MODEL, "Model (installed in the backend)", models_for(info, self.TASK))

    def add_model_choice(self, name: str, description: str, models: list[str]) -> None:
        """An advanced choice among ``models``, "default" first and chosen."""
        self.add_advanced(
            QgsProcessingParameterEnum(
                name,
                self.tr(description),
                options=[DEFAULT_CHOICE, *models],
                allowMultiple=False,
                defaultValue=DEFAULT_CHOICE,
                usesStaticStrings=True,
            )
        )

    def add_advanced(self, param: QgsProcessingParameterDefinition) -> None:
        """Add ``param`` under the dialog's "Advanced parameters"."""
        param.setFlags(param.flags() | PARAM_ADVANCED)
        self.addParameter(param)

    def add_extent(self, optional: bool, description: str = "Area of interest") -> None:
        """The area of interest (an extent with its CRS)."""
        self.addParameter(QgsProcessingParameterExtent(self.EXTENT, self.tr(description), optional=optional))

    def add_gsd(self, description: str, default: float | None, optional: bool = True) -> None:
        """The ground sampling distance in metres per pixel."""
        self.addParameter(
            QgsProcessingParameterNumber(
                self.GSD,
                self.tr(description),
                NUMBER_DOUBLE,
                defaultValue=default,
                optional=optional,
                minValue=0,
            )
        )

    def add_fraction(self, name: str, description: str) -> None:
        """An optional number from 0 to 1 (e.g. a cloud cover), empty by default."""
        self.addParameter(
            QgsProcessingParameterNumber(
                name,
                self.tr(description),
                NUMBER_DOUBLE,
                defaultValue=None,
                optional=True,
                minValue=0,
                maxValue=1,
            )
        )

    def add_date(self) -> None:
        """The scene date (optional)."""
        self.addParameter(
            QgsProcessingParameterDateTime(
                self.DATE, self.tr("Date of the scene"), DATETIME_DATE, optional=True
            )
        )

    def add_prompt(self, optional: bool = True) -> None:
        """A text prompt."""
        self.addParameter(
            QgsProcessingParameterString(
                self.PROMPT, self.tr("Prompt (text describing the scene)"), multiLine=True, optional=optional
            )
        )

    # --- job ------------------------------------------------------------------------------------------------
    def build_job(self, request: JobRequest) -> dict[str, Any]:
        """The job dict for this run; inputs are exported into ``request.job_dir`` (subclasses)."""
        raise NotImplementedError

    # --- running --------------------------------------------------------------------------------------------
    def backend(self) -> Backend:
        """The backend to run, or a QgsProcessingException saying how to install it."""
        try:
            return find_backend()
        except BackendNotFoundError as exc:
            raise QgsProcessingException(str(exc)) from None

    def processAlgorithm(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        backend = self.backend()
        job_dir = Path(self.parameterAsString(parameters, self.OUTPUT, context)).expanduser().resolve()
        stage = {"text": ""}

        def on_progress(percent: float, text: str) -> None:
            feedback.setProgress(percent)
            if text and text != stage["text"]:
                stage["text"] = text
                feedback.setProgressText(text)

        def on_log(level: str, message: str) -> None:
            (feedback.pushWarning if level == "warning" else feedback.pushInfo)(message)

        try:
            job = self.build_job(JobRequest(self, parameters, context, feedback, job_dir))
            job_file = write_job(job, job_dir)
            feedback.pushInfo(f"geogen: {backend.describe()} run {job_file}")
            outcome = run_job(
                backend, job_file, on_progress=on_progress, on_log=on_log, is_cancelled=feedback.isCanceled
            )
        except JobCancelledError:
            raise QgsProcessingException(
                self.tr("geogen job cancelled: the backend was stopped and nothing was loaded")
            ) from None
        except GeogenPluginError as exc:
            log(f"{self.DISPLAY_NAME} failed: {exc}", "error")
            raise QgsProcessingException(str(exc)) from None
        if outcome.result.get("summary"):
            feedback.pushInfo(str(outcome.result["summary"]))
        records = outcome.outputs
        group = f"geogen {self.TASK}: {job_dir.name}"
        for record in records:
            details = QgsProcessingContext.LayerDetails(
                layer_name(record), context.project(), self.OUTPUT_LAYERS
            )
            details.setPostProcessor(post_processor(record, group))
            context.addLayerToLoadOnCompletion(record["path"], details)
        return {
            self.OUTPUT: str(job_dir),
            self.OUTPUT_LAYERS: [r["path"] for r in records],
            self.RESULT: str(outcome.result_path or job_dir / "result.json"),
        }
