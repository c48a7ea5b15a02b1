"""One function per task: the job built from Python arguments, validated by the job spec, then run.

Each function builds the same job as its command (``geogen superres``, ``sketch``, ``text``, ``temporal``),
which is a thin wrapper over it. Engine-specific settings go in ``options`` (a dict, or the engine's typed
options model), checked by the engine's options model; the command's convenience flags (``--scale``,
``--guidance-scale``, ``--device``...) are such options.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

from geogen.api.control import Cancel, Progress
from geogen.api.fields import (
    Aoi,
    DateLike,
    PathLike,
    abspath,
    aoi_field,
    dated_input,
    exemplar_field,
    file_output,
    iso_date,
    lora_field,
    model_ref,
    options_field,
)
from geogen.api.jobs import run
from geogen.api.result import Result
from geogen.errors import InputFileError
from geogen.options import EngineOptions
from geogen.spec import Exemplar, Job, LoraRef, parse_job

Options: TypeAlias = Mapping[str, Any] | EngineOptions | None
SAMPLE_ROOT = Path(__file__).resolve().parent.parent / "data" / "sample_s2"
DEFAULT_MAX_TILES = 4096


def sample_scene() -> Path:
    """The bundled Sentinel-2 L2A sample: a BigEarthNet patch, one GeoTIFF per band (what ``geogen demo`` uses).

    Returns:
        The sample's band folder.

    Raises:
        InputFileError: the sample is missing from this installation.
    """
    scenes = sorted(p for p in SAMPLE_ROOT.iterdir() if p.is_dir()) if SAMPLE_ROOT.is_dir() else []
    if not scenes:
        raise InputFileError(f"bundled sample missing under {SAMPLE_ROOT}; reinstall geogen")
    return scenes[0]


def _job(data: dict[str, Any]) -> Job:
    """The job dict validated (model references given relative to the current directory are found there)."""
    return parse_job(data, base_dir=Path.cwd())


def superres(
    input: PathLike,
    output: PathLike,
    *,
    engine: str | None = None,
    bands: Sequence[str] | None = None,
    target_gsd: float | None = None,
    aoi: Aoi | None = None,
    aoi_crs: str | None = None,
    dated_inputs: Sequence[PathLike | tuple[PathLike, DateLike | None]] = (),
    model: PathLike | None = None,
    steps: int | None = None,
    options: Options = None,
    seed: int = 0,
    out_crs: str | None = None,
    max_tiles: int = DEFAULT_MAX_TILES,
    overwrite: bool = False,
    progress: Progress = None,
    cancel: Cancel = None,
) -> Result:
    """Bring a Sentinel-2 stack to a finer grid (``geogen superres``).

    The default engine (``sharpen``) needs no weights: every band to 10 m. Diffusion engines (``diffusionsat-sr``,
    ``diffusionsat-3d``) make a finer synthetic image and need ``model``.

    Args:
        input: the Sentinel-2 stack: a folder of one GeoTIFF per band, a multi-band GeoTIFF, a .SAFE folder or
            its .zip.
        output: the output GeoTIFF path (.tif); the result record is written beside it as
            ``<stem>.result.json``.
        engine: the engine's name (``geogen.list_engines("superres")``); None for the task's default.
        bands: the bands to output, e.g. ``["B02", "B03", "B04", "B8A"]``; None for all.
        target_gsd: the output pixel size in metres; None for 10.
        aoi: the area to work on: ``(left, bottom, right, top)`` in ``aoi_crs``, a vector file, or an
            ``AreaOfInterest``; None for the whole input.
        aoi_crs: the CRS of ``aoi`` bounds; None for EPSG:4326.
        dated_inputs: extra stacks of the same area, each a path or a ``(path, date)`` pair (date as
            ``datetime.date`` or "YYYY-MM-DD"). ``diffusionsat-sr`` writes one output per date;
            ``diffusionsat-3d`` writes one at ``input``'s date, conditioned on the nearest dates.
        model: the diffusion engines' ControlNet: a model-store name or a folder.
        steps: denoising steps of the diffusion engines.
        options: the engine's options, a dict (e.g. ``{"tile": 512}``, ``{"scale": 4, "consistency": "project"}``)
            or an instance of the engine's options model; see ``geogen.get_engine("superres", name).options_model``.
        seed: the random seed.
        out_crs: the CRS to write in (engines that reproject their output); None for the input's.
        max_tiles: refuse areas that need more model windows than this.
        overwrite: replace existing outputs.
        progress: a callable ``(done, total, stage)`` or a ``geogen.progress.Reporter`` (see ``geogen.run``).
        cancel: a ``CancelToken`` or ``threading.Event`` that stops the job when set (see ``geogen.run``).

    Returns:
        The job's ``Result`` (``result.paths[0]`` is ``output``).

    Raises:
        JobSpecError: an invalid argument (OptionsError for an invalid option), e.g. ``output`` not a .tif.
        EngineError: no such engine for the task.
        InputFileError: a missing or unreadable input.
        RasterError: an unusable input raster (no CRS, bands of different extents...).
        GeometryError: an ``aoi`` outside the input.
        ModelError: a diffusion engine without a usable model.
        CancelledError: the job was cancelled.
    """
    dated = [dated_input(item) for item in dated_inputs]
    job = _job(
        {
            "task": "superres",
            "input": None if dated else abspath(input),
            "inputs": [{"path": abspath(input)}, *dated] if dated else [],
            "model": model_ref(model),
            "steps": steps,
            "engine": engine,
            "bands": list(bands) if bands else None,
            "target_gsd": target_gsd,
            "aoi": aoi_field(aoi, aoi_crs),
            "seed": seed,
            "max_tiles": max_tiles,
            "options": options_field(options),
            "output": file_output(output, overwrite, out_crs),
        }
    )
    return run(job, progress=progress, cancel=cancel)


def sketch(
    landcover: PathLike,
    output: PathLike,
    *,
    engine: str | None = None,
    gsd: float | None = None,
    aoi: Aoi | None = None,
    aoi_crs: str | None = None,
    layer: str | None = None,
    class_field: str | None = None,
    mapping: PathLike | Mapping[str, str | int] | None = None,
    vocabulary: str = "flair19",
    date: DateLike | None = None,
    place: str | None = None,
    prompt: str | None = None,
    exemplar: tuple[PathLike, PathLike] | Exemplar | None = None,
    model: PathLike | None = None,
    loras: Sequence[PathLike | tuple[PathLike, float] | LoraRef] = (),
    steps: int | None = None,
    options: Options = None,
    seed: int = 0,
    out_crs: str | None = None,
    max_tiles: int = DEFAULT_MAX_TILES,
    overwrite: bool = False,
    progress: Progress = None,
    cancel: Cancel = None,
) -> Result:
    """Turn land cover (polygons with a class field, or a class raster) into a synthetic image (``geogen sketch``).

    The default engine (``exemplar``) needs no weights: texture-by-numbers from example image/class-map pairs.
    The ``controlnet`` engine runs a land-cover ControlNet over a Stable Diffusion base (``model``).

    Args:
        landcover: polygons (GeoPackage, GeoJSON, Shapefile) or a raster of class codes.
        output: the output GeoTIFF path (.tif, RGB + alpha); the result record is written beside it as
            ``<stem>.result.json``.
        engine: the engine's name (``geogen.list_engines("sketch")``); None for the task's default.
        gsd: the output pixel size in metres; None for the engine's native size.
        aoi: the area to draw: ``(left, bottom, right, top)`` in ``aoi_crs``, a vector file, or an
            ``AreaOfInterest``; None for the whole land-cover layer.
        aoi_crs: the CRS of ``aoi`` bounds; None for EPSG:4326.
        layer: the layer inside a GeoPackage.
        class_field: the attribute holding each polygon's class (vector input).
        mapping: input class value -> the vocabulary's class name or code, as a dict or a JSON file.
        vocabulary: the engine's class vocabulary.
        date: the scene date (``datetime.date`` or "YYYY-MM-DD"), recorded and used in prompts.
        place: a place name for prompts (diffusion engines).
        prompt: extra prompt text (diffusion engines).
        exemplar: an ``(image, mask)`` pair, an example RGB image and its class map in the vocabulary's codes
            (exemplar engine); None for the bundled FLAIR patches.
        model: the base model of the ``controlnet`` engine: a Stable Diffusion pipeline or DiffusionSat, a
            model-store name or a folder.
        loras: LoRA styles (``controlnet`` engine), each a name or path (strength 1), a ``(name, strength)``
            pair or a ``LoraRef``.
        steps: denoising steps (``controlnet`` engine).
        options: the engine's options, a dict (e.g. ``{"controlnet": "NAME", "guidance_scale": 7.5,
            "scheduler": "ddim"}``) or an instance of the engine's options model.
        seed: the random seed.
        out_crs: the CRS to write in; None for the input's.
        max_tiles: refuse areas that need more model windows than this.
        overwrite: replace existing outputs.
        progress: a callable ``(done, total, stage)`` or a ``geogen.progress.Reporter`` (see ``geogen.run``).
        cancel: a ``CancelToken`` or ``threading.Event`` that stops the job when set (see ``geogen.run``).

    Returns:
        The job's ``Result`` (``result.paths[0]`` is ``output``).

    Raises:
        JobSpecError: an invalid argument (OptionsError for an invalid option).
        EngineError: no such engine for the task.
        InputFileError: a missing or unreadable input.
        VectorError: unusable polygons (no features in the area, unknown class field...).
        ClassMappingError: classes the vocabulary cannot represent.
        ModelError: the ``controlnet`` engine without a usable model.
        CancelledError: the job was cancelled.
    """
    job = _job(
        {
            "task": "sketch",
            "model": model_ref(model),
            "steps": steps,
            "options": options_field(options),
            "loras": [lora_field(lora) for lora in loras],
            "landcover": abspath(landcover),
            "layer": layer,
            "class_field": class_field,
            "mapping": dict(mapping)
            if isinstance(mapping, Mapping)
            else (abspath(mapping) if mapping else None),
            "vocabulary": vocabulary,
            "engine": engine,
            "gsd": gsd,
            "date": iso_date(date),
            "place": place,
            "prompt": prompt,
            "exemplar": exemplar_field(exemplar),
            "aoi": aoi_field(aoi, aoi_crs),
            "seed": seed,
            "max_tiles": max_tiles,
            "output": file_output(output, overwrite, out_crs),
        }
    )
    return run(job, progress=progress, cancel=cancel)


def text(
    prompt: str,
    aoi: Aoi,
    gsd: float,
    output: PathLike,
    *,
    aoi_crs: str | None = None,
    date: DateLike | None = None,
    cloud_cover: float | None = None,
    model: PathLike | None = None,
    steps: int | None = None,
    guidance_scale: float = 7.5,
    engine: str | None = None,
    options: Options = None,
    seed: int = 0,
    max_tiles: int = DEFAULT_MAX_TILES,
    out_crs: str | None = None,
    overwrite: bool = False,
    progress: Progress = None,
    cancel: Cancel = None,
) -> Result:
    """Generate a synthetic satellite image of an area from a prompt (``geogen text``).

    Args:
        prompt: the caption, e.g. "a fmow satellite image of a farm".
        aoi: the area: ``(left, bottom, right, top)`` in ``aoi_crs``, a vector file (its features' union), or
            an ``AreaOfInterest``.
        gsd: the output pixel size in metres (also the model's GSD input).
        output: the output GeoTIFF path (.tif); the result record is written beside it as
            ``<stem>.result.json``.
        aoi_crs: the CRS of ``aoi`` bounds; None for EPSG:4326.
        date: the scene date (``datetime.date`` or "YYYY-MM-DD"), a model input.
        cloud_cover: the cloud fraction 0..1, a model input; None for unknown.
        model: the DiffusionSat model: a model-store name (``geogen models list``) or a folder.
        steps: denoising steps; None for 50.
        guidance_scale: classifier-free guidance (1 turns it off, half the work).
        engine: the engine's name (``geogen.list_engines("text")``); None for the task's default.
        options: the engine's options, a dict (e.g. ``{"device": "cpu", "dtype": "fp32",
            "window_batch_size": 2}``) or an instance of the engine's options model.
        seed: the random seed.
        max_tiles: refuse areas that need more latent windows than this.
        out_crs: the CRS to write in; None for the metric working grid's (e.g. UTM).
        overwrite: replace existing outputs.
        progress: a callable ``(done, total, stage)`` or a ``geogen.progress.Reporter`` (see ``geogen.run``).
        cancel: a ``CancelToken`` or ``threading.Event`` that stops the job when set (see ``geogen.run``).

    Returns:
        The job's ``Result`` (``result.paths[0]`` is ``output``).

    Raises:
        JobSpecError: an invalid argument (OptionsError for an invalid option), e.g. ``gsd`` <= 0.
        EngineError: no such engine for the task.
        ModelError: no model, or a model the store does not know.
        AreaTooLargeError: the area needs more than ``max_tiles`` windows.
        CancelledError: the job was cancelled.
    """
    job = _job(
        {
            "task": "text",
            "prompt": prompt,
            "aoi": aoi_field(aoi, aoi_crs),
            "gsd": gsd,
            "date": iso_date(date),
            "cloud_cover": cloud_cover,
            "model": model_ref(model),
            "steps": steps,
            "guidance_scale": guidance_scale,
            "seed": seed,
            "engine": engine,
            "max_tiles": max_tiles,
            "options": options_field(options),
            "output": file_output(output, overwrite, out_crs),
        }
    )
    return run(job, progress=progress, cancel=cancel)


def temporal(
    inputs: Sequence[PathLike | tuple[PathLike, DateLike | None]],
    output: PathLike,
    *,
    target_dates: Sequence[DateLike],
    seed_image: PathLike | tuple[PathLike, DateLike | None] | None = None,
    cloud_max: float | None = None,
    aoi: Aoi | None = None,
    aoi_crs: str | None = None,
    gsd: float | None = None,
    model: PathLike | None = None,
    prompt: str | None = None,
    steps: int | None = None,
    engine: str | None = None,
    options: Options = None,
    seed: int = 0,
    max_tiles: int = DEFAULT_MAX_TILES,
    out_crs: str | None = None,
    name: str = "sequence",
    overwrite: bool = False,
    progress: Progress = None,
    cancel: Cancel = None,
) -> Result:
    """Build a time stack of one place from dated rasters, generating every target date (``geogen temporal``).

    Writes ``<name>_YYYY-MM-DD.tif`` per date (observed frames and generated ones), ``<name>.nc`` and
    ``result.json`` into the ``output`` folder.

    Args:
        inputs: the observed frames, each a path (its date read from the file's tags, a geogen result.json
            beside it, or its name) or a ``(path, date)`` pair; may be empty when ``seed_image`` is given.
        output: the output folder (created if missing).
        target_dates: the dates to generate (``datetime.date`` or "YYYY-MM-DD"), at least one.
        seed_image: an image to start the sequence from, a path or a ``(path, date)`` pair.
        cloud_max: drop input frames cloudier than this fraction over the area (needs a cloud band).
        aoi: the area: ``(left, bottom, right, top)`` in ``aoi_crs``, a vector file, or an ``AreaOfInterest``;
            None for the frames' extent.
        aoi_crs: the CRS of ``aoi`` bounds; None for EPSG:4326.
        gsd: the output pixel size in metres; None for the first frame's.
        model: the DiffusionSat model: a model-store name or a folder.
        prompt: the caption of every frame; None for "a satellite image".
        steps: denoising steps; None for 50.
        engine: the engine's name (``geogen.list_engines("temporal")``); None for the task's default.
        options: the engine's options, a dict (e.g. ``{"controlnet": "NAME", "frames": 3,
            "guidance_scale": 1.0}``) or an instance of the engine's options model.
        seed: the random seed.
        max_tiles: refuse sequences needing more latent windows than this (all dates together).
        out_crs: the metric CRS to write in; None for the area's or the frames'.
        name: the file stem of the outputs.
        overwrite: replace existing outputs.
        progress: a callable ``(done, total, stage)`` or a ``geogen.progress.Reporter`` (see ``geogen.run``).
        cancel: a ``CancelToken`` or ``threading.Event`` that stops the job when set (see ``geogen.run``).

    Returns:
        The job's ``Result``: one output per date, in date order, each with its ``kind`` ("observed" or
        "generated") and ``date``.

    Raises:
        JobSpecError: an invalid argument (OptionsError for an invalid option), e.g. duplicate target dates.
        EngineError: no such engine for the task.
        InputFileError: a missing or unreadable input.
        ModelError: a date to generate but no usable model.
        CancelledError: the job was cancelled.
    """
    job = _job(
        {
            "task": "temporal",
            "inputs": [dated_input(item) for item in inputs],
            "seed_image": dated_input(seed_image) if seed_image is not None else None,
            "target_dates": [iso_date(d) for d in target_dates],
            "cloud_max": cloud_max,
            "aoi": aoi_field(aoi, aoi_crs),
            "gsd": gsd,
            "prompt": prompt,
            "model": model_ref(model),
            "steps": steps,
            "seed": seed,
            "engine": engine,
            "max_tiles": max_tiles,
            "options": options_field(options),
            "output": {"dir": abspath(output), "name": name, "overwrite": overwrite, "crs": out_crs},
        }
    )
    return run(job, progress=progress, cancel=cancel)
