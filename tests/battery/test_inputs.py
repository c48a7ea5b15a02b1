"""Battery, cluster B (issue 10): hostile and edge inputs against the real CLI.

Items 5 (decompression bombs), 6 (corrupt inputs; not eval), 9 (edge job files and paths), 10 (output names with
spaces and accents), 11 (antimeridian), 12 (degenerate inputs) and the "hostile files" rules: every case is one
row (name, setup, command arguments, expected exit code, message fragment, files expected in the output folder
afterwards), run in a subprocess of ``python -m geogen.cli.main``. The OS limits that cannot be produced for real
here (disk full, a read-only or forbidden folder: the tests may run as root) are simulated in-process.

No case is timed: a size check is shown to come from the header by making the declared pixels unreadable (the
data is truncated away, or a VRT points at a missing file), so any pixel read would fail with another message.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from rasterio.transform import from_origin

REPO = Path(__file__).resolve().parents[2]
SAMPLE_S2 = REPO / "geogen" / "data" / "sample_s2" / "S2A_MSIL2A_20170613T101031_87_48"
MASK = REPO / "tests" / "data" / "flair1_aerial_masks" / "MSK_067998.tif"
GPKG = REPO / "tests" / "data" / "s2_l1c_slovenia_eolearn" / "LULC_polygons_MKGP_RABA.gpkg"
LONG = "x" * 300  # longer than any file system allows for one name (255)

Setup = Callable[[Path], None]


# --- inputs made in tmp_path ---------------------------------------------------------------------------------


def _truncate(path: Path, keep: float | int) -> None:
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.truncate(int(size * keep) if isinstance(keep, float) else size - keep)


def _s2_copy(tmp: Path) -> Path:
    dst = tmp / "s2"
    shutil.copytree(SAMPLE_S2, dst)
    return dst


def _s2_band(folder: Path, band: str) -> Path:
    return next(folder.glob(f"*_{band}.tif"))


def _truncated_strip_band(tmp: Path) -> None:
    _truncate(_s2_band(_s2_copy(tmp), "B02"), 0.5)


def _truncated_cog_band(tmp: Path) -> None:
    """Bands as COGs (header first), one cut in its pixel data: it opens, its pixels do not read."""
    dst = tmp / "s2"
    dst.mkdir()
    for f in SAMPLE_S2.glob("*_B*.tif"):
        rasterio.shutil.copy(f, dst / f.name, driver="COG", compress="DEFLATE", blocksize=64)
    _truncate(_s2_band(dst, "B04"), 2 / 3)


def _garbage_band(tmp: Path) -> None:
    band = _s2_band(_s2_copy(tmp), "B03")
    band.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())


def _garbage_zip(tmp: Path) -> None:
    (tmp / "S2A_MSIL2A_X.zip").write_bytes(b"PK\x03\x04" + b"\0" * 100)


def _bomb(
    path: Path, dtype: str, *, crs: str, origin: tuple[float, float], res: float, truncate: bool
) -> None:
    """A ~2 MB GeoTIFF declaring 200000 x 200000 px (sparse: one tile written); ``truncate`` cuts that tile
    away, so the header reads but no pixel does."""
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=200_000,
        height=200_000,
        count=1,
        dtype=dtype,
        crs=crs,
        transform=from_origin(*origin, res, res),
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
        sparse_ok=True,
        bigtiff="YES",
        nodata=0,
    ) as ds:
        ds.write(np.full((512, 512), 3, dtype), 1, window=((0, 512), (0, 512)))
    if truncate:
        _truncate(path, 100)


def _class_bomb(tmp: Path) -> None:
    _bomb(tmp / "bomb.tif", "uint8", crs="EPSG:2154", origin=(600000, 6800000), res=0.2, truncate=True)


def _class_bomb_intact(tmp: Path) -> None:
    _bomb(tmp / "bomb.tif", "uint8", crs="EPSG:2154", origin=(600000, 6800000), res=0.2, truncate=False)


def _class_bomb_vrt(tmp: Path) -> None:
    (tmp / "bomb.vrt").write_text(
        '<VRTDataset rasterXSize="200000" rasterYSize="200000"><SRS>EPSG:2154</SRS>'
        "<GeoTransform>600000, 0.2, 0, 6800000, 0, -0.2</GeoTransform>"
        '<VRTRasterBand dataType="Byte" band="1"><SimpleSource>'
        '<SourceFilename relativeToVRT="1">missing.tif</SourceFilename><SourceBand>1</SourceBand>'
        "</SimpleSource></VRTRasterBand></VRTDataset>",
        encoding="utf-8",
    )


def _s2_bomb(tmp: Path) -> None:
    (tmp / "s2").mkdir()
    _bomb(
        tmp / "s2" / "T_B02.tif", "uint16", crs="EPSG:32633", origin=(400000, 5400000), res=10, truncate=True
    )


def _truncated_cog_mask(tmp: Path) -> None:
    rasterio.shutil.copy(MASK, tmp / "mask.tif", driver="COG", compress="DEFLATE", blocksize=256)
    _truncate(tmp / "mask.tif", 0.5)


def _garbage_mask(tmp: Path) -> None:
    (tmp / "mask.tif").write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())


def _truncated_gpkg(tmp: Path) -> None:
    shutil.copy(GPKG, tmp / "lc.gpkg")
    _truncate(tmp / "lc.gpkg", 0.5)


def _s2_stack(tmp: Path, name: str, fill: Callable[[np.ndarray], np.ndarray], dtype: str = "float32") -> None:
    """A 4-band 10 m stack (band descriptions B02..B08) from the sample, its values passed through ``fill``."""
    bands = ["B02", "B03", "B04", "B08"]
    with rasterio.open(_s2_band(SAMPLE_S2, "B02")) as ds:
        profile = ds.profile
    profile.update(count=4, dtype=dtype, nodata=None)
    with rasterio.open(tmp / name, "w", **profile) as dst:
        for i, b in enumerate(bands, start=1):
            with rasterio.open(_s2_band(SAMPLE_S2, b)) as src:
                dst.write(fill(src.read(1)).astype(dtype), i)
            dst.set_band_description(i, b)


def _all_nan(tmp: Path) -> None:
    _s2_stack(tmp, "stack.tif", lambda a: np.full(a.shape, np.nan))


def _all_zero(tmp: Path) -> None:
    _s2_stack(tmp, "stack.tif", lambda a: np.zeros(a.shape), "uint16")


def _times_1e30(tmp: Path) -> None:
    _s2_stack(tmp, "stack.tif", lambda a: a.astype(np.float32) * np.float32(1e30))


def _some_saturated(tmp: Path) -> None:
    def fill(a: np.ndarray) -> np.ndarray:
        a = a.copy()
        a[:12] = 65535  # 10 % of the rows at the top of the uint16 range
        return a

    _s2_stack(tmp, "stack.tif", fill, "uint16")


def _antimeridian_scene(tmp: Path) -> None:
    """The sample's pixels placed in UTM zone 60 across 180 degrees of longitude (x ~ 834 km at 0 N)."""
    with rasterio.open(_s2_band(SAMPLE_S2, "B02")) as ds:
        profile = ds.profile
    profile.update(count=4, crs="EPSG:32660", transform=from_origin(833_500, 100_000, 10, 10))
    with rasterio.open(tmp / "stack.tif", "w", **profile) as dst:
        for i, b in enumerate(["B02", "B03", "B04", "B08"], start=1):
            with rasterio.open(_s2_band(SAMPLE_S2, b)) as src:
                dst.write(src.read(1), i)
            dst.set_band_description(i, b)


