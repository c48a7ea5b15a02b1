"""Sketch to scene end to end with the weight-free exemplar engine, on real polygons and real FLAIR masks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from geogen.engines.registry import get_engine
from geogen.errors import ClassMappingError, GeometryError, RasterError, VectorError
from geogen.io.aoi import area_from_bounds, working_grid
from geogen.io.rasterize import rasterize_classes
from geogen.io.vector import read_vector
from geogen.pipelines import run_task
from geogen.progress import NullReporter, Reporter
from geogen.records import PipelineOutput
from geogen.spec import parse_job

REPO = Path(__file__).resolve().parents[2]
MAPPING = REPO / "geogen" / "data" / "mappings" / "slovenia_lulc_to_flair.json"


def sketch_job(tmp_path: Path, **fields) -> object:
    data = {"task": "sketch", "output": {"dir": str(tmp_path), "name": "scene"}, **fields}
    return parse_job(data)


def run_sketch(job, reporter: Reporter) -> PipelineOutput:
    """The job's engine (the exemplar engine by default) built from its options, run through its pipeline."""
    cls = get_engine("sketch", job.engine)
    return run_task(job, cls(cls.parse_options(job.options), seed=job.seed), reporter)


def test_polygons_to_scene_on_the_requested_grid(slovenia, tmp_path):
    bounds = (465200.0, 5079300.0, 465800.0, 5079800.0)
    job = sketch_job(
        tmp_path,
        landcover=str(slovenia / "LULC_polygons_MKGP_RABA.gpkg"),
        class_field="LULC_ID",
        mapping=str(MAPPING),
        gsd=2.0,
        seed=5,
        date="2015-07-11",
        aoi={"bounds": bounds, "crs": "EPSG:32633"},
    )
    out = run_sketch(job, NullReporter())
    record = out.outputs[0]
    expected = working_grid(area_from_bounds(bounds, "EPSG:32633"), 2.0)
    with rasterio.open(record.path) as ds:
        assert ds.crs.to_epsg() == 32633
        assert ds.transform == expected.transform and ds.shape == expected.shape
        assert tuple(ds.bounds) == pytest.approx(bounds)
        rgb, alpha = ds.read([1, 2, 3]), ds.read(4)
        tags = ds.tags()
    layer = read_vector(slovenia / "LULC_polygons_MKGP_RABA.gpkg")
    inside = rasterize_classes([(f.geometry, 1) for f in layer.features], expected, shapes_crs=layer.crs)
    np.testing.assert_array_equal(alpha == 255, inside == 1)
    assert rgb[:, alpha == 255].std() > 5  # textured, not a flat fill
    assert (
        tags["GEOGEN_SYNTHETIC"] == "YES"
        and tags["GEOGEN_ENGINE"] == "exemplar"
        and tags["GEOGEN_SEED"] == "5"
    )
    meta = json.loads(tags["GEOGEN_METADATA"])
    assert meta["gsd_m"] == 2.0 and meta["date"] == "2015-07-11" and 14.55 < meta["lon"] < 14.57
    assert record.synthetic and record.kind == "generated" and record.extra["classes"]


def test_class_raster_keeps_its_grid_and_follows_classes(test_data, tmp_path):
    mask_path = test_data / "flair1_aerial_masks" / "MSK_076201.tif"
    job = sketch_job(tmp_path, landcover=str(mask_path), seed=1)
    rec = run_sketch(job, NullReporter()).outputs[0]
    with rasterio.open(mask_path) as m, rasterio.open(rec.path) as ds:
        assert ds.crs == m.crs and ds.transform == m.transform and ds.shape == m.shape
        mask = m.read(1)
        rgb = ds.read([1, 2, 3]).astype(float)
    # water/impervious/vegetation differ in colour as in real imagery: vegetation greener than impervious
    veg = rgb[:, np.isin(mask, [7, 10])].mean(axis=1)
    imp = rgb[:, mask == 3].mean(axis=1)
    assert veg[1] - veg[0] > imp[1] - imp[0]


