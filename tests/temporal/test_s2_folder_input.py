"""A Sentinel-2 band folder as the earliest (reference) frame: the stack lands on the folder's 10 m grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio

import geogen
from geogen.api import sample_scene
from geogen.io.sentinel2 import open_s2
from tiles import Window


def test_a_band_folder_as_the_reference_frame(tmp_path: Path) -> None:
    folder = sample_scene()
    result = geogen.temporal([folder], tmp_path / "stack", target_dates=["2017-06-13"])
    (frame,) = result.outputs
    assert frame.kind == "observed" and str(frame.date) == "2017-06-13"
    with open_s2(folder) as stack, rasterio.open(frame.path) as out:
        assert (out.width, out.height) == (stack.grid.width, stack.grid.height)
        assert out.transform == stack.grid.transform and out.crs.to_epsg() == 32633
        red, valid = stack.read("B04", Window(0, 0, stack.grid.width, stack.grid.height))
        assert valid.all() and out.read(4).min() == 255  # every pixel observed: opaque
        # the red channel follows B04 (true colour is a monotone mapping of the reflectance)
        assert np.corrcoef(red.ravel(), out.read(1).ravel().astype(float))[0, 1] > 0.9