def _geojson(tmp: Path, geometry: dict) -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"code": 1}, "geometry": geometry}],
    }
    (tmp / "area.geojson").write_text(json.dumps(fc), encoding="utf-8")


def _polygon_across_180(tmp: Path) -> None:
    _geojson(
        tmp,
        {
            "type": "Polygon",
            "coordinates": [[[179.9, -17], [180.1, -17], [180.1, -16.9], [179.9, -16.9], [179.9, -17]]],
        },
    )


def _polygon_split_at_180(tmp: Path) -> None:
    _geojson(
        tmp,
        {
            "type": "MultiPolygon",
            "coordinates": [
                [[[179.9, -17], [180, -17], [180, -16.9], [179.9, -16.9], [179.9, -17]]],
                [[[-180, -17], [-179.9, -17], [-179.9, -16.9], [-180, -16.9], [-180, -17]]],
            ],
        },
    )


# --- job files --------------------------------------------------------------------------------------------------

_JOB = {"task": "superres", "input": "missing_input", "output": {"dir": "out"}}


def _job_bytes(data: bytes) -> Setup:
    def setup(tmp: Path) -> None:
        (tmp / "job.json").write_bytes(data)

    return setup


def _job_text(text: str, encoding: str, bom: bytes = b"") -> Setup:
    return _job_bytes(bom + text.encode(encoding))


