"""Sketch to scene: land-cover polygons or a class raster -> a georeferenced synthetic image on the same place.

inputs -> class source (mapped to the engine's vocabulary) -> working grid -> tiles -> engine -> streaming mosaic
-> GeoTIFF (RGB + alpha: transparent outside the drawn area) -> optional warp to the CRS asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rasterio.enums import ColorInterp
from rasterio.warp import Resampling
from shapely.geometry import box

from geogen.engines.exemplar import QuiltParams, make_bank, synthesize_tiled
from geogen.engines.registry import resolve_engine
from geogen.errors import EngineError, GeometryError
from geogen.io.aoi import Area, area_from_bounds, area_from_vector, centroid_lonlat, check_tile_budget, \
    is_geographic, working_grid
from geogen.io.classmap import ClassSource, RasterClassSource, open_class_source
from geogen.io.geotiff import GeoTIFFWriter, reproject_file, temp_sibling
from geogen.io.tags import provenance_tags
from geogen.job.progress import Reporter
from geogen.job.result import OutputRecord, PipelineOutput
from geogen.job.spec import SketchJob
from geogen.io.exemplars import Exemplar, load_exemplars, resample_exemplar
from geogen.landcover.mapping import code_lookup
from geogen.landcover.vocab import get_vocabulary
from tiles import Grid
from tiles.plan import count_tiles

TILE = 512
OVERLAP = 32  # the quilting patch step plus its overlap: tile borders are cut like patch seams
SECONDS_PER_TILE_CPU = 2.0  # exemplar engine, one core, 512 px (bench/results/exemplar.md)


def _area(job: SketchJob, source: ClassSource) -> Area:
    if job.aoi is None:
        return Area(box(*source.bounds), source.crs)
    if job.aoi.vector:
        return area_from_vector(job.aoi.vector, job.aoi.layer)
    return area_from_bounds(job.aoi.bounds, job.aoi.crs)  # type: ignore[arg-type]


def _grid(job: SketchJob, source: ClassSource, area: Area, gsd: float) -> Grid:
    """The raster's own grid when it is used as is (pixel-exact), else a snapped metric grid over the area."""
    if (isinstance(source, RasterClassSource) and job.aoi is None and source.native_res
            and abs(source.native_res - gsd) < 1e-9 and not is_geographic(source.crs)):
        from geogen.io.raster import read_grid

        return read_grid(source.path)
    return working_grid(area, gsd)


def run_sketch(job: SketchJob, reporter: Reporter) -> PipelineOutput:
    """Run a sketch job; see the module docstring.

    Raises:
        EngineError, ClassMappingError, VectorError, RasterError, GeometryError, AreaTooLargeError, OutputError.
    """
    engine = resolve_engine("sketch", job.engine)
    if engine.name == "controlnet":
        from geogen.pipelines.sketch_controlnet import run_sketch_controlnet

        return run_sketch_controlnet(job, reporter)
    if engine.name != "exemplar":
        raise EngineError(f"sketch engine {engine.name!r} is not available in this version of geogen")
    vocab = get_vocabulary(job.vocabulary)
    source = open_class_source(job.landcover, code_lookup(job.mapping, vocab), class_field=job.class_field,
                               layer=job.layer)
    exemplars = load_exemplars(job.exemplar.image, job.exemplar.mask) if job.exemplar else load_exemplars()
    gsd = job.gsd or source.native_res or exemplars[0].gsd

    area = _area(job, source)
    if not area.to_crs(source.crs).geometry.intersects(box(*source.bounds)):
        raise GeometryError(f"the land-cover input {Path(job.landcover).name} does not overlap the area of interest")
    grid = _grid(job, source, area, gsd)
    n_tiles = count_tiles(grid.shape, TILE, OVERLAP)
    check_tile_budget(n_tiles, job.max_tiles, seconds_per_tile=SECONDS_PER_TILE_CPU)
    finest = max(exemplars, key=lambda e: e.gsd * min(e.mask.shape))
    max_gsd = finest.gsd * min(finest.mask.shape) / QuiltParams().patch
    if gsd > max_gsd:
        raise GeometryError(
            f"GSD {gsd:g} m is too coarse for the exemplars ({finest.name}: {min(finest.mask.shape)} px at "
            f"{finest.gsd:g} m): use --gsd {max_gsd:.2g} or finer, or give an exemplar pair at this GSD"
        )
    examples = [resample_exemplar(e, gsd) for e in exemplars]

    lon, lat = centroid_lonlat(area)
    metadata = {"gsd_m": gsd, "lon": round(lon, 6), "lat": round(lat, 6),
                "date": job.date.isoformat() if job.date else None, "place": job.place,
                "vocabulary": vocab.name, "exemplars": [e.name for e in exemplars]}
    out_crs = job.output.crs or (source.crs if is_geographic(source.crs) else None)
    final = Path(job.output.dir) / f"{job.output.name}.tif"
    target = temp_sibling(final, "utm") if out_crs and out_crs != grid.crs else final
    present: set[int] = set()

    writer = GeoTIFFWriter(
        target, grid, 3, "uint8", alpha=True, band_descriptions=["red", "green", "blue"],
        colorinterp=[ColorInterp.red, ColorInterp.green, ColorInterp.blue],
        tags=provenance_tags(engine=engine.name, model=f"exemplar:{'+'.join(e.name for e in exemplars)}",
                             prompt=job.prompt, seed=job.seed, metadata=metadata, task="sketch"),
        overwrite=job.output.overwrite or target != final,
    )

    def sink(window, array: np.ndarray) -> None:
        valid = source.read(grid[window]) != 0
        writer.write(window, array, valid)

    bank = make_bank([(e.image, e.mask) for e in examples], QuiltParams())

    def read_classes(window) -> np.ndarray:
        class_map = source.read(grid[window])
        present.update(int(c) for c in np.unique(class_map) if c)
        return class_map

    reporter.progress(0, n_tiles, "synthesis")
    with writer:
        warnings = synthesize_tiled(
            read_classes, grid.shape, bank, seed=job.seed, sink=sink, tile=TILE, overlap=OVERLAP, vocab=vocab,
            progress=lambda done, total: reporter.progress(done, total, "synthesis"),
        )
    for w in warnings:
        reporter.log(w, "warning")
    if target != final:
        reporter.progress(0, 1, "reproject")
        try:
            reproject_file(target, final, out_crs, resampling=Resampling.bilinear, overwrite=job.output.overwrite)
        finally:
            target.unlink(missing_ok=True)
        reporter.progress(1, 1, "reproject")

    from geogen.io.raster import read_grid

    out_grid = read_grid(final)
    names = [vocab.name_of(c) for c in sorted(present)]
    record = OutputRecord(
        path=str(final), bands=["red", "green", "blue", "alpha"], crs=out_grid.crs, bounds=out_grid.bounds,
        width=out_grid.width, height=out_grid.height, kind="generated", synthetic=True, date=job.date,
        extra={"classes": names, "gsd_m": gsd},
    )
    summary = (f"synthetic {grid.width} x {grid.height} px scene at {gsd:g} m from {len(present)} classes "
               f"({', '.join(names)}) with the exemplar engine, seed {job.seed}")
    return PipelineOutput([record], engine.name, summary, {"classes": names})

