"""Sketch to scene: land-cover polygons or a class raster -> a georeferenced synthetic image on the same place.

inputs -> class source (mapped to the engine's vocabulary) -> working grid -> tiles -> engine -> streaming mosaic
-> GeoTIFF (RGB + alpha: transparent outside the drawn area) -> optional warp to the CRS asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geogen.engines.exemplar import QuiltParams, make_bank, synthesize_tiled
from geogen.engines.registry import resolve_engine
from geogen.errors import EngineError, GeometryError
from geogen.io.aoi import centroid_lonlat, check_tile_budget
from geogen.io.classmap import open_class_source
from geogen.io.outputs import RGBA_BANDS, RGBAOutput
from geogen.io.tags import provenance_tags
from geogen.job.progress import Reporter
from geogen.job.result import OutputRecord, PipelineOutput
from geogen.job.spec import SketchJob
from geogen.io.exemplars import Exemplar, load_exemplars, resample_exemplar
from geogen.landcover.mapping import code_lookup
from geogen.landcover.vocab import get_vocabulary
from geogen.pipelines.sketch_area import sketch_area, sketch_grid, sketch_output_crs
from tiles.plan import count_tiles

TILE = 512
OVERLAP = 32  # the quilting patch step plus its overlap: tile borders are cut like patch seams
SECONDS_PER_TILE_CPU = 2.0  # exemplar engine, one core, 512 px (bench/results/exemplar.md)


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
    source = open_class_source(
        job.landcover, code_lookup(job.mapping, vocab), class_field=job.class_field, layer=job.layer
    )
    exemplars = load_exemplars(job.exemplar.image, job.exemplar.mask) if job.exemplar else load_exemplars()
    gsd = job.gsd or source.native_res or exemplars[0].gsd

    area = sketch_area(job, source)
    grid = sketch_grid(job, source, area, gsd)
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
    metadata = {
        "gsd_m": gsd,
        "lon": round(lon, 6),
        "lat": round(lat, 6),
        "date": job.date.isoformat() if job.date else None,
        "place": job.place,
        "vocabulary": vocab.name,
        "exemplars": [e.name for e in exemplars],
    }
    final = Path(job.output.dir) / f"{job.output.name}.tif"
    present: set[int] = set()

    output = RGBAOutput(
        final,
        grid,
        provenance_tags(
            engine=engine.name,
            model=f"exemplar:{'+'.join(e.name for e in exemplars)}",
            prompt=job.prompt,
            seed=job.seed,
            metadata=metadata,
            task="sketch",
        ),
        crs=sketch_output_crs(job, source),
        overwrite=job.output.overwrite,
        progress=lambda done, total: reporter.progress(done, total, "reproject"),
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
    with output as writer:
        warnings = synthesize_tiled(
            read_classes,
            grid.shape,
            bank,
            seed=job.seed,
            sink=sink,
            tile=TILE,
            overlap=OVERLAP,
            vocab=vocab,
            progress=lambda done, total: reporter.progress(done, total, "synthesis"),
        )
        for w in warnings:
            reporter.log(w, "warning")
    from geogen.io.raster import read_grid

    out_grid = read_grid(final)
    names = [vocab.name_of(c) for c in sorted(present)]
    record = OutputRecord.on_grid(
        final, out_grid, RGBA_BANDS, date=job.date, extra={"classes": names, "gsd_m": gsd}
    )
    summary = (
        f"synthetic {grid.width} x {grid.height} px scene at {gsd:g} m from {len(present)} classes "
        f"({', '.join(names)}) with the exemplar engine, seed {job.seed}"
    )
    return PipelineOutput([record], engine.name, summary, {"classes": names})
