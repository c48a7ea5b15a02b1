"""The job spec: the one versioned contract between the QGIS plugin (or any client) and the backend.

A job is a JSON document validated here. Relative paths in it are resolved against the folder holding the
job file, so a job directory can be moved as a whole. ``geogen job-schema`` prints the JSON Schema.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import unicodedata
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
from pydantic.json_schema import JsonDict

from geogen.engines.registry import get_engine, list_engines
from geogen.errors import InputFileError, JobSpecError, os_limit_reason
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
            if top > bottom and 0 < left <= 180 and -180 <= right < 0:
                raise ValueError(
                    f"bounds {self.bounds} are inverted (west edge east of east edge): if the area crosses the "
                    "antimeridian (180\u00b0 longitude), split it at 180\u00b0 and run one job per side"
                )
            if not right > left or not top > bottom:
                raise ValueError(
                    f"bounds {self.bounds} are empty or inverted (need left < right, bottom < top)"
                )
        return self


MAX_NAME_BYTES = 160
"""Longest output name (UTF-8 bytes): file systems allow 255 per name, and geogen adds up to ~90 (dates, the
owner tags of its partial files)."""
_FORBIDDEN_CHARS = '<>:"/\\|?*'
_RESERVED_NAMES = {"CON", "PRN", "AUX", "NUL", *(f"{d}{i}" for d in ("COM", "LPT") for i in range(1, 10))}
NAME_RULE = (
    'any characters but path separators, control characters and the characters <>:"/\\|?* (refused on '
    "Windows), not ending in a dot or space, not a Windows device name (CON, NUL, COM1...), at most "
    f"{MAX_NAME_BYTES} bytes"
)
_NAME_SCHEMA: JsonDict = {
    "pattern": '^[^<>:"/\\\\|?*\\u0000-\\u001f\\u007f]*[^<>:"/\\\\|?*\\u0000-\\u001f\\u007f. ]$'
}


def check_file_name(name: str) -> str:
    """``name`` when every common OS (Windows, macOS, Linux) can hold it as one file name in a folder.

    Spaces and accents are allowed; refused are path separators and ``..``-style names (nothing may leave the
    output folder), control characters, Windows' reserved characters and device names, a trailing dot or space
    (Windows drops them), and names too long for the file system once geogen's suffixes are added.

    Raises:
        ValueError: the reason, for the spec's validation message.
    """
    if not name or not name.strip():
        raise ValueError("an output name cannot be empty")
    if set(name) <= {"."}:
        raise ValueError(f"{name!r} is not a file name")
    control = next((c for c in name if unicodedata.category(c) == "Cc"), None)
    if control is not None:
        raise ValueError(f"{name!r} holds the control character U+{ord(control):04X}")
    bad = sorted({c for c in name if c in _FORBIDDEN_CHARS})
    if bad:
        raise ValueError(
            f"{name!r} holds {' '.join(repr(c) for c in bad)}: output names cannot hold path separators or the characters "
            '<>:"/\\|?* (refused on Windows); use the output folder for the location'
        )
    if name[-1] in ". ":
        raise ValueError(f"{name!r} ends in a {'dot' if name[-1] == '.' else 'space'}, which Windows drops")
    if name.split(".")[0].rstrip(" ").upper() in _RESERVED_NAMES:
        raise ValueError(
            f"{name!r} is a reserved device name on Windows (CON, PRN, AUX, NUL, COM1-9, LPT1-9)"
        )
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise ValueError(f"{name[:24]!r}... is {size} bytes long, more than the {MAX_NAME_BYTES} allowed")
    return name


class OutputSpec(_Strict):
    """Where and how results are written."""

    dir: str = Field(description="output folder (created if missing)")
    name: str = Field(
        default="geogen",
        description=f"file stem of the outputs: {NAME_RULE}",
        json_schema_extra=_NAME_SCHEMA,
    )
    crs: str | None = Field(default=None, description="CRS to write in (default: the input's or the area's)")
    overwrite: bool = False
    result: str = Field(
        default="result.json",
        description=f"file name of the result record in `dir`, ending in .json: {NAME_RULE}",
        json_schema_extra={"pattern": '^[^<>:"/\\\\|?*\\u0000-\\u001f\\u007f]*\\.json$'},
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_file_name(v)

    @field_validator("result")
    @classmethod
    def _result(cls, v: str) -> str:
        if not v.lower().endswith(".json"):
            raise ValueError(f"{v!r} must end in .json")
        return check_file_name(v)


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
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
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
    if _depth(data) > MAX_JOB_DEPTH:
        raise JobSpecError(f"the job nests arrays/objects too deeply (at most {MAX_JOB_DEPTH} levels)")
    data = migrate(data)
    if base_dir is not None:
        data = _resolve_paths(data, base_dir)
    try:
        job = _ADAPTER.validate_python(data)
    except ValidationError as err:
        raise JobSpecError(f"invalid job: {_format_validation(err)}") from None
    get_engine(job.task, job.engine).parse_options(job.options)
    return job


MAX_JOB_FILE_BYTES = 16 << 20
"""Job files are small JSON documents; anything larger is refused before it is read."""
MAX_JOB_DEPTH = 64
"""Deepest nesting of arrays/objects a job may have (real jobs nest 4 levels at most)."""
_MAX_INT_DIGITS = 30

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def _job_encoding(raw: bytes) -> str:
    """The encoding of a job file: from its byte-order mark, else from where the NUL bytes of its first
    characters are (RFC 8259, section 8.1, for UTF-16 saved without a BOM), else UTF-8."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return encoding
    head = raw[:4]
    if len(head) >= 2 and head[0] == 0 and head[1] != 0:
        return "utf-16-be"
    if len(head) >= 2 and head[0] != 0 and head[1] == 0 and not (len(head) == 4 and head[2:] == b"\0\0"):
        return "utf-16-le"
    return "utf-8"


