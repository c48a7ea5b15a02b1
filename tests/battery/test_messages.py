"""Battery, cluster E (issue 10): messages that say what happened, against the real CLI.

Items 12 (warnings reach stderr, the JSON-lines stream and result.json in every progress mode; degenerate
outputs warn), 15 (library warnings never print before the one-line error; control characters in a prompt
survive in the provenance tags) and 16 (messages that misled an analyst). Every CLI case is one row (name,
setup, command arguments, expected exit code, message fragment, files left in ``{tmp}/out``) run in a
subprocess of ``python -m geogen.cli.main``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio

REPO = Path(__file__).resolve().parents[2]
SAMPLE_S2 = REPO / "geogen" / "data" / "sample_s2" / "S2A_MSIL2A_20170613T101031_87_48"
NAIP = next((REPO / "tests" / "data" / "naip_nd_timeseries").glob("*.tif"))

Setup = Callable[[Path], None]


def _nothing(tmp: Path) -> None:
    pass


def _out_folder(tmp: Path) -> None:
    (tmp / "out").mkdir()


def _saturated_corner(tmp: Path) -> None:
    """The sample with its top-left sixth at 65535 in every band: the output saturates there."""
    dst = tmp / "s2"
    shutil.copytree(SAMPLE_S2, dst)
    for f in dst.glob("*_B*.tif"):
        with rasterio.open(f, "r+") as ds:
            a = ds.read()
            n = max(1, ds.height // 6)
            a[:, :n, :n] = 65535
            ds.write(a)


def _not_georeferenced(tmp: Path) -> None:
    """A class raster with no CRS and no transform (rasterio warns NotGeoreferencedWarning on opening it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(
            tmp / "nogeo.tif", "w", driver="GTiff", width=64, height=64, count=1, dtype="uint8"
        ) as ds:
            ds.write(np.ones((1, 64, 64), np.uint8))


def _two_layer_gpkg(tmp: Path) -> None:
    import fiona
    from shapely.geometry import box, mapping

    with rasterio.open(next(SAMPLE_S2.glob("*_B02.tif"))) as ds:
        b, crs = ds.bounds, ds.crs.to_wkt()
    schema = {"geometry": "Polygon", "properties": {"id": "int"}}
    for layer in ("fields", "roads"):
        with fiona.open(tmp / "two.gpkg", "w", driver="GPKG", layer=layer, crs_wkt=crs, schema=schema) as dst:
            dst.write({"geometry": mapping(box(b.left, b.bottom, b.right, b.top)), "properties": {"id": 1}})


def _job_done_once(tmp: Path) -> None:
    job = {"task": "superres", "input": str(SAMPLE_S2), "output": {"dir": str(tmp / "out"), "name": "o"}}
    (tmp / "job.json").write_text(json.dumps(job), encoding="utf-8")
    r = _cli(["run", str(tmp / "job.json"), "--progress", "none"])
    assert r.returncode == 0, r.stderr


S2 = str(SAMPLE_S2)
OUT = "{tmp}/out/o.tif"

CASES: list[tuple[str, Setup, list[str], int, str, set[str]]] = [
    # item 16: messages that mislead
    (
        "aoi with two numbers",
        _nothing,
        ["superres", S2, "-o", OUT, "--aoi", "5,45"],
        2,
        "expected 4 numbers",
        set(),
    ),
    (
        "aoi with one number",
        _nothing,
        ["superres", S2, "-o", OUT, "--aoi", "5"],
        2,
        "expected 4 numbers",
        set(),
    ),
    ("output is a folder", _out_folder, ["superres", S2, "-o", "{tmp}/out"], 2, "is a folder", set()),
    (
        "tile limit names the flag",
        _nothing,
        ["superres", S2, "-o", OUT, "--max-tiles", "1", "-O", "tile=64"],
        2,
        "--max-tiles",
        set(),
    ),
    (
        "tile limit in sketch names the flag",
        _nothing,
        [
            "sketch",
            str(REPO / "tests/data/flair1_aerial_masks/MSK_067998.tif"),
            "-o",
            OUT,
            "--max-tiles",
            "1",
            "--gsd",
            "0.05",
        ],
        2,
        "--max-tiles",
        set(),
    ),
    (
        "rerun of a job file",
        _job_done_once,
        ["run", "{tmp}/job.json"],
        2,
        '"overwrite": true',
        {"o.tif", "result.json"},
    ),
    (
        "rerun on the command line",
        _job_done_once,
        ["superres", S2, "-o", OUT],
        2,
        "--overwrite",
        {"o.tif", "result.json"},
    ),
    (
        "two-layer GeoPackage",
        _two_layer_gpkg,
        ["superres", S2, "-o", OUT, "--aoi", "{tmp}/two.gpkg"],
        2,
        "has 2 layers (fields, roads)",
        set(),
    ),
    (
        "degrees per pixel",
        _nothing,
        ["superres", S2, "-o", OUT, "--out-crs", "EPSG:4326"],
        0,
        "deg/px",
        {"o.tif", "o.result.json"},
    ),
    ("metres per pixel", _nothing, ["superres", S2, "-o", OUT], 0, "at 10 m/px", {"o.tif", "o.result.json"}),
    (
        "nothing to sharpen",
        _nothing,
        ["superres", S2, "-o", OUT, "--bands", "B02,B03"],
        0,
        "nothing to sharpen",
        {"o.tif", "o.result.json"},
    ),
    (
        "sharpened when it was",
        _nothing,
        ["superres", S2, "-o", OUT, "--bands", "B02,B05"],
        0,
        "sharpened to 10 m",
        {"o.tif", "o.result.json"},
    ),
    (
        "temporal names every missing model, leaves no empty folder",
        _nothing,
        [
            "temporal",
            str(NAIP),
            "--dates",
            "2020-01-01",
            "--target-date",
            "2021-06-01",
            "--model",
            "nope1",
            "--controlnet",
            "nope2",
            "-o",
            "{tmp}/out",
        ],
        2,
        "'nope2'",
        set(),
    ),
    # item 12: warnings in every progress mode
    (
        "saturation warns (none)",
        _saturated_corner,
        ["superres", "{tmp}/s2", "-o", OUT, "--progress", "none"],
        0,
        "warning: ",
        {"o.tif", "o.result.json"},
    ),
    (
        "saturation warns (auto, not a tty)",
        _saturated_corner,
        ["superres", "{tmp}/s2", "-o", OUT, "--progress", "auto"],
        0,
        "saturated at 65535",
        {"o.tif", "o.result.json"},
    ),
    (
        "saturation warns (bar)",
        _saturated_corner,
        ["superres", "{tmp}/s2", "-o", OUT, "--progress", "bar"],
        0,
        "saturated at 65535",
        {"o.tif", "o.result.json"},
    ),
    (
        "saturation warns (jsonl)",
        _saturated_corner,
        ["superres", "{tmp}/s2", "-o", OUT, "--progress", "jsonl"],
        0,
        "saturated at 65535",
        {"o.tif", "o.result.json"},
    ),
    # item 15: a library's warning never precedes the one-line error
    (
        "not georeferenced, sketch",
        _not_georeferenced,
        ["sketch", "{tmp}/nogeo.tif", "-o", OUT],
        2,
        "no CRS",
        set(),
    ),
    (
        "not georeferenced, eval",
        _not_georeferenced,
        ["eval", "compare", "{tmp}/nogeo.tif", "{tmp}/nogeo.tif"],
        2,
        "no CRS",
        set(),
    ),
]


def _cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    e = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    e.pop("PYTHONWARNINGS", None)
    return subprocess.run(
        [sys.executable, "-m", "geogen.cli.main", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        env=e,
    )


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


@pytest.mark.parametrize(
    ("name", "setup", "args", "code", "fragment", "left"), CASES, ids=[c[0] for c in CASES]
)
def test_message_case(
    tmp_path: Path, name: str, setup: Setup, args: list[str], code: int, fragment: str, left: set[str]
) -> None:
    setup(tmp_path)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--progress" not in argv and argv[0] != "eval":
        argv += ["--progress", "none"]
    r = _cli(argv, {"GEOGEN_HOME": str(tmp_path / "home")})
    assert r.returncode == code, (r.stdout, r.stderr)
    assert fragment in r.stdout + r.stderr, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    if code:
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("geogen: error: "), r.stderr  # nothing before it
    assert _files(tmp_path / "out") == left


def test_warnings_reach_every_channel(tmp_path: Path) -> None:
    """jsonl: a warning log event on stdout, a warning line on stderr, the record's warnings list."""
    _saturated_corner(tmp_path)
    r = _cli(["superres", str(tmp_path / "s2"), "-o", str(tmp_path / "o.tif"), "--progress", "jsonl"])
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    logged = [e["message"] for e in events if e["type"] == "log" and e["level"] == "warning"]
    assert any("saturated" in m for m in logged)
    assert any(line.startswith("warning: ") and "saturated" in line for line in r.stderr.splitlines())
    record = json.loads((tmp_path / "o.result.json").read_text(encoding="utf-8"))
    assert any("saturated" in w for w in record["warnings"])
    assert events[-1]["type"] == "result" and record["warnings"] == events[-1]["result"]["warnings"]


def test_library_warnings_are_held_then_reported(capsys: pytest.CaptureFixture[str]) -> None:
    """In-process: a Python warning raised during a job goes to result's warnings (success) or nowhere (error)."""
    import click

    from geogen.cli.execute import execute
    from geogen.errors import RasterError

    def failing(reporter, token):  # type: ignore[no-untyped-def]
        warnings.warn("Dataset has no geotransform", UserWarning, stacklevel=1)
        raise RasterError("raster has no CRS: x.tif")

    with pytest.raises(SystemExit) as exc:
        execute(failing, "none")
    assert exc.value.code == 2
    assert capsys.readouterr().err == "geogen: error: raster has no CRS: x.tif\n"

    from geogen.progress import NullReporter, capture_library_warnings

    rep = NullReporter()
    held: list[str] = []
    with capture_library_warnings(held, rep.warnings.append):
        warnings.warn("invalid value encountered in intersection", RuntimeWarning, stacklevel=1)
        warnings.warn("invalid value encountered in intersection", RuntimeWarning, stacklevel=1)
    assert held == rep.warnings == ["RuntimeWarning: invalid value encountered in intersection"]
    assert capsys.readouterr().err == ""
    del click


@pytest.mark.parametrize(
    "prompt",
    [
        "a NUL\x00in the middle",
        "bell\x07, escape\x1b[31m, CR\r, DEL\x7f, C1\x85",
        "a\\u0000 literal and \x00 one",
        "é\n\ttab",
    ],
)
def test_control_characters_in_a_prompt_survive_in_the_tags(tmp_path: Path, prompt: str) -> None:
    from affine import Affine

    from geogen.io.geotiff import GeoTIFFWriter
    from geogen.io.tags import provenance_tags, read_tags
    from tiles import Grid

    grid = Grid(8, 8, Affine(10, 0, 500000, 0, -10, 5000000), "EPSG:32633")
    tags = provenance_tags(engine="test", prompt=prompt, seed=1)
    assert "\x00" not in "".join(tags.values())
    with GeoTIFFWriter(tmp_path / "o.tif", grid, 1, "uint8", tags=tags) as w:
        w.write(grid.full_window, np.ones((1, 8, 8), np.uint8))
    with rasterio.open(tmp_path / "o.tif") as ds:
        back = read_tags(ds.tags())
    assert back["GEOGEN_PROMPT"] == prompt
    assert back["GEOGEN_SYNTHETIC"] == "YES"
