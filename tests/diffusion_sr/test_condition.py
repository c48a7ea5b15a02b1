"""The 10-channel condition, checked against a hand computation from the band files of a real patch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine

from geogen.engines.sr_controlnet.canvas import ConditionCanvas
from geogen.engines.sr_controlnet.condition import (
    CONDITION_BANDS,
    FMOW_NORMALISATION,
    read_condition,
    scene_normalisation,
)
from geogen.errors import InputFileError
from geogen.io.sentinel2 import S2Stack, open_s2
from tiles import Window

# DiffusionSat data_util.SentinelNormalize, typed here from their code for the bands checked by hand.
HAND = {
    "B04": (1136.26026392, 965.23119807),
    "B02": (1184.3824625, 650.2842772),
    "B8A": (1972.62420416, 1364.38688993),
    "B12": (1247.91870117, 1087.6020813),
}


def dn(patch: Path, band: str) -> np.ndarray:
    with rasterio.open(next(patch.glob(f"*_{band}.tif"))) as ds:
        return ds.read(1).astype(np.float64)


def by_hand(values: np.ndarray, mean: float, std: float) -> np.ndarray:
    lo, hi = mean - 2 * std, mean + 2 * std
    return np.floor(np.clip((values - lo) / (hi - lo) * 255, 0, 255))


def test_channel_order_is_red_green_blue_then_red_edge_nir_swir() -> None:
    assert CONDITION_BANDS == ("B04", "B03", "B02", "B05", "B06", "B07", "B08", "B8A", "B11", "B12")


def test_prepared_channels_equal_a_hand_computation(patch: Path) -> None:
    window = Window(10, 20, 50, 40)  # 10 m pixels; even offsets so the 20 m bands start on a whole pixel
    with open_s2(patch) as stack:
        channels, valid = read_condition(stack, window, FMOW_NORMALISATION)
    assert channels.dtype == np.uint8 and channels.shape == (10, 40, 50) and valid.all()
    for band, (mean, std) in HAND.items():
        raw = dn(patch, band)
        if band in ("B8A", "B12"):  # 20 m: each pixel covers 2 x 2 output pixels (nearest neighbour)
            raw = np.repeat(np.repeat(raw, 2, axis=0), 2, axis=1)
        expected = by_hand(raw[20:60, 10:60], mean, std)
        assert np.array_equal(channels[CONDITION_BANDS.index(band)], expected), band


def test_scene_statistics_in_strips_equal_numpy(patch: Path) -> None:
    with open_s2(patch) as stack:
        norm = scene_normalisation(stack, rows_per_read=7)  # 7-row strips: many partial merges
    for band in ("B03", "B11"):
        values = dn(patch, band)
        assert norm.mean[band] == pytest.approx(values.mean(), rel=1e-6)  # via float32 reflectance
        assert norm.std[band] == pytest.approx(values.std(), rel=1e-6)
    assert norm.source == "scene"


def test_missing_bands_are_named() -> None:
    from tiles import Grid

    grid = Grid(8, 8, Affine(10, 0, 500000, 0, -10, 5000000), "EPSG:32633")
    stack = S2Stack.from_arrays(
        {b: np.full((8, 8), 0.1, np.float32) for b in ("B02", "B03", "B04", "B08")}, grid
    )
    from geogen.engines.sr_controlnet.condition import check_bands

    with pytest.raises(InputFileError, match="lacks B05, B06, B07, B8A, B11, B12"):
        check_bands(stack)


def test_crops_are_the_training_resize_of_the_footprint(patch: Path) -> None:
    """A window's crop equals torch's bilinear resize (as transforms.Resize) of its 10 m footprint."""
    with open_s2(patch) as stack:
        channels, _ = read_condition(stack, Window(0, 0, 32, 24), FMOW_NORMALISATION)
    # canvas at 2.5 m (x4) over those pixels, condition at 1/2 of the canvas: 64 x 48 condition pixels
    canvas = ConditionCanvas(channels, Affine.scale(0.25), (96, 128), cond_scale=2)
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(channels.astype(np.float32) / 255)[None],
        size=(48, 64),
        mode="bilinear",
        align_corners=False,
        antialias=True,
    )[0]
    assert canvas.shape == (10, 48, 64)
    assert torch.allclose(canvas[..., 0:48, 0:64], expected, atol=1e-6)
    assert torch.allclose(canvas[..., 10:30, 20:52], expected[:, 10:30, 20:52], atol=1e-6)


def test_canvas_from_stack_uses_the_real_neighbours_and_the_grid(patch: Path) -> None:
    with open_s2(patch) as stack:
        footprint = stack.grid[Window(40, 40, 16, 16)]
        canvas = ConditionCanvas.from_stack(stack, footprint.zoom(4), FMOW_NORMALISATION, cond_scale=2)
        channels, _ = read_condition(stack, Window(39, 39, 18, 18), FMOW_NORMALISATION)
    inner = torch.nn.functional.interpolate(
        torch.from_numpy(channels.astype(np.float32) / 255)[None],
        size=(36, 36),
        mode="bilinear",
        align_corners=False,
    )[0][:, 2:-2, 2:-2]
    assert torch.allclose(canvas[..., 0:32, 0:32], inner, atol=1e-6)
