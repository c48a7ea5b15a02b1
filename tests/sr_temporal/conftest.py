"""Fixtures: the tiny DiffusionSat pipeline and 3-D ControlNet of the temporal tests, the real Slovenian L1C
series, an area of 12 x 12 of its 10 m pixels, and a spy recording what the 3-D ControlNet is called with."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import rasterio
import torch
from affine import Affine

from tests.store_fixture import _empty_store  # noqa: F401 (autouse fixture)
from tests.temporal.conftest import SLOVENIA_DATES
from tests.tiny_models import build_temporal_models

AOI_PIXELS = (20, 20, 12, 12)  # col, row, width, height of the area in the series' ~10 m grid
MARGIN_M = 1.0  # the area's bounds sit this far inside its pixels' edges


@pytest.fixture(scope="session")
def sr_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(tiny DiffusionSat pipeline folder, tiny 3-D ControlNet folder)."""
    return build_temporal_models(tmp_path_factory.mktemp("sr_temporal_models"))


@pytest.fixture(scope="session")
def series(slovenia: Path) -> dict[dt.date, Path]:
    """The four Slovenian L1C stacks by acquisition date (2015-07-11, -07-31, -08-20, -08-30)."""
    files = {
        dt.date(int(d[:4]), int(d[4:6]), int(d[6:])): slovenia / f"S2L1C_slovenia_{d}_13band_refl.tif"
        for d in SLOVENIA_DATES
    }
    missing = [f for f in files.values() if not f.is_file()]
    assert not missing, f"Slovenian L1C series not found: {missing[0]}"
    return files


@pytest.fixture(scope="session")
def aoi(series: dict[dt.date, Path]) -> tuple[tuple[float, float, float, float], Affine]:
    """(bounds of 12 x 12 input pixels, shrunk by ``MARGIN_M``; the 4x finer transform of those pixels)."""
    with rasterio.open(next(iter(series.values()))) as ds:
        t = ds.transform
    col, row, w, h = AOI_PIXELS
    left, top = t * (col, row)
    right, bottom = t * (col + w, row + h)
    bounds = (left + MARGIN_M, bottom + MARGIN_M, right - MARGIN_M, top - MARGIN_M)
    return bounds, Affine(t.a / 4, 0.0, left, 0.0, t.e / 4, top)


class ControlNetCalls(list):
    """The keyword inputs of every call of the 3-D ControlNet a pipeline loads (tensors cloned), and how many
    times one was loaded."""

    loaded = 0

    def attach(self, module: torch.nn.Module) -> torch.nn.Module:
        def record(_: torch.nn.Module, args: tuple, kwargs: dict[str, Any]) -> None:
            self.append({k: v.detach().clone() if torch.is_tensor(v) else v for k, v in kwargs.items()})

        module.register_forward_pre_hook(record, with_kwargs=True)
        return module


def spy_controlnet(monkeypatch: pytest.MonkeyPatch) -> ControlNetCalls:
    """Record the calls of the real 3-D ControlNet the pipeline loads (a forward pre-hook, no stand-in)."""
    import geogen.engines.temporal_controlnet.loading as generation

    calls = ControlNetCalls()
    real = generation.load_controlnet_3d

    def load(*args: Any, **kwargs: Any) -> torch.nn.Module:
        calls.loaded += 1
        return calls.attach(real(*args, **kwargs))

    monkeypatch.setattr(generation, "load_controlnet_3d", load)
    return calls
