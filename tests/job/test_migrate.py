"""Job files of spec v1 keep working: upgraded to v2 before validation, same pixels (tests/golden runs v1 files)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from geogen.errors import JobSpecError
from geogen.spec import SPEC_VERSION, job_to_dict, json_schema, load_job, parse_job
from geogen.spec.migrate import migrate

V1_SR = {
    "version": 1,
    "task": "superres",
    "engine": "diffusionsat",
    "input": "/d/S2.SAFE",
    "output": {"dir": "/o"},
}


def test_current_version_is_2() -> None:
    assert SPEC_VERSION == 2


def test_v1_superres_diffusionsat_becomes_diffusionsat_sr() -> None:
    job = parse_job(V1_SR)
    assert job.version == 2 and job.engine == "diffusionsat-sr"
    jsonschema.validate(job_to_dict(job), json_schema())


def test_v1_names_of_other_tasks_are_kept() -> None:
    text = {
        "version": 1,
        "task": "text",
        "engine": "diffusionsat",
        "prompt": "farmland",
        "gsd": 1.0,
        "aoi": {"bounds": [0, 0, 1, 1], "crs": "EPSG:4326"},
        "output": {"dir": "/o"},
    }
    assert parse_job(text).engine == "diffusionsat"


def test_a_v1_job_file_loads_with_its_paths(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    path.write_text(json.dumps({**V1_SR, "input": "in/S2.SAFE", "output": {"dir": "out"}}), encoding="utf-8")
    job = load_job(path)
    assert job.engine == "diffusionsat-sr"
    assert Path(job.input) == tmp_path / "in" / "S2.SAFE"  # type: ignore[union-attr]


def test_migrate_leaves_its_input_alone() -> None:
    data = dict(V1_SR)
    migrate(data)
    assert data == V1_SR


def test_a_job_without_version_is_current() -> None:
    assert migrate({"task": "superres"}) == {"task": "superres"}


@pytest.mark.parametrize("version", [3, 0, "1", True, 1.5])
def test_unknown_versions_are_refused(version: object) -> None:
    with pytest.raises(
        JobSpecError, match=r"job spec version .* is not supported \(this geogen reads versions 1 to 2\)"
    ):
        migrate({"task": "superres", "version": version})


def test_the_alias_is_accepted_in_v2_and_the_canonical_name_is_reported() -> None:
    from geogen.engines.registry import get_engine

    assert get_engine("superres", "diffusionsat") is get_engine("superres", "diffusionsat-sr")
    assert get_engine("superres", "diffusionsat").name == "diffusionsat-sr"


def test_the_plugin_writes_the_current_version() -> None:
    """The QGIS plugin builds job dicts without importing geogen: its version constant must follow the spec's."""
    import re

    plugin_job = Path(__file__).resolve().parents[2] / "qgis_plugin" / "common" / "job.py"
    found = re.search(r"^SPEC_VERSION = (\d+)", plugin_job.read_text(encoding="utf-8"), re.M)
    assert found is not None and int(found.group(1)) == SPEC_VERSION
