"""Sketch to scene with the exemplar engine: land-cover polygons or a class raster -> a georeferenced synthetic
image on the same place, quilted from example image/class-map pairs.

inputs -> class source (mapped to the vocabulary) -> working grid -> tiles -> quilting (each tile knowing its
upper and left neighbours) -> streaming mosaic -> GeoTIFF (RGB + alpha: transparent outside the drawn area)
-> optional warp to the CRS asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from geogen.engines.base import ExemplarSketchEngine
from geogen.engines.exemplar import QuiltParams, make_bank, synthesize_tiled
from geogen.errors import GeometryError
from geogen.io.aoi import check_tile_budget
from geogen.io.exemplars import load_exemplars, resample_exemplar
from geogen.io.raster import read_grid
from geogen.io.tags import provenance_tags
from geogen.pipelines.sketch_area import sketch_area, sketch_grid
from geogen.pipelines.sketch_common import open_sketch_source, sketch_metadata, sketch_output, sketch_record
from geogen.progress import Reporter
from geogen.records import PipelineOutput
from tiles import Window
from tiles.plan import count_tiles

if TYPE_CHECKING:
    from geogen.spec import SketchJob

TILE = 512
OVERLAP = 32  # the quilting patch step plus its overlap: tile borders are cut like patch seams


def run_exemplar_sketch(job: SketchJob, engine: ExemplarSketchEngine, reporter: Reporter) -> PipelineOutput:
    """Run a sketch job with an exemplar engine; see the module docstring.

    Raises:
        EngineError, ClassMappingError, VectorError, RasterError, GeometryError, AreaTooLargeError, OutputError.
    """
    vocab, source = open_sketch_source(job)
    exemplars = load_exemplars(job.exemplar.image, job.exemplar.mask) if job.exemplar else load_exemplars()
    gsd = job.gsd or source.native_res or exemplars[0].gsd

    area = sketch_area(job, source)
    grid = sketch_grid(job, source, area, gsd)
    n_tiles = count_tiles(grid.shape, TILE, OVERLAP)
    check_tile_budget(n_tiles, job.max_tiles, seconds_per_tile=engine.seconds_per_window)
    finest = max(exemplars, key=lambda e: e.gsd * min(e.mask.shape))
    max_gsd = finest.gsd * min(finest.mask.shape) / QuiltParams().patch
    if gsd > max_gsd:
        raise GeometryError(
            f"GSD {gsd:g} m is too coarse for the exemplars ({finest.name}: {min(finest.mask.shape)} px at "
            f"{finest.gsd:g} m): use --gsd {max_gsd:.2g} or finer, or give an exemplar pair at this GSD"
        )
    examples = [resample_exemplar(e, gsd) for e in exemplars]

    metadata = sketch_metadata(job, area, gsd, vocab.name)
    metadata["exemplars"] = [e.name for e in exemplars]
    present: set[int] = set()

    output = sketch_output(
        job,
        source,
        grid,
        provenance_tags(
            engine=engine.name,
            model=f"exemplar:{'+'.join(e.name for e in exemplars)}",
            prompt=job.prompt,
            seed=job.seed,
            metadata=metadata,
            task="sketch",
        ),
        reporter,
    )

    def sink(window: Window, array: np.ndarray) -> None:
        valid = source.read(grid[window]) != 0
        writer.write(window, array, valid)

    bank = make_bank([(e.image, e.mask) for e in examples], QuiltParams())

    def read_classes(window: Window) -> np.ndarray:
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
    names = [vocab.name_of(c) for c in sorted(present)]
    record = sketch_record(job, output.final, read_grid(output.final), names, gsd)
    summary = (
        f"synthetic {grid.width} x {grid.height} px scene at {gsd:g} m from {len(present)} classes "
        f"({', '.join(names)}) with the {engine.name} engine, seed {job.seed}"
    )
    return PipelineOutput([record], engine.name, summary, {"classes": names})
