"""Golden outputs: every task and engine, run as a job file through `geogen run` in a subprocess, must write
exactly the pixels (and grid, CRS, nodata, file list) recorded in ``expected.json`` before the engine-registry
refactor (commit 534ae49; see ``record.py`` for how it was recorded and how to re-record).

One test per case (``test_case_unchanged[<case>]``), plus checks that the inputs and the tiny models are
the recorded ones (if those fail, the case failures are about the fixtures, not about geogen). Tags and
result.json fields other than the output list are not compared (engine names in tags may change on purpose).

Run with the checkout under test first on the path, e.g. from the repository root:

    OMP_NUM_THREADS=1 PYTHONHASHSEED=0 .venv/bin/python -m pytest tests/golden -v

Against another checkout (e.g. the old code), from that checkout's folder:
``PYTHONPATH=$PWD /path/to/.venv/bin/python -m pytest /path/to/tests/golden``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
EXPECTED = json.loads((HERE / "expected.json").read_text(encoding="utf-8"))


def _load_cases():
    """``cases.py`` next to this file, by path (works whichever ``tests`` package is importable)."""
    name = "geogen_golden_cases"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / "cases.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


cases = _load_cases()


def differences(want: Any, got: Any, where: str = "") -> list[str]:
    """Every place where ``got`` differs from ``want`` (nested dicts and lists), one line each."""
    if isinstance(want, dict) and isinstance(got, dict):
        out = []
        for key in sorted(set(want) | set(got)):
            here = f"{where}/{key}" if where else str(key)
            if key not in got:
                out.append(f"{here}: missing (expected {json.dumps(want[key])[:200]})")
            elif key not in want:
                out.append(f"{here}: unexpected (got {json.dumps(got[key])[:200]})")
            else:
                out.extend(differences(want[key], got[key], here))
        return out
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        out = []
        for i, (w, g) in enumerate(zip(want, got, strict=True)):
            out.extend(differences(w, g, f"{where}[{i}]"))
        return out
    if want != got or type(want) is not type(got):
        return [f"{where}: expected {json.dumps(want)[:300]}, got {json.dumps(got)[:300]}"]
    return []


@pytest.fixture(scope="session")
def golden(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path], dict[str, Path]]:
    """(work folder, input files, tiny model folders), built once; checks that the job subprocesses import
    the same geogen as this process."""
    work = tmp_path_factory.mktemp("golden").resolve()
    here = (cases.geogen_root() / "geogen" / "__init__.py").resolve()
    child = cases.subprocess_geogen(work / "probe_home", work)
    print(f"\ngolden: geogen under test {here}; job runs import {child}")
    assert Path(child) == here, f"the job subprocesses import {child}, this process {here}"
    inputs = cases.prepare_inputs(work / "inputs")
    models = cases.build_models(work / "models")
    return work, inputs, models


def test_case_list_is_the_recorded_one() -> None:
    assert list(cases.CASES) == list(EXPECTED["cases"]), "cases.py and expected.json disagree: re-record"


def test_inputs_are_the_recorded_ones(golden) -> None:
    _, inputs, _ = golden
    problems = differences(EXPECTED["inputs"], cases.input_hashes(inputs))
    assert not problems, "the input files differ from the recorded ones:\n" + "\n".join(problems)


def test_tiny_models_are_the_recorded_ones(golden) -> None:
    _, _, models = golden
    problems = differences(EXPECTED["models"], cases.model_hashes(models))
    assert not problems, "tests.tiny_models built other weights than recorded:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", list(EXPECTED["cases"]))
def test_case_unchanged(name: str, golden) -> None:
    work, inputs, models = golden
    recorded = EXPECTED["cases"][name]
    case_dir = work / "cases" / name
    job = cases.portable_job(cases.CASES[name](case_dir, inputs, models), work)
    assert job == recorded["job"], f"case {name}: cases.py builds another job than recorded: re-record"
    got = cases.run_case(name, case_dir, inputs, models)
    problems = differences({k: recorded[k] for k in ("outputs", "files")}, got)
    assert not problems, (
        f"case {name}: outputs differ from the golden record ({len(problems)} difference(s); "
        f"job folder {case_dir}):\n" + "\n".join(problems)
    )
    _check_engine_names(job, case_dir / "out")


def _check_engine_names(job: dict[str, Any], out_dir: Path) -> None:
    """One engine name everywhere: the registry's canonical name (aliases resolved) in result.json and in the
    GEOGEN_ENGINE tag of every GeoTIFF written (before the refactor, superres said `diffusionsat` in
    result.json but `diffusionsat-sr` in its tags)."""
    import rasterio

    from geogen.engines.registry import get_engine
    from geogen.spec.migrate import migrate

    upgraded = migrate(job)
    name = get_engine(upgraded["task"], upgraded.get("engine")).name
    result = json.loads((out_dir / "result.json").read_text(encoding="utf-8"))
    assert result["engine"] == name
    made = [o for o in result["outputs"] if o["kind"] != "observed"]  # observed frames say "coregister"
    assert made
    for output in made:
        with rasterio.open(output["path"]) as ds:
            assert ds.tags().get("GEOGEN_ENGINE") == name, output["path"]
