"""Helpers of the Python API tests: the command line in process, and a Result checked against its files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rasterio
from click.testing import CliRunner
from click.testing import Result as CliResult

from geogen.api import Result
from geogen.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "geogen" / "data" / "sample_s2"
EXEMPLARS = REPO / "geogen" / "data" / "exemplars"


def invoke(*args: object) -> CliResult:
    """The geogen command line, in process."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def cli_error(result: CliResult) -> str:
    """The one error line a failed command printed, without its ``geogen: error: `` prefix."""
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("geogen: error: "), result.stderr
    return lines[0].removeprefix("geogen: error: ")


def assert_matches_files(result: Result) -> None:
    """Every output exists on the grid its record states, and result.json holds exactly ``result.to_json()``."""
    assert result.paths and all(p.is_file() for p in result.paths)
    for record, path in zip(result.outputs, result.paths, strict=True):
        with rasterio.open(path) as ds:
            assert ds.crs.to_string() == record.crs or ds.crs == rasterio.crs.CRS.from_user_input(record.crs)
            assert (ds.width, ds.height) == (record.width, record.height)
            assert tuple(ds.bounds) == pytest.approx(tuple(record.bounds))
            assert ds.count == len(record.bands) or ds.count == len(record.bands) + 1  # + alpha
    assert result.result_path.is_file()
    assert json.loads(result.result_path.read_text(encoding="utf-8")) == result.to_json()
    assert result.to_json()["outputs"] == [o.to_json() for o in result.outputs]
    assert len(result.spec_hash) == 64 and result.timings["total_s"] >= 0
