"""Sketch to scene with any ``ClassRenderEngine``: class codes in, RGB out, window by window, blended.

inputs -> class source (mapped to the vocabulary) -> working grid at the job's GSD -> overlapping windows of the
engine's size (``tiles.plan``) -> ``engine.render(ClassWindow)`` for each -> blended in a streaming mosaic (cosine
ramps over the overlaps) -> GeoTIFF (RGB + alpha: transparent outside the drawn area) with provenance tags ->
optional warp to the CRS asked for.

This is the pipeline a third-party sketch engine runs through: it only has to turn one window of class codes into
RGB; reading polygons or rasters, grids, blending, tags and reprojection are done here, the same for every engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from geogen.engines.base import ClassRenderEngine, ClassWindow
from geogen.errors import EngineError, GeometryError
from geogen.io.aoi import check_tile_budget
from geogen.io.raster import read_grid
from geogen.io.tags import provenance_tags
from geogen.pipelines.sketch_area import aoi_polygon, drawn_pixels, sketch_area, sketch_grid
from geogen.pipelines.sketch_common import (
    open_sketch_source,
    read_drawn,
    sketch_metadata,
    sketch_output,
    sketch_record,
)
from geogen.progress import Reporter
from geogen.records import PipelineOutput
from tiles import StreamingMosaic, Tile, Window, plan, stream_order

if TYPE_CHECKING:
    from geogen.spec import SketchJob


def run_class_render(job: SketchJob, engine: ClassRenderEngine, reporter: Reporter) -> PipelineOutput:
    """Run a sketch job with a window-by-window class renderer; see the module docstring.

    Raises:
        EngineError: the engine's window and overlap do not tile, or ``render`` returned the wrong array.
        GeometryError: no GSD for polygons, or an area that does not overlap the land-cover input.
        ClassMappingError, VectorError, RasterError, AreaTooLargeError, OutputError: see their sources.
    """
    vocab, source = open_sketch_source(job)
    gsd = job.gsd or source.native_res
    if not gsd:
        raise GeometryError(
            f"the {engine.name} engine needs a pixel size for polygons: pass --gsd METRES (gsd in a job file)"
        )
    area = sketch_area(job, source)
    grid = sketch_grid(job, source, area, gsd)
    try:
        windows = plan(grid.shape, engine.window, engine.overlap)
    except ValueError as exc:
        raise EngineError(f"sketch engine {engine.name!r} cannot tile the area: {exc}") from None
    check_tile_budget(len(windows), job.max_tiles, seconds_per_tile=engine.seconds_per_window, what="windows")
    polygon = aoi_polygon(job, area, grid)
    colours = {c.code: c.colour for c in vocab.classes}
    metadata = sketch_metadata(job, area, gsd, vocab.name)
    metadata["windows"] = len(windows)
    tags = provenance_tags(
        engine=engine.name,
        model=job.model,
        prompt=job.prompt,
        seed=job.seed,
        metadata=metadata,
        task="sketch",
        extra={"options": engine.options.model_dump(mode="json")},
    )
    output = sketch_output(job, source, grid, tags, reporter)
    present: set[int] = set()

    def sink(window: Window, rgb: np.ndarray) -> None:
        valid = read_drawn(source, grid[window], polygon, present)
        writer.write(window, np.where(valid[None], rgb, 0).astype(np.uint8), valid)

    def render(tile: Tile) -> np.ndarray:
        sub = grid[tile.window]
        codes = source.read(sub)
        window = ClassWindow(
            codes=codes,
            valid=drawn_pixels(codes, polygon, sub),
            grid=sub,
            index=tile.index,
            seed=job.seed,
            vocabulary=vocab.name,
            colours=colours,
        )
        return _checked(engine.render(window), tile, engine)

    reporter.progress(0, len(windows), "render")
    with output as writer, StreamingMosaic(grid.shape, 3, windows, sink, dtype=np.uint8) as mosaic:
        for done, tile in enumerate(stream_order(windows), start=1):
            mosaic.add(tile, render(tile))
            reporter.progress(done, len(windows), "render")

    names = [vocab.name_of(c) for c in sorted(present)]
    record = sketch_record(job, output.final, read_grid(output.final), names, gsd)
    summary = (
        f"synthetic {grid.width} x {grid.height} px scene at {gsd:g} m from {len(names)} classes "
        f"({', '.join(names)}) with the {engine.name} engine, {len(windows)} window(s), seed {job.seed}"
    )
    return PipelineOutput([record], engine.name, summary, {"classes": names, "windows": len(windows)})


def _checked(rgb: object, tile: Tile, engine: ClassRenderEngine) -> np.ndarray:
    """``rgb`` if it is the (3, h, w) uint8 array of ``tile``'s window, else an error naming the engine."""
    expected = (3, tile.window.height, tile.window.width)
    if not isinstance(rgb, np.ndarray) or rgb.shape != expected or rgb.dtype != np.uint8:
        got = f"{rgb.dtype} {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise EngineError(
            f"sketch engine {engine.name!r} rendered window {tile.index} as {got}; "
            f"render must return a {expected} uint8 array"
        )
    return rgb