def test_same_seed_same_pixels_other_seed_differs(test_data, tmp_path):
    mask = test_data / "flair1_aerial_masks" / "MSK_067998.tif"
    a = run_sketch(sketch_job(tmp_path / "a", landcover=str(mask), seed=3), NullReporter()).outputs[0]
    b = run_sketch(sketch_job(tmp_path / "b", landcover=str(mask), seed=3), NullReporter()).outputs[0]
    c = run_sketch(sketch_job(tmp_path / "c", landcover=str(mask), seed=4), NullReporter()).outputs[0]

    def read(record) -> np.ndarray:
        with rasterio.open(record.path) as ds:
            return ds.read()

    np.testing.assert_array_equal(read(a), read(b))
    assert not np.array_equal(read(a), read(c))


def test_geographic_input_is_worked_in_utm_and_written_back(slovenia, tmp_path):
    job = sketch_job(
        tmp_path,
        landcover=str(slovenia / "LULC_polygons_MKGP_RABA_EPSG4326.geojson"),
        class_field="LULC_ID",
        mapping=str(MAPPING),
        gsd=3.0,
    )
    rec = run_sketch(job, NullReporter()).outputs[0]
    layer = read_vector(slovenia / "LULC_polygons_MKGP_RABA_EPSG4326.geojson")
    with rasterio.open(rec.path) as ds:
        assert ds.crs.to_epsg() == 4326
        left, bottom, right, top = ds.bounds
    l0, b0, r0, t0 = layer.bounds
    assert (
        abs(left - l0) < 2e-4 and abs(right - r0) < 2e-4 and abs(bottom - b0) < 2e-4 and abs(top - t0) < 2e-4
    )
    assert not list(Path(tmp_path).glob(".*partial*"))


def test_unmapped_classes_are_listed(slovenia, tmp_path):
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"1": "agricultural land", "2": "mixed"}))
    job = sketch_job(
        tmp_path,
        landcover=str(slovenia / "LULC_polygons_MKGP_RABA.gpkg"),
        class_field="LULC_ID",
        mapping=str(mapping),
    )
    with pytest.raises(ClassMappingError) as err:
        run_sketch(job, NullReporter())
    for code in ("3", "4", "8"):
        assert code in str(err.value)


def test_bad_inputs(slovenia, tmp_path):
    gpkg = str(slovenia / "LULC_polygons_MKGP_RABA.gpkg")
    with pytest.raises(VectorError, match="class field 'NOPE' not found"):
        run_sketch(sketch_job(tmp_path, landcover=gpkg, class_field="NOPE"), NullReporter())
    with pytest.raises(GeometryError, match="does not overlap"):
        run_sketch(
            sketch_job(
                tmp_path,
                landcover=gpkg,
                class_field="LULC_ID",
                mapping=str(MAPPING),
                gsd=1.0,
                aoi={"bounds": [2.0, 48.0, 2.1, 48.1], "crs": "EPSG:4326"},
            ),
            NullReporter(),
        )
    empty = tmp_path / "empty.geojson"
    empty.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(VectorError, match="empty"):
        run_sketch(sketch_job(tmp_path, landcover=str(empty), class_field="c"), NullReporter())
    nocrs = tmp_path / "nocrs.tif"
    with rasterio.open(nocrs, "w", driver="GTiff", width=8, height=8, count=1, dtype="uint8") as ds:
        ds.write(np.ones((1, 8, 8), np.uint8))
    with pytest.raises(RasterError, match="no CRS"):
        run_sketch(sketch_job(tmp_path, landcover=str(nocrs)), NullReporter())
    assert not list(Path(tmp_path).glob("scene*"))


def test_gsd_too_coarse_for_the_exemplars_says_what_works(slovenia, tmp_path):
    job = sketch_job(
        tmp_path,
        landcover=str(slovenia / "LULC_polygons_MKGP_RABA.gpkg"),
        class_field="LULC_ID",
        mapping=str(MAPPING),
        gsd=10.0,
    )
    with pytest.raises(GeometryError, match=r"GSD 10 m is too coarse.*--gsd 3\.2 or finer"):
        run_sketch(job, NullReporter())


RPG_GRASS = {"PPH", "PTR", "PRL", "PPR", "J5M", "J6P", "J6S", "LU5", "LUZ", "FLA"}


