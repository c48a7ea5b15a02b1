"""Fixtures: a tiny DiffusionSat pipeline and a tiny 3-D ControlNet saved on disk (loaded only through
geogen's own store and loaders), the real Slovenian Sentinel-2 series and a small crop of a real NAIP
frame."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window as RioWindow

from tests.store_fixture import _empty_store  # noqa: F401 (autouse fixture)
from tests.tiny_models import (  # noqa: F401 (the builders are imported from here by the QGIS plugin's tests)
    build_sensitive_diffusionsat,
    build_temporal_models,
    build_tiny_controlnet_3d,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SLOVENIA_DATES = ("20150711", "20150731", "20150820", "20150830")
CLEAR = ("20150711", "20150830")
NAIP_FRAME = "m_4709963_se_14_1_20090818.tif"
# In tests/data's 64 x 64 px crop of the frame (window (384, 284) of the original, see its PROVENANCE.md), so
# window (400, 300, 32, 28) of the original frame.
NAIP_WINDOW = RioWindow(16, 16, 32, 28)
# Inside the Slovenian footprint (EPSG:32633): 40 x 40 px at 10 m.
SLOVENIA_AOI = (465400.0, 5079600.0, 465800.0, 5080000.0)


@pytest.fixture(scope="session")
def temporal_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(tiny DiffusionSat pipeline folder, tiny 3-D ControlNet folder)."""
    return build_temporal_models(tmp_path_factory.mktemp("temporal_models"))


@pytest.fixture(scope="session")
def slovenia_series(slovenia: Path) -> list[Path]:
    files = [slovenia / f"S2L1C_slovenia_{d}_13band_refl.tif" for d in SLOVENIA_DATES]
    missing = [f for f in files if not f.is_file()]
    assert not missing, f"Slovenian L1C series not found: {missing[0]}"
    return files


@pytest.fixture(scope="session")
def naip_crop(test_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 32 x 28 px crop (5 m) of a real NAIP frame, keeping its name (date 2009-08-18), CRS and nodata."""
    src_path = test_data / "naip_nd_timeseries" / NAIP_FRAME
    out = tmp_path_factory.mktemp("naip") / NAIP_FRAME
    win = NAIP_WINDOW
    with rasterio.open(src_path) as src:
        data = src.read(window=win)
        transform = src.transform @ Affine.translation(win.col_off, win.row_off)
        profile = src.profile | {
            "width": win.width,
            "height": win.height,
            "transform": transform,
            "blockxsize": 16,
            "blockysize": 16,
        }
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data)
    assert np.all(data[:3] > 0)
    return out