def _decode_job(raw: bytes, p: Path) -> str:
    """The text of a job file in UTF-8 (with or without BOM), UTF-16 or UTF-32 (with BOM, or UTF-16 without).

    Raises:
        JobSpecError: binary content, or text in another encoding.
    """
    encoding = _job_encoding(raw)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise JobSpecError(
            f"job file {p} is not {encoding.upper().removesuffix('-SIG')} text (invalid byte 0x{raw[exc.start]:02x} "
            f"at offset {exc.start}); save it as UTF-8"
        ) from None
    text = text.removeprefix("\ufeff")
    bad = next((c for c in text if c < " " and c not in "\t\r\n"), None)
    if bad is not None:
        raise JobSpecError(
            f"job file {p} holds control character U+{ord(bad):04X} at offset {text.index(bad)}: it is a binary "
            "file, not a JSON job"
        )
    return text


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise ValueError(
            f"integer {text[:12]}... has {len(text.lstrip('-'))} digits; no job field needs more than {_MAX_INT_DIGITS}"
        )
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:24]} is too large for a float")
    return value


def _parse_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a JSON number")


def _depth(obj: Any) -> int:
    """The nesting depth of a parsed JSON document (without recursion)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, (dict, list)):
            deepest = max(deepest, d)
            stack.extend((v, d + 1) for v in (o.values() if isinstance(o, dict) else o))
    return deepest


def load_job(path: str | Path) -> Job:
    """Read and validate a job file: JSON in UTF-8 (with or without a BOM), UTF-16 or UTF-32.

    Raises:
        InputFileError: the file is missing, a folder, too large for a job file, or unreadable (naming the OS's
            reason: permission denied, name too long...).
        JobSpecError: not text in those encodings (a binary file), not JSON, nested too deeply, numbers no job
            field can hold, or not a valid job.
    """
    p = Path(path)
    try:
        if p.is_dir():
            raise InputFileError(f"job file {p} is a folder, not a JSON file")
        size = p.stat().st_size
        if size > MAX_JOB_FILE_BYTES:
            raise InputFileError(
                f"job file {p} is {size / 2**20:.0f} MiB; a job file is a small JSON document "
                f"(at most {MAX_JOB_FILE_BYTES >> 20} MiB)"
            )
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"job file not found: {p}") from None
    except OSError as exc:
        if isinstance(exc, InputFileError):
            raise
        raise InputFileError(
            f"cannot read job file {p}: {os_limit_reason(exc) or exc.strerror or exc}"
        ) from None
    text = _decode_job(raw, p)
    try:
        data = json.loads(
            text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
        )
    except json.JSONDecodeError as exc:
        raise JobSpecError(
            f"job file {p} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise JobSpecError(
            f"job file {p} nests arrays/objects too deeply (at most {MAX_JOB_DEPTH} levels)"
        ) from None
    except ValueError as exc:  # from the number hooks (and Python's own limit on integer digits)
        raise JobSpecError(f"job file {p}: {str(exc).splitlines()[0]}") from None
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
