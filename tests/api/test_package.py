"""The package surface: ``import geogen`` stays cheap, every public name loads and is documented, the package is
typed, and an engine registered from outside runs through the API, the job runner and the command line."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import rasterio

import geogen
import geogen.api
from geogen.engines.base import SharpenEngine
from geogen.engines.registry import unregister_engine
from tests.api.helpers import REPO, assert_matches_files, invoke

API_FUNCTIONS = ("run", "superres", "sketch", "text", "temporal")


def test_import_geogen_loads_no_heavy_library() -> None:
    code = (
        "import sys, geogen; heavy = {'torch', 'rasterio', 'numpy', 'pydantic'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_public_names_load_on_first_use() -> None:
    for name in geogen.__all__:
        assert getattr(geogen, name) is not None, name
        assert name in dir(geogen)
    assert geogen.run is geogen.api.run and geogen.superres is geogen.api.superres
    assert geogen.GeogenError.__module__ == "geogen.errors"
    assert {"SharpenEngine", "ClassRenderEngine", "register_engine", "Result"} <= set(geogen.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = geogen.nope  # type: ignore[attr-defined]


def test_the_type_stub_declares_the_public_names() -> None:
    """__init__.pyi (what type checkers read) and the lazy names of __init__.py stay in step."""
    stub = (Path(geogen.__file__).parent / "__init__.pyi").read_text(encoding="utf-8")
    declared = {
        (name, module) for module, name in re.findall(r"^from (\S+) import (\w+) as \2$", stub, flags=re.M)
    }
    assert declared == set(geogen._LAZY.items())  # type: ignore[attr-defined]
    assert set(geogen.__all__) == {*geogen._LAZY, "__version__"}  # type: ignore[attr-defined]


def test_public_functions_are_documented() -> None:
    for name in API_FUNCTIONS:
        doc = inspect.getdoc(getattr(geogen.api, name)) or ""
        for section in ("Args:", "Returns:", "Raises:"):
            assert section in doc, (name, section)
        documented = {
            line.strip().split(":")[0] for line in doc.split("Args:")[1].split("Returns:")[0].splitlines()
        }
        params = set(inspect.signature(getattr(geogen.api, name)).parameters)
        assert params <= documented, (name, params - documented)
    for name in geogen.__all__:
        assert inspect.getdoc(getattr(geogen, name)), name
    assert (Path(geogen.__file__).parent / "py.typed").is_file()


def test_geogen_temporal_is_the_function_after_the_temporal_modules_load() -> None:
    """No subpackage is named like a task function (Python would set ``geogen.<name>`` to the subpackage)."""
    import geogen.pipelines.temporal

    assert geogen.temporal is geogen.api.temporal


class ToySharpen(SharpenEngine):
    """A third-party engine: every band a flat reflectance of 0.1."""

    name: ClassVar[str] = "toy-flat"
    description: ClassVar[str] = "flat reflectance, for tests"

    def fit(self, stack, bands: Sequence[str], progress=None) -> None:  # type: ignore[no-untyped-def]
        if progress is not None:
            progress(1, 1)

    def sharpen(self, stack, window, bands: Sequence[str]):  # type: ignore[no-untyped-def]
        shape = (len(bands), window.height, window.width)
        return np.full(shape, 0.1, np.float32), np.ones(shape[1:], bool)

    def halo(self, factor: int) -> int:
        return 0  # reads nothing around a window


def test_an_engine_missing_a_family_method_is_refused_at_registration() -> None:
    class NoHalo(SharpenEngine):
        name: ClassVar[str] = "no-halo"

        def fit(self, stack, bands: Sequence[str], progress=None) -> None:  # type: ignore[no-untyped-def]
            pass

        def sharpen(self, stack, window, bands: Sequence[str]):  # type: ignore[no-untyped-def]
            raise AssertionError("never run")

    with pytest.raises(
        geogen.errors.EngineError,
        match="superres engine 'no-halo' cannot be registered: it does not implement halo",
    ):
        geogen.register_engine(NoHalo)


@pytest.fixture
def toy_engine():
    geogen.register_engine(ToySharpen)
    yield ToySharpen
    unregister_engine(ToySharpen)


def test_an_engine_registered_from_outside_runs_everywhere(toy_engine, scene: Path, tmp_path: Path) -> None:
    assert toy_engine in geogen.list_engines("superres")
    api = geogen.superres(scene, tmp_path / "api.tif", engine="toy-flat", bands=["B02"], options={"tile": 64})
    assert api.engine == "toy-flat"
    assert_matches_files(api)
    job = geogen.run(
        {
            "task": "superres",
            "engine": "toy-flat",
            "input": str(scene),
            "bands": ["B02"],
            "output": {"dir": str(tmp_path), "name": "job"},
        }
    )
    r = invoke("superres", scene, "-o", tmp_path / "cli.tif", "--engine", "toy-flat", "--bands", "B02")
    assert r.exit_code == 0, r.output
    for path in (api.paths[0], job.paths[0], tmp_path / "cli.tif"):
        with rasterio.open(path) as ds:
            assert ds.tags()["GEOGEN_ENGINE"] == "toy-flat" and set(np.unique(ds.read(1))) == {1000}
    bad = invoke("superres", scene, "-o", tmp_path / "o.tif", "--engine", "toy-flat", "-O", "tile=1")
    assert bad.exit_code == 2 and "options.tile" in bad.stderr


def test_registration_refuses_what_would_break_the_contract() -> None:
    from pydantic import BaseModel

    from geogen.errors import EngineError

    class Nameless(ToySharpen):
        name = ""

    class LooseOptions(BaseModel):
        tile: int = 1024

    class Loose(ToySharpen):
        name: ClassVar[str] = "loose"
        options_model = LooseOptions  # type: ignore[assignment]

    class SecondDefault(ToySharpen):
        name: ClassVar[str] = "second-default"
        default: ClassVar[bool] = True

    with pytest.raises(EngineError, match="has no name"):
        geogen.register_engine(Nameless)
    with pytest.raises(EngineError, match=r"options_model must derive from geogen\.EngineOptions"):
        geogen.register_engine(Loose)
    with pytest.raises(EngineError, match="already is"):
        geogen.register_engine(SecondDefault)
    assert geogen.get_engine("superres").name == "sharpen"