_JOB_TEXT = json.dumps(_JOB)


def _job_with(**output: object) -> Setup:
    return _job_text(
        json.dumps({**_JOB, "input": str(SAMPLE_S2), "output": {"dir": "out", **output}}), "utf-8"
    )


def _huge_job(tmp: Path) -> None:
    with (tmp / "job.json").open("wb") as f:
        f.truncate(17 << 20)  # sparse: refused from its size, never read


def _nothing(tmp: Path) -> None:
    pass


S2 = str(SAMPLE_S2)
NOT_FOUND = "Sentinel-2 input not found"  # a job file that parsed: its input is then looked up

# (name, setup, args ("{tmp}" is the case's folder), exit code, message fragment, files in {tmp}/out afterwards)
CASES: list[tuple[str, Setup, list[str], int, str, set[str]]] = [
    # item 5: sizes checked from headers, before any pixel is read
    ("class raster bomb (tif)", _class_bomb, ["sketch", "{tmp}/bomb.tif", "-o", "{tmp}/out/a.tif"], 2, "declares 200000 x 200000 px", set()),
    ("class raster bomb (vrt)", _class_bomb_vrt, ["sketch", "{tmp}/bomb.vrt", "-o", "{tmp}/out/a.tif"], 2, "declares 200000 x 200000 px", set()),
    ("class raster bomb, area larger than the budget", _class_bomb, ["sketch", "{tmp}/bomb.tif", "-o", "{tmp}/out/a.tif", "--aoi", "600000,6770000,610000,6800000", "--aoi-crs", "EPSG:2154"], 2, "the area of interest in class raster", set()),
    ("class raster bomb, small area reads only there", _class_bomb_intact, ["sketch", "{tmp}/bomb.tif", "-o", "{tmp}/out/a.tif", "--aoi", "600000,6799950,600050,6800000", "--aoi-crs", "EPSG:2154"], 0, "", {"a.tif", "a.result.json"}),
    ("Sentinel-2 band bomb", _s2_bomb, ["superres", "{tmp}/s2", "-o", "{tmp}/out/a.tif"], 2, "declares 200000 x 200000 px", set()),
    # item 6: corrupt and truncated rasters, one line naming the file and GDAL's reason
    ("S2 band truncated (strips)", _truncated_strip_band, ["superres", "{tmp}/s2", "-o", "{tmp}/out/a.tif"], 2, "_B02.tif", set()),
    ("S2 band truncated (COG)", _truncated_cog_band, ["superres", "{tmp}/s2", "-o", "{tmp}/out/a.tif"], 2, "truncated or corrupt", set()),
    ("S2 band of random bytes", _garbage_band, ["superres", "{tmp}/s2", "-o", "{tmp}/out/a.tif"], 2, "_B03.tif as a raster", set()),
    ("S2 zip that is not a zip", _garbage_zip, ["superres", "{tmp}/S2A_MSIL2A_X.zip", "-o", "{tmp}/out/a.tif"], 2, "S2A_MSIL2A_X.zip", set()),
    ("class raster truncated (COG)", _truncated_cog_mask, ["sketch", "{tmp}/mask.tif", "-o", "{tmp}/out/a.tif"], 2, "mask.tif: TIFF", set()),
    ("class raster of random bytes", _garbage_mask, ["sketch", "{tmp}/mask.tif", "-o", "{tmp}/out/a.tif"], 2, "cannot read {tmp}/mask.tif as a raster", set()),
    ("truncated GeoPackage", _truncated_gpkg, ["sketch", "{tmp}/lc.gpkg", "--class-field", "x", "-o", "{tmp}/out/a.tif"], 2, "lc.gpkg", set()),
    # item 9: job files in any common encoding, or failing clearly
    ("job UTF-8", _job_text(_JOB_TEXT, "utf-8"), ["run", "{tmp}/job.json"], 2, NOT_FOUND, set()),
    ("job UTF-8 with BOM", _job_text(_JOB_TEXT, "utf-8", b"\xef\xbb\xbf"), ["run", "{tmp}/job.json"], 2, NOT_FOUND, set()),
    ("job UTF-16 LE with BOM", _job_text(_JOB_TEXT, "utf-16-le", b"\xff\xfe"), ["run", "{tmp}/job.json"], 2, NOT_FOUND, set()),
    ("job UTF-16 BE with BOM", _job_text(_JOB_TEXT, "utf-16-be", b"\xfe\xff"), ["run", "{tmp}/job.json"], 2, NOT_FOUND, set()),
    ("job UTF-16 LE without BOM", _job_text(_JOB_TEXT, "utf-16-le"), ["run", "{tmp}/job.json"], 2, NOT_FOUND, set()),
    ("job Latin-1", _job_text(_JOB_TEXT.replace("missing_input", "d\u00e9j\u00e0"), "latin-1"), ["run", "{tmp}/job.json"], 2, "is not UTF-8 text", set()),
    ("job binary", _job_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256))), ["run", "{tmp}/job.json"], 2, "job.json", set()),
    ("job with NUL bytes", _job_bytes(b'{"task": "superres"\x00\x00\x00}'), ["run", "{tmp}/job.json"], 2, "binary file", set()),
    ("job nested 100000 levels", _job_text("[" * 100_000 + "]" * 100_000, "utf-8"), ["run", "{tmp}/job.json"], 2, "nests arrays/objects too deeply", set()),
    ("job nested 100 levels in options", _job_text(_JOB_TEXT.replace('"superres",', '"superres", "options": {"a": ' + "[" * 100 + "]" * 100 + "},"), "utf-8"), ["run", "{tmp}/job.json"], 2, "too deeply", set()),
    ("job 5000-digit integer", _job_text(_JOB_TEXT.replace('"superres",', '"superres", "seed": ' + "9" * 5000 + ","), "utf-8"), ["run", "{tmp}/job.json"], 2, "5000 digits", set()),
    ("job 25-digit seed", _job_text(_JOB_TEXT.replace('"superres",', '"superres", "seed": ' + "9" * 25 + ","), "utf-8"), ["run", "{tmp}/job.json"], 2, "seed", set()),
    ("job float overflow", _job_text(_JOB_TEXT.replace('"superres",', '"superres", "target_gsd": 1e999,'), "utf-8"), ["run", "{tmp}/job.json"], 2, "too large for a float", set()),
    ("job NaN literal", _job_text(_JOB_TEXT.replace('"superres",', '"superres", "target_gsd": NaN,'), "utf-8"), ["run", "{tmp}/job.json"], 2, "NaN is not a JSON number", set()),
    ("job file of 17 MiB", _huge_job, ["run", "{tmp}/job.json"], 2, "a job file is a small JSON document", set()),
    ("job file name too long", _nothing, ["run", f"{{tmp}}/{LONG}.json"], 2, "file name too long", set()),
    ("input path too long", _nothing, ["superres", f"{{tmp}}/{LONG}", "-o", "{tmp}/out/a.tif"], 2, "file name too long", set()),
    ("output folder name too long", _nothing, ["superres", S2, "-o", f"{{tmp}}/out/{LONG}/a.tif"], 2, "file name too long", set()),
    ("output name too long", _nothing, ["superres", S2, "-o", f"{{tmp}}/out/{LONG}.tif"], 2, "bytes long", set()),
    # item 10: names with spaces and accents where every OS allows them; the rest refused
    ("output name with space and accent", _nothing, ["superres", S2, "-o", "{tmp}/out/sc\u00e8ne 1.tif"], 0, "", {"sc\u00e8ne 1.tif", "sc\u00e8ne 1.result.json"}),
    ("job output name with accents", _job_with(name="\u00e9t\u00e9 2024 (copie)"), ["run", "{tmp}/job.json"], 0, "", {"\u00e9t\u00e9 2024 (copie).tif", "result.json"}),
    ("output name CON", _nothing, ["superres", S2, "-o", "{tmp}/out/CON.tif"], 2, "reserved device name", set()),
    ("output name nul.x", _nothing, ["superres", S2, "-o", "{tmp}/out/nul.x.tif"], 2, "reserved device name", set()),
    ("output name with colon", _nothing, ["superres", S2, "-o", "{tmp}/out/a:b.tif"], 2, "output names cannot hold", set()),
    ("output name ending in a dot", _nothing, ["superres", S2, "-o", "{tmp}/out/a..tif"], 2, "ends in a dot", set()),
    ("job output name with separator", _job_with(name="../evil"), ["run", "{tmp}/job.json"], 2, "path separators", set()),
    ("job output name ..", _job_with(name=".."), ["run", "{tmp}/job.json"], 2, "is not a file name", set()),
    ("job output name with control character", _job_with(name="a\u0007b"), ["run", "{tmp}/job.json"], 2, "control character U+0007", set()),
    ("job output name ending in a space", _job_with(name="a "), ["run", "{tmp}/job.json"], 2, "ends in a space", set()),
    ("job result name with accents", _job_with(name="r", result="r\u00e9sultat 1.json"), ["run", "{tmp}/job.json"], 0, "", {"r.tif", "r\u00e9sultat 1.json"}),
    ("job result name without .json", _job_with(result="result.txt"), ["run", "{tmp}/job.json"], 2, "must end in .json", set()),
    # item 11: the antimeridian, refused for that reason before any work
    ("bounds across 180", _nothing, ["superres", S2, "-o", "{tmp}/out/a.tif", "--aoi", "179,-10,-179,10"], 2, "antimeridian", set()),
    ("bounds past 180", _nothing, ["sketch", str(MASK), "-o", "{tmp}/out/a.tif", "--aoi", "179.9,-17,180.1,-16.9"], 2, "antimeridian", set()),
    ("polygon across 180", _polygon_across_180, ["sketch", "{tmp}/area.geojson", "--class-field", "code", "--mapping", "{tmp}/map.json", "-o", "{tmp}/out/a.tif"], 2, "antimeridian", set()),
    ("polygon split at 180", _polygon_split_at_180, ["sketch", "{tmp}/area.geojson", "--class-field", "code", "--mapping", "{tmp}/map.json", "-o", "{tmp}/out/a.tif"], 2, "antimeridian", set()),
    ("scene across 180 written in EPSG:4326", _antimeridian_scene, ["superres", "{tmp}/stack.tif", "-o", "{tmp}/out/a.tif", "--out-crs", "EPSG:4326"], 2, "antimeridian", set()),
    ("scene across 180 in its own CRS", _antimeridian_scene, ["superres", "{tmp}/stack.tif", "-o", "{tmp}/out/a.tif"], 0, "", {"a.tif", "a.result.json"}),
    # item 12 (inputs): degenerate stacks
    ("all-NaN stack", _all_nan, ["superres", "{tmp}/stack.tif", "-o", "{tmp}/out/a.tif"], 2, "nothing to sharpen: every pixel of {tmp}/stack.tif is nodata", set()),
    ("all-zero stack", _all_zero, ["superres", "{tmp}/stack.tif", "-o", "{tmp}/out/a.tif"], 2, "nothing to sharpen", set()),
    ("stack x 1e30", _times_1e30, ["superres", "{tmp}/stack.tif", "-o", "{tmp}/out/a.tif"], 2, "saturate at 65535", set()),
    ("stack partly saturated", _some_saturated, ["superres", "{tmp}/stack.tif", "-o", "{tmp}/out/a.tif"], 0, "saturated at 65535", {"a.tif", "a.result.json"}),
]  # fmt: skip


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8"}
    env.pop("GEOGEN_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "geogen.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )


@pytest.mark.parametrize(
    ("name", "setup", "args", "code", "fragment", "left"), CASES, ids=[c[0] for c in CASES]
)
def test_input_case(
    tmp_path: Path, name: str, setup: Setup, args: list[str], code: int, fragment: str, left: set[str]
) -> None:
    (tmp_path / "map.json").write_text('{"1": "building"}', encoding="utf-8")
    setup(tmp_path)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if argv[0] != "run":
        argv += ["--progress", "none"]
    proc = _cli(argv, tmp_path)
    err = proc.stderr
    assert proc.returncode == code, f"{name}: exit {proc.returncode}\n{err}"
    assert "Traceback" not in err and "internal error" not in err, err
    expected = fragment.replace("{tmp}", str(tmp_path))
    if code:
        errors = [line for line in err.splitlines() if line.startswith("geogen: error: ")]
        assert len(errors) == 1, err
        assert errors[0] == err.strip().splitlines()[-1], err  # the error is the last thing printed
        assert expected.lower() in errors[0].lower(), err
    else:
        assert expected in err, err
    out = tmp_path / "out"
    found = {p.name for p in out.iterdir()} if out.is_dir() else set()
    assert found == left, f"{name}: {found}"


# --- OS limits that cannot be produced for real here: simulated in-process -------------------------------------


