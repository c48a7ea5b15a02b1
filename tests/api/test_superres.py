"""``geogen.superres`` and ``geogen.run`` end to end with the weight-free engine on the bundled sample: the
Result against the files, the same job as the command line, progress, cancellation, and errors."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import rasterio

import geogen
from geogen.errors import CancelledError, EngineError, GeogenError, InputFileError, JobSpecError, OptionsError
from geogen.job.runner import CancelToken
from tests.api.helpers import assert_matches_files, cli_error, invoke


def test_superres_result_matches_its_files(scene: Path, tmp_path: Path) -> None:
    out = tmp_path / "sharp.tif"
    result = geogen.superres(scene, out)
    assert isinstance(result, geogen.Result)
    assert result.task == "superres" and result.engine == "sharpen"
    assert result.paths == [out] and result.result_path == tmp_path / "sharp.result.json"
    assert result.geogen_version == geogen.__version__
    assert_matches_files(result)
    with rasterio.open(scene / f"{scene.name}_B02.tif") as b02, rasterio.open(out) as ds:
        assert ds.crs == b02.crs and ds.transform == b02.transform and ds.shape == b02.shape
        np.testing.assert_array_equal(ds.read(2), b02.read(1))
    assert result.outputs[0].kind == "derived" and not result.outputs[0].synthetic


def test_same_job_as_the_command_line(scene: Path, tmp_path: Path) -> None:
    """The command is a thin wrapper: same arguments, same job (hash), same pixels."""
    cli_out, api_out = tmp_path / "cli" / "s.tif", tmp_path / "api" / "s.tif"
    r = invoke(
        "superres", scene, "-o", cli_out, "--bands", "B02, B05", "--target-gsd", "10",
        "--aoi", "300000,5000000,900000,6000000", "--aoi-crs", "EPSG:32632", "-O", "tile=64", "--seed", "3",
        "--progress", "none",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    cli_record = json.loads((tmp_path / "cli" / "s.result.json").read_text())
    result = geogen.superres(
        scene,
        api_out,
        bands=["B02", "B05"],
        target_gsd=10,
        aoi=(300000, 5000000, 900000, 6000000),
        aoi_crs="EPSG:32632",
        options={"tile": 64},
        seed=3,
    )
    assert result.outputs[0].bands == ["B02", "B05"]
    with rasterio.open(cli_out) as a, rasterio.open(api_out) as b:
        np.testing.assert_array_equal(a.read(), b.read())
    # the jobs differ only by their output folder
    assert result.to_json()["outputs"][0]["bounds"] == cli_record["outputs"][0]["bounds"]
    same_place = geogen.superres(
        scene,
        cli_out,
        bands=["B02", "B05"],
        target_gsd=10.0,
        aoi=(300000, 5000000, 900000, 6000000),
        aoi_crs="EPSG:32632",
        options={"tile": 64},
        seed=3,
        overwrite=True,
    )
    r = invoke(
        "superres", scene, "-o", cli_out, "--bands", "B02,B05", "--target-gsd", "10",
        "--aoi", "300000,5000000,900000,6000000", "--aoi-crs", "EPSG:32632", "-O", "tile=64", "--seed", "3",
        "--overwrite", "--progress", "none",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "cli" / "s.result.json").read_text())["spec_hash"] == same_place.spec_hash


def test_run_a_job_dict_relative_to_the_current_folder(
    scene: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = geogen.run({"task": "superres", "input": str(scene), "output": {"dir": "out", "name": "s"}})
    assert result.paths == [tmp_path / "out" / "s.tif"]
    assert result.result_path == tmp_path / "out" / "result.json"
    assert_matches_files(result)


def test_run_a_job_file_relative_to_its_folder(scene: Path, tmp_path: Path) -> None:
    job = tmp_path / "job" / "job.json"
    job.parent.mkdir()
    job.write_text(
        json.dumps({"task": "superres", "input": str(scene), "output": {"dir": "out", "name": "s"}})
    )
    for given in (job, str(job)):
        result = geogen.run(given)
        assert result.paths == [tmp_path / "job" / "out" / "s.tif"]
        assert_matches_files(result)
        result.paths[0].unlink()
        result.result_path.unlink()  # without overwrite an existing result record is refused too (issue 10)
    parsed = geogen.api.jobs.as_job(job)
    assert geogen.run(parsed).spec_hash == result.spec_hash


def test_progress_callback_sees_every_window(scene: Path, tmp_path: Path) -> None:
    calls: list[tuple[int, int, str]] = []
    geogen.superres(
        scene, tmp_path / "s.tif", options={"tile": 64}, progress=lambda d, t, s: calls.append((d, t, s))
    )
    windows = [(d, t) for d, t, s in calls if s == "sharpen"]
    assert len(windows) == 4 and windows[-1] == (4, 4)
    assert [d for d, _ in windows] == [1, 2, 3, 4] and {t for _, t in windows} == {4}
    for stage in {s for _, _, s in calls}:
        done = [d for d, _, s in calls if s == stage]
        assert done == sorted(done)


@pytest.mark.parametrize("kind", ["token", "event"])
def test_cancel_from_the_callback_stops_the_job_and_leaves_nothing(
    scene: Path, tmp_path: Path, kind: str
) -> None:
    cancel = CancelToken() if kind == "token" else threading.Event()
    calls: list[tuple[int, int, str]] = []

    def progress(done: int, total: int, stage: str) -> None:
        calls.append((done, total, stage))
        if stage == "sharpen" and done == 2:
            cancel.set()

    out = tmp_path / "out" / "c.tif"
    with pytest.raises(CancelledError, match="job cancelled"):
        geogen.superres(scene, out, options={"tile": 64}, progress=progress, cancel=cancel)
    assert calls[-1] == (2, 4, "sharpen")  # stopped at once, not at the next report
    assert not out.exists() and not (tmp_path / "out" / "c.result.json").exists()
    # nothing left: the folder the job created is removed again, or empty
    assert not (tmp_path / "out").exists() or [p.name for p in (tmp_path / "out").iterdir()] == []


def test_cancel_from_another_thread(scene: Path, tmp_path: Path) -> None:
    event = threading.Event()
    started = threading.Event()

    def progress(done: int, total: int, stage: str) -> None:
        started.set()
        assert event.wait(10)  # the other thread cancels while the job runs

    canceller = threading.Thread(target=lambda: started.wait(10) and event.set())
    canceller.start()
    with pytest.raises(CancelledError):
        geogen.superres(scene, tmp_path / "c.tif", progress=progress, cancel=event)
    canceller.join()
    assert not (tmp_path / "c.tif").exists() and not (tmp_path / "c.result.json").exists()


def test_warnings_go_to_the_geogen_logger_and_the_result(
    scene: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    odd = tmp_path / "odd"
    shutil.copytree(scene, odd)
    b05 = next(odd.glob("*_B05.tif"))
    with rasterio.open(b05) as ds:
        profile, data = ds.profile, ds.read()
    with rasterio.open(b05, "w", **(profile | {"dtype": "float32"})) as ds:  # DN stored as float: a warning
        ds.write(data.astype(np.float32))
    with caplog.at_level("INFO", logger="geogen"):
        result = geogen.superres(odd, tmp_path / "w.tif", progress=lambda *a: None)
    assert len(result.warnings) == 1 and "too large for reflectance" in result.warnings[0]
    warned = [r.getMessage() for r in caplog.records if r.name == "geogen" and r.levelname == "WARNING"]
    assert warned == result.warnings
    assert any(r.levelname == "INFO" for r in caplog.records if r.name == "geogen")
    assert json.loads(result.result_path.read_text())["warnings"] == result.warnings


@pytest.mark.parametrize(
    ("kwargs", "flags", "error"),
    [
        ({"output": "a.png"}, ["-o", "a.png"], JobSpecError),
        ({"engine": "magic"}, ["--engine", "magic"], EngineError),
        ({"options": {"tile": 1}}, ["-O", "tile=1"], OptionsError),
        ({"options": {"tiles": 64}}, ["-O", "tiles=64"], OptionsError),
        ({"aoi": (3, 2, 1, 4)}, ["--aoi", "3,2,1,4"], JobSpecError),
        ({"target_gsd": -5}, ["--target-gsd", "-5"], JobSpecError),
        ({"input": "nope"}, [], InputFileError),
    ],
)
def test_bad_arguments_raise_what_the_command_prints(
    scene: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kwargs: dict, flags: list[str], error: type
) -> None:
    monkeypatch.chdir(tmp_path)
    args = {"input": scene, "output": "o.tif", **kwargs}
    with pytest.raises(error) as caught:
        geogen.superres(args.pop("input"), args.pop("output"), **args)
    assert isinstance(caught.value, GeogenError)
    cli_args = [kwargs.get("input", scene), *(flags if "-o" in flags else [*flags, "-o", "o.tif"])]
    r = invoke("superres", *cli_args, "--progress", "none")
    assert r.exit_code == caught.value.exit_code == 2
    assert cli_error(r) == str(caught.value)
    assert not (tmp_path / "o.tif").exists()


def test_bad_progress_or_cancel_types(scene: Path, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="progress must be"):
        geogen.superres(scene, tmp_path / "x.tif", progress=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cancel must be"):
        geogen.superres(scene, tmp_path / "x.tif", cancel=True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="job must be"):
        geogen.run(42)  # type: ignore[arg-type]