def test_many_small_parcels_from_a_shapefile(test_data, tmp_path):
    """193 real French RPG parcels, rewritten as an ESRI Shapefile, mapped by crop code and rendered at 1 m."""
    import fiona

    src = test_data / "rpg_france_parcels" / "RPG_parcels_east_of_Lyon_EPSG2154.gpkg"
    shp = tmp_path / "parcels.shp"
    with (
        fiona.open(src) as s,
        fiona.open(
            shp,
            "w",
            driver="ESRI Shapefile",
            crs=s.crs,
            schema={"geometry": "Polygon", "properties": {"code": "str"}},
        ) as d,
    ):
        codes = set()
        for f in s:
            code = f.properties["code_cultu"]
            codes.add(code)
            d.write({"geometry": f.geometry, "properties": {"code": code}})
    mapping = {
        c: ("herbaceous vegetation" if c in RPG_GRASS else "brushwood" if c == "BOR" else "agricultural land")
        for c in codes
    }
    c = read_vector(shp).features[0].geometry.centroid
    bounds = (round(c.x) - 200.0, round(c.y) - 150.0, round(c.x) + 200.0, round(c.y) + 150.0)
    job = sketch_job(
        tmp_path / "out",
        landcover=str(shp),
        class_field="code",
        mapping=mapping,
        gsd=1.0,
        seed=2,
        aoi={"bounds": bounds, "crs": "EPSG:2154"},
    )
    rec = run_sketch(job, NullReporter()).outputs[0]
    layer = read_vector(shp)
    grid = working_grid(area_from_bounds(bounds, "EPSG:2154"), 1.0)
    with rasterio.open(rec.path) as ds:
        assert ds.crs.to_epsg() == 2154 and ds.transform == grid.transform and ds.shape == (300, 400)
        alpha = ds.read(4)
    inside = rasterize_classes([(f.geometry, 1) for f in layer.features], grid, shapes_crs=layer.crs)
    np.testing.assert_array_equal(alpha == 255, inside == 1)
    assert 0.05 < (alpha == 255).mean() < 1.0  # parcels with gaps between them


def test_class_raster_nodata_other_than_zero_stays_transparent(tmp_path):
    from affine import Affine

    codes = np.full((64, 64), 3, np.uint8)
    codes[:, 32:] = 7
    codes[:32, :32] = 255  # nodata
    path = tmp_path / "cls.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=64,
        height=64,
        count=1,
        dtype="uint8",
        nodata=255,
        crs="EPSG:2154",
        transform=Affine(0.2, 0, 900000, 0, -0.2, 6500000),
    ) as ds:
        ds.write(codes, 1)
    rec = run_sketch(sketch_job(tmp_path / "o", landcover=str(path), seed=0), NullReporter()).outputs[0]
    with rasterio.open(rec.path) as ds:
        alpha = ds.read(4)
    np.testing.assert_array_equal(alpha == 0, codes == 255)


def test_existing_output_is_refused_before_any_work_even_with_a_warp(slovenia, tmp_path):
    from geogen.errors import OutputError

    (tmp_path / "scene.tif").write_bytes(b"keep me")
    events = []

    class Recorder(NullReporter):
        def progress(self, done, total, stage=""):
            events.append((done, total, stage))

    job = sketch_job(
        tmp_path,
        landcover=str(slovenia / "LULC_polygons_MKGP_RABA_EPSG4326.geojson"),
        class_field="LULC_ID",
        mapping=str(MAPPING),
        gsd=3.0,
    )
    with pytest.raises(OutputError, match="output exists"):
        run_sketch(job, Recorder())
    assert events == [] and (tmp_path / "scene.tif").read_bytes() == b"keep me"


def test_the_exemplar_engine_takes_no_options(test_data, tmp_path):
    from geogen.errors import OptionsError

    mask = test_data / "flair1_aerial_masks" / "MSK_067998.tif"
    with pytest.raises(
        OptionsError, match=r"options\.patch: unknown option; valid options of sketch engine 'exemplar': none"
    ):
        run_sketch(sketch_job(tmp_path, landcover=str(mask), options={"patch": 16}), NullReporter())
    assert not list(Path(tmp_path).glob("scene*"))