def _run_in_process(args: list[str]) -> tuple[int, str]:
    from click.testing import CliRunner

    from geogen.cli.main import cli

    result = CliRunner().invoke(cli, [*args, "--progress", "none"])
    return result.exit_code, result.output


def test_disk_full_writing_the_result_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = Path.write_text

    def full(self: Path, *a: object, **k: object) -> int:
        if self.suffix == ".json" and self.parent == tmp_path / "out":
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", full)
    code, output = _run_in_process(["superres", S2, "-o", str(tmp_path / "out" / "a.tif")])
    assert code == 2, output
    assert "geogen: error: cannot write" in output and "no space left" in output.lower(), output
    assert "internal error" not in output
    out = tmp_path / "out"
    assert not out.exists() or not any(p.suffix == ".json" for p in out.iterdir())


@pytest.mark.parametrize(
    ("err", "words"), [(errno.EROFS, "read-only file system"), (errno.EACCES, "permission denied")]
)
def test_output_folder_refused_by_the_os(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, err: int, words: str
) -> None:
    real = Path.mkdir
    target = tmp_path / "locked" / "out"

    def refuse(self: Path, *a: object, **k: object) -> None:
        if self == target:
            raise (PermissionError if err == errno.EACCES else OSError)(err, os.strerror(err), str(self))
        real(self, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", refuse)
    code, output = _run_in_process(["superres", S2, "-o", str(target / "a.tif")])
    assert code == 2, output
    assert str(target) in output and "internal error" not in output, output
    assert words in output.lower() or os.strerror(err).lower() in output.lower(), output


def test_job_file_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job = tmp_path / "job.json"
    job.write_text(_JOB_TEXT, encoding="utf-8")

    def refuse(self: Path) -> bytes:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    from click.testing import CliRunner

    from geogen.cli.main import cli

    result = CliRunner().invoke(cli, ["run", str(job)])
    assert result.exit_code == 2, result.output
    assert f"cannot read job file {job}: permission denied" in result.output
