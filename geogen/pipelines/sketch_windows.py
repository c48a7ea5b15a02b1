"""Sketch to scene with any ``ClassRenderEngine``: class codes in, RGB out, window by window, blended.

inputs -> class source (mapped to the vocabulary) -> working grid at the job's GSD -> overlapping windows of the
engine's size (``tiles.plan``) -> ``engine.render(ClassWindow)`` for each -> blended in a streaming mosaic (cosine
ramps over the overlaps) -> GeoTIFF (RGB + alpha: transparent outside the drawn area) with provenance tags ->
optional warp to the CRS asked for.

This is the pipeline a third-party sketch engine runs through: it only has to turn one window of class codes into
RGB; reading polygons or rasters, grids, blending, tags and reprojection are done here, the same for every engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from geogen.engines.base import ClassRenderEngine, ClassWindow
from geogen.errors import EngineError, GeometryError
from geogen.io.aoi import centroid_lonlat, check_tile_budget
from geogen.io.classmap import open_class_source
from geogen.io.outputs import RGBA_BANDS, RGBAOutput
from geogen.io.raster import read_grid
from geogen.io.tags import provenance_tags
from geogen.landcover.mapping import code_lookup
from geogen.landcover.vocab import get_vocabulary
from geogen.pipelines.sketch_area import (
    aoi_polygon,
    drawn_pixels,
    sketch_area,
    sketch_grid,
    sketch_output_crs,
)
from geogen.progress import Reporter
from geogen.records import OutputRecord, PipelineOutput
from tiles import Grid, StreamingMosaic, Tile, Window, plan, stream_order

if TYPE_CHECKING:
    from geogen.spec import SketchJob


def run_class_render(job: SketchJob, engine: ClassRenderEngine, reporter: Reporter) -> PipelineOutput:
    """Run a sketch job with a window-by-window class renderer; see the module docstring.

    Raises:
        EngineError: the engine's window and overlap do not tile, or ``render`` returned the wrong array.
        GeometryError: no GSD for polygons, or an area that does not overlap the land-cover input.
        ClassMappingError, VectorError, RasterError, AreaTooLargeError, OutputError: see their sources.
    """
    vocab = get_vocabulary(job.vocabulary)
    source = open_class_source(
        job.landcover, code_lookup(job.mapping, vocab), class_field=job.class_field, layer=job.layer
    )
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
    final = Path(job.output.dir) / f"{job.output.name}.tif"
    lon, lat = centroid_lonlat(area)
    metadata = {
        "gsd_m": gsd,
        "lon": round(lon, 6),
        "lat": round(lat, 6),
        "date": job.date.isoformat() if job.date else None,
        "place": job.place,
        "vocabulary": vocab.name,
        "windows": len(windows),
    }
    tags = provenance_tags(
        engine=engine.name,
        model=job.model,
        prompt=job.prompt,
        seed=job.seed,
        metadata=metadata,
        task="sketch",
        extra={"options": engine.options.model_dump(mode="json")},
    )
    output = RGBAOutput(
        final,
        grid,
        tags,
        crs=sketch_output_crs(job, source),
        overwrite=job.output.overwrite,
        progress=lambda done, total: reporter.progress(done, total, "reproject"),
    )
    present: set[int] = set()

    def sink(window: Window, rgb: np.ndarray) -> None:
        codes = source.read(grid[window])
        valid = drawn_pixels(codes, polygon, grid[window])
        present.update(int(c) for c in np.unique(codes[valid]))
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

    out_grid: Grid = read_grid(final)
    names = [vocab.name_of(c) for c in sorted(present)]
    record = OutputRecord.on_grid(
        final, out_grid, RGBA_BANDS, date=job.date, extra={"classes": names, "gsd_m": gsd}
    )
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
