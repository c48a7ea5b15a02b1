"""`geogen temporal` through the real click group: the dated stack from tiny models, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from geogen.cli.main import cli

AOI = "465400,5079760,465640,5080000"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_temporal_command_writes_the_stack(
    tmp_path: Path, slovenia_series: list[Path], temporal_models: tuple[Path, Path]
) -> None:
    base, cn = temporal_models
    out = tmp_path / "stack"
    result = invoke(
        "temporal",
        str(slovenia_series[0]),
        str(slovenia_series[3]),
        "--dates",
        "auto,2015-08-31",
        "--target-date",
        "2015-07-21",
        "--aoi",
        AOI,
        "--aoi-crs",
        "EPSG:32633",
        "--gsd",
        "10",
        "--model",
        str(base),
        "--controlnet",
        str(cn),
        "--steps",
        "2",
        "--seed",
        "4",
        "--frames",
        "2",
        "--name",
        "slo",
        "-o",
        str(out),
        "--progress",
        "none",
    )
    assert result.exit_code == 0, result.output
    record = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert [(o["date"], o["kind"]) for o in record["outputs"]] == [
        ("2015-07-11", "observed"),
        ("2015-07-21", "generated"),
        ("2015-08-31", "observed"),
    ]
    assert record["extra"]["plan"][0]["conditioning"] == ["2015-07-11", "2015-08-31"]
    assert sorted(p.name for p in out.iterdir()) == [
        "result.json",
        "slo.nc",
        "slo_2015-07-11.tif",
        "slo_2015-07-21.tif",
        "slo_2015-08-31.tif",
    ]
    assert "SYNTHETIC" in result.output and "2015-07-21" in result.output


def test_dates_must_match_the_inputs(tmp_path: Path, slovenia_series: list[Path]) -> None:
    result = invoke(
        "temporal",
        str(slovenia_series[0]),
        "--dates",
        "2015-07-11,2015-07-12",
        "--target-date",
        "2015-07-21",
        "-o",
        str(tmp_path),
    )
    assert result.exit_code == 2 and "give one date per input (1)" in result.output
    result = invoke(
        "temporal",
        str(slovenia_series[0]),
        "--dates",
        "11/07/2015",
        "--target-date",
        "2015-07-21",
        "-o",
        str(tmp_path),
    )
    assert result.exit_code == 2 and "expected a date YYYY-MM-DD" in result.output


def test_user_errors_are_one_line(tmp_path: Path, slovenia_series: list[Path]) -> None:
    result = invoke(
        "temporal",
        str(slovenia_series[0]),
        "--target-date",
        "2015-07-21",
        "-o",
        str(tmp_path),
        "--progress",
        "none",
    )
    assert result.exit_code == 2
    assert result.output.strip().startswith("geogen: error:") and "--model" in result.output
    assert "Traceback" not in result.output


def test_engine_options_reach_the_engine(tmp_path: Path, slovenia_series: list[Path]) -> None:
    args = ["temporal", str(slovenia_series[0]), "--target-date", "2015-07-21", "-o", str(tmp_path)]
    result = invoke(*args, "-O", "compile=1", "--progress", "none")
    assert (
        result.exit_code == 2 and "options.compile: input should be a valid boolean, got 1" in result.output
    )
    result = invoke(*args, "-O", "frames=99", "--progress", "none")
    assert result.exit_code == 2
    assert "options.frames: input should be less than or equal to 16, got 99" in result.output
    result = invoke(*args, "-O", "frames=99", "--frames", "2", "--progress", "none")  # the flag wins
    assert result.exit_code == 2 and "options.frames" not in result.output and "--model" in result.output
