"""The job spec: the one versioned contract between the QGIS plugin (or any client) and the backend.

A job is a JSON document validated here. Relative paths in it are resolved against the folder holding the
job file, so a job directory can be moved as a whole. ``geogen job-schema`` prints the JSON Schema.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from geogen.engines.registry import get_engine, list_engines
from geogen.errors import InputFileError, JobSpecError
from geogen.spec.migrate import CURRENT_VERSION, migrate

SPEC_VERSION = CURRENT_VERSION
TASKS = ("superres", "sketch", "text", "temporal")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AreaOfInterest(_Strict):
    """Where to work: ``bounds`` in ``crs``, or the geometry of a vector file (its union)."""

    bounds: tuple[float, float, float, float] | None = Field(
        default=None, description="left, bottom, right, top in the units of `crs`"
    )
    crs: str | None = Field(default=None, description="CRS of `bounds`: 'EPSG:n' or WKT")
    vector: str | None = Field(default=None, description="vector file whose features' union is the area")
    layer: str | None = Field(default=None, description="layer name inside `vector` (GeoPackage)")

    @model_validator(mode="after")
    def _one_source(self) -> AreaOfInterest:
        if (self.bounds is None) == (self.vector is None):
            raise ValueError("give exactly one of `bounds` (with `crs`) or `vector`")
        if self.bounds is not None:
            if self.crs is None:
                raise ValueError("`bounds` needs a `crs`")
            left, bottom, right, top = self.bounds
            if not right > left or not top > bottom:
                raise ValueError(
                    f"bounds {self.bounds} are empty or inverted (need left < right, bottom < top)"
                )
        return self


class OutputSpec(_Strict):
    """Where and how results are written."""

    dir: str = Field(description="output folder (created if missing)")
    name: str = Field(default="geogen", description="file stem of the outputs", pattern=r"^[A-Za-z0-9._-]+$")
    crs: str | None = Field(default=None, description="CRS to write in (default: the input's or the area's)")
    overwrite: bool = False
    result: str = Field(
        default="result.json",
        description="file name of the result record in `dir`",
        pattern=r"^[A-Za-z0-9._-]+\.json$",
    )


class DatedInput(_Strict):
    """One raster of a time series, with its date when the file does not carry one."""

    path: str
    date: dt.date | None = None


class Exemplar(_Strict):
    """An example image and its class map, for the exemplar (texture-by-numbers) engine."""

    image: str
    mask: str


class LoraRef(_Strict):
    name: str = Field(description="LoRA name in the model store, or a .safetensors path")
    strength: float = 1.0


class _JobBase(_Strict):
    version: Literal[2] = 2
    engine: str | None = Field(default=None, description="engine name; default depends on the task")
    model: str | None = Field(default=None, description="model name in the model store (diffusion engines)")
    seed: int = Field(default=0, ge=0)
    steps: int | None = Field(default=None, ge=1, le=1000)
    output: OutputSpec
    max_tiles: int = Field(
        default=4096, ge=1, description="refuse areas that need more model windows than this"
    )
    options: dict[str, Any] = Field(default_factory=dict, description="engine-specific options")


class SuperresJob(_JobBase):
    """Bring Sentinel-2 bands to a finer grid (weight-free sharpening to 10 m, or diffusion SR)."""

    task: Literal["superres"] = "superres"
    input: str | None = Field(
        default=None, description="S2 stack: per-band folder, multi-band GeoTIFF, .SAFE folder or its .zip"
    )
    inputs: list[DatedInput] = Field(
        default_factory=list,
        description="several dates of the same area (diffusion engine): one output per date",
    )
    aoi: AreaOfInterest | None = None
    target_gsd: float | None = Field(
        default=None, gt=0, description="output pixel size in metres (default 10)"
    )
    bands: list[str] | None = Field(default=None, description="bands to output (default: all)")

    @model_validator(mode="after")
    def _one_input(self) -> SuperresJob:
        if (self.input is None) == (not self.inputs):
            raise ValueError("give exactly one of `input` (one stack) or `inputs` (several dates)")
        return self


class SketchJob(_JobBase):
    """Land-cover polygons or raster -> synthetic image on the same place."""

    task: Literal["sketch"] = "sketch"
    landcover: str = Field(description="polygons (GeoPackage/GeoJSON/Shapefile) or a class raster")
    layer: str | None = None
    class_field: str | None = Field(default=None, description="attribute holding each polygon's class")
    mapping: str | dict[str, str | int] | None = Field(
        default=None, description="JSON file or dict: input class value -> engine class name or code"
    )
    vocabulary: str = Field(default="flair19")
    aoi: AreaOfInterest | None = None
    gsd: float | None = Field(default=None, gt=0)
    date: dt.date | None = None
    place: str | None = None
    prompt: str | None = None
    exemplar: Exemplar | None = None
    loras: list[LoraRef] = Field(default_factory=list)


class TextJob(_JobBase):
    """Prompt + place + date + GSD -> synthetic image over the area."""

    task: Literal["text"] = "text"
    prompt: str = Field(min_length=1)
    aoi: AreaOfInterest
    gsd: float = Field(gt=0)
    date: dt.date | None = None
    cloud_cover: float | None = Field(default=None, ge=0, le=1)
    guidance_scale: float = Field(default=7.5, ge=0)


class TemporalJob(_JobBase):
    """The same place at several dates, observed frames + generated ones."""

    task: Literal["temporal"] = "temporal"
    inputs: list[DatedInput] = Field(default_factory=list)
    seed_image: DatedInput | None = None
    target_dates: list[dt.date] = Field(min_length=1)
    aoi: AreaOfInterest | None = None
    gsd: float | None = Field(default=None, gt=0)
    cloud_max: float | None = Field(default=None, ge=0, le=1)
    prompt: str | None = None

    @field_validator("target_dates")
    @classmethod
    def _unique_dates(cls, v: list[dt.date]) -> list[dt.date]:
        dupes = sorted({d for d in v if v.count(d) > 1})
        if dupes:
            raise ValueError(f"duplicate target dates: {', '.join(map(str, dupes))}")
        return v


Job = Annotated[SuperresJob | SketchJob | TextJob | TemporalJob, Field(discriminator="task")]
_ADAPTER: TypeAdapter[Job] = TypeAdapter(Job)

_PATH_FIELDS = {"input", "landcover", "path", "vector", "image", "mask", "dir", "seed_image"}
_OPTION_MODEL_FIELDS = {"controlnet", "base_model"}


def _format_validation(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"] if not (isinstance(x, str) and x in TASKS))
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(f"{loc or 'job'}: {msg}")
    return "; ".join(parts)


def _resolve_paths(obj: Any, base: Path, parent: str | None = None) -> Any:
    """Relative input/output paths made absolute against the job file's folder.

    Only known path fields are touched: file fields anywhere in the spec, and model references (``model``,
    ``options.controlnet``/``options.base_model``, ``loras[].name``) when such a file or folder exists next to
    the job (otherwise they are model-store names). Free-form dicts (``mapping``'s keys and values) are left alone.
    """
    if isinstance(obj, list):
        return [_resolve_paths(v, base, parent) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out = {}
    for k, v in obj.items():
        if isinstance(v, str) and (k in _PATH_FIELDS or (k == "mapping" and parent is None)):
            p = Path(v).expanduser()
            out[k] = str(p if p.is_absolute() else (base / p))
        elif isinstance(v, str) and _is_model_field(parent, k):
            if not Path(v).is_absolute() and (base / v).exists():
                out[k] = str(base / v)  # a model folder next to the job; a store name is left as is
            else:
                out[k] = v
        elif k == "mapping" or (parent == "output" and k == "name"):
            out[k] = v
        else:
            out[k] = _resolve_paths(v, base, k)
    return out


def _is_model_field(parent: str | None, key: str) -> bool:
    return (
        (parent is None and key == "model")
        or (parent == "options" and key in _OPTION_MODEL_FIELDS)
        or (parent == "loras" and key == "name")
    )


def parse_job(data: dict[str, Any], base_dir: Path | None = None) -> Job:
    """Validate a job dict; relative paths are resolved against ``base_dir`` when given.

    Raises:
        JobSpecError: the dict is not a valid job (the message lists each problem with its field); its
            subclass OptionsError for options the engine does not accept.
        EngineError: no such engine for the task.
    """
    if not isinstance(data, dict):
        raise JobSpecError(f"a job must be a JSON object, got {type(data).__name__}")
    if "task" not in data:
        raise JobSpecError(f"job has no `task`; expected one of {', '.join(TASKS)}")
    if data.get("task") not in TASKS:
        raise JobSpecError(f"unknown task {data.get('task')!r}; expected one of {', '.join(TASKS)}")
    data = migrate(data)
    if base_dir is not None:
        data = _resolve_paths(data, base_dir)
    try:
        job = _ADAPTER.validate_python(data)
    except ValidationError as err:
        raise JobSpecError(f"invalid job: {_format_validation(err)}") from None
    get_engine(job.task, job.engine).parse_options(job.options)
    return job


def load_job(path: str | Path) -> Job:
    """Read and validate a job file.

    Raises:
        InputFileError: the file is missing or unreadable.
        JobSpecError: it is not JSON or not a valid job.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError(f"job file not found: {p}") from None
    except OSError as exc:
        raise InputFileError(f"cannot read job file {p}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobSpecError(
            f"job file {p} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    return parse_job(data, base_dir=p.resolve().parent)


def job_to_dict(job: Job) -> dict[str, Any]:
    """JSON-ready dict of a job (dates as ISO strings)."""
    return job.model_dump(mode="json")


def save_job(job: Job, path: str | Path) -> None:
    Path(path).write_text(json.dumps(job_to_dict(job), indent=2) + "\n", encoding="utf-8")


def job_hash(job: Job) -> str:
    """sha256 of the canonical JSON of a job: same job, same hash, whatever the key order."""
    canon = json.dumps(job_to_dict(job), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()


_TASK_MODELS = {"superres": SuperresJob, "sketch": SketchJob, "text": TextJob, "temporal": TemporalJob}


def _options_rules(task: str, defs: dict[str, Any]) -> list[dict[str, Any]]:
    """One if/then rule per engine of ``task``: its name (or alias) in ``engine`` -> its options schema.

    The default engine's rule also applies when ``engine`` is absent or null.
    """
    rules = []
    for cls in list_engines(task):
        ref_name = "Options_" + "".join(part.title() for part in f"{task}-{cls.name}".split("-"))
        sub = cls.options_model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(sub.pop("$defs", {}))
        sub["title"] = f"options of the {task} engine {cls.name}"
        defs[ref_name] = sub
        names: list[Any] = [cls.name, *cls.aliases] + ([None] if cls.default else [])
        when: dict[str, Any] = {"properties": {"engine": {"enum": names}}, "required": ["engine"]}
        if cls.default:
            when = {"anyOf": [when, {"not": {"required": ["engine"]}}]}
        rules.append({"if": when, "then": {"properties": {"options": {"$ref": f"#/$defs/{ref_name}"}}}})
    return rules


def json_schema() -> dict[str, Any]:
    """JSON Schema of the job spec (all tasks), with each registered engine's options."""
    schema = _ADAPTER.json_schema()
    defs = schema.setdefault("$defs", {})
    for task, model in _TASK_MODELS.items():
        task_schema = defs[model.__name__]
        engines = list_engines(task)
        task_schema["properties"]["engine"]["description"] = (
            "engine name (default "
            + next((e.name for e in engines if e.default), "none")
            + "): "
            + ", ".join(e.name for e in engines)
        )
        task_schema["allOf"] = _options_rules(task, defs)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"geogen job spec v{SPEC_VERSION}"
    return schema
