import json
from pathlib import Path

import jsonschema
import pytest

from geogen.errors import EngineError, InputFileError, JobSpecError
from geogen.spec import (
    SketchJob,
    SuperresJob,
    TemporalJob,
    TextJob,
    job_hash,
    job_to_dict,
    json_schema,
    load_job,
    parse_job,
    save_job,
)

REPO = Path(__file__).resolve().parents[2]

EXAMPLES = [
    {"task": "superres", "input": "/data/S2.SAFE", "output": {"dir": "/tmp/out"}, "bands": ["B05", "B8A"]},
    {
        "task": "sketch",
        "landcover": "/d/sketch.gpkg",
        "class_field": "cls",
        "mapping": {"forest": "deciduous"},
        "gsd": 0.2,
        "date": "2021-09-08",
        "seed": 3,
        "output": {"dir": "/tmp/out", "name": "scene"},
        "loras": [{"name": "word2scene-river", "strength": 0.7}],
    },
    {
        "task": "text",
        "prompt": "a satellite image of farmland",
        "gsd": 1.0,
        "date": "2017-02-11",
        "aoi": {"bounds": [153.2, -28.0, 153.3, -27.9], "crs": "EPSG:4326"},
        "output": {"dir": "/tmp/out"},
        "engine": "diffusionsat",
        "model": "diffusionsat-512",
        "steps": 30,
    },
    {
        "task": "temporal",
        "inputs": [{"path": "/d/a.tif", "date": "2015-07-11"}, {"path": "/d/b.tif"}],
        "target_dates": ["2015-09-01", "2015-10-01"],
        "cloud_max": 0.2,
        "output": {"dir": "/tmp/out"},
    },
]


@pytest.mark.parametrize("data", EXAMPLES, ids=lambda d: d["task"])
def test_round_trip_and_schema(data, tmp_path):
    job = parse_job(data)
    assert (
        type(job)
        is {"superres": SuperresJob, "sketch": SketchJob, "text": TextJob, "temporal": TemporalJob}[
            data["task"]
        ]
    )
    path = tmp_path / "job.json"
    save_job(job, path)
    again = load_job(path)
    assert again == job
    assert job_hash(again) == job_hash(job)
    jsonschema.validate(job_to_dict(job), json_schema())


def test_hash_ignores_key_order_but_not_values():
    a = parse_job(EXAMPLES[0])
    b = parse_job(dict(reversed(list(EXAMPLES[0].items()))))
    c = parse_job({**EXAMPLES[0], "seed": 1})
    assert job_hash(a) == job_hash(b) != job_hash(c)


def test_relative_paths_resolve_against_job_folder(tmp_path):
    (tmp_path / "job").mkdir()
    p = tmp_path / "job" / "job.json"
    p.write_text(
        json.dumps(
            {
                "task": "sketch",
                "landcover": "inputs/sketch.gpkg",
                "class_field": "c",
                "output": {"dir": "out"},
            }
        )
    )
    job = load_job(p)
    assert Path(job.landcover) == tmp_path / "job" / "inputs" / "sketch.gpkg"
    assert Path(job.output.dir) == tmp_path / "job" / "out"


def test_committed_schema_is_current():
    committed = json.loads((REPO / "geogen" / "schemas" / "job-v2.schema.json").read_text())
    assert committed == json_schema(), (
        "regenerate with: geogen job-schema > geogen/schemas/job-v2.schema.json"
    )


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({"task": "paint", "output": {"dir": "x"}}, "unknown task 'paint'"),
        ({"output": {"dir": "x"}}, "no `task`"),
        ({"task": "superres", "input": "a", "output": {"dir": "x"}, "version": 7}, "version 7"),
        ({"task": "superres", "input": "a", "output": {"dir": "x"}, "colour": "red"}, "colour"),
        (
            {
                "task": "text",
                "prompt": "p",
                "gsd": 0,
                "aoi": {"bounds": [0, 0, 1, 1], "crs": "EPSG:4326"},
                "output": {"dir": "x"},
            },
            "gsd",
        ),
        (
            {
                "task": "text",
                "prompt": "p",
                "gsd": 1,
                "aoi": {"bounds": [0, 0, 1, 1]},
                "output": {"dir": "x"},
            },
            "crs",
        ),
        (
            {
                "task": "text",
                "prompt": "p",
                "gsd": 1,
                "aoi": {"bounds": [0, 0, 1, 1], "crs": "EPSG:4326", "vector": "a.gpkg"},
                "output": {"dir": "x"},
            },
            "exactly one",
        ),
        (
            {"task": "temporal", "target_dates": ["2020-01-01", "2020-01-01"], "output": {"dir": "x"}},
            "duplicate",
        ),
        ({"task": "superres", "input": "a", "output": {"dir": "x", "name": "../evil"}}, "output.name"),
        ({"task": "superres", "input": "a", "output": {"dir": "x"}, "options": {"tile": 8}}, "options.tile"),
        (
            {"task": "superres", "input": "a", "output": {"dir": "x"}, "engine": "nope"},
            "unknown engine 'nope'",
        ),
    ],
)
def test_invalid_jobs_name_the_problem(data, fragment):
    with pytest.raises((JobSpecError, EngineError)) as err:
        parse_job(data)
    assert fragment in str(err.value)


def test_load_job_errors(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        load_job(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(JobSpecError, match="not valid JSON"):
        load_job(bad)
    arr = tmp_path / "arr.json"
    arr.write_text("[1, 2]")
    with pytest.raises(JobSpecError, match="JSON object"):
        load_job(arr)


def test_only_real_path_fields_are_resolved(tmp_path):
    """output.name and mapping entries are never paths, even when such a file exists next to the job."""
    (tmp_path / "out").mkdir()
    (tmp_path / "forest").write_text("")
    (tmp_path / "cn").mkdir()
    p = tmp_path / "job.json"
    p.write_text(
        json.dumps(
            {
                "task": "sketch",
                "engine": "controlnet",
                "landcover": "s.gpkg",
                "class_field": "c",
                "mapping": {"forest": "deciduous"},
                "model": "store-name",
                "options": {"controlnet": "cn"},
                "loras": [{"name": "cn"}],
                "output": {"dir": "out", "name": "out"},
            }
        )
    )
    job = load_job(p)
    assert job.output.name == "out" and Path(job.output.dir) == tmp_path / "out"
    assert job.mapping == {"forest": "deciduous"}
    assert job.model == "store-name"  # no such folder: a model-store name
    assert job.options["controlnet"] == str(tmp_path / "cn") and job.loras[0].name == str(tmp_path / "cn")
