"""The weight-free sharpening engine and its sensor model, scored on real Sentinel-2 stacks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from geogen.engines.sharpen.classical import ClassicalSharpener
from geogen.engines.sharpen.contract import build_sharpener
from geogen.engines.sharpen.scene import expand_window
from geogen.errors import EngineError, OptionsError
from geogen.eval.wald import wald
from geogen.io.sentinel2 import S2Stack, open_s2
from geogen.sensors import mtf
from tests.eval.s2_data import bigearthnet_patches, dsen2_arrays, dsen2_grid, dsen2_stack
from tiles import Grid, Window
from tiles.plan import plan

COARSE_20 = ["B05", "B06", "B07", "B8A", "B11", "B12"]


@pytest.fixture(scope="module")
def patches(test_data: Path) -> list[Path]:
    return bigearthnet_patches(test_data)


def _arrays(stack: S2Stack) -> dict[str, np.ndarray]:
    return {b: stack.read(b, stack.grid.full_window)[0] for b in stack.bands}


@pytest.fixture(scope="module")
def austria_arrays(patches: list[Path]) -> tuple[dict[str, np.ndarray], Grid]:
    with open_s2(next(p for p in patches if "20170613T101031" in p.name)) as stack:
        return _arrays(stack), stack.grid


# --- sensor model -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("factor", [2, 6])
def test_mtf_gain_is_0_3_at_the_coarse_nyquist(factor: int) -> None:
    k = mtf.gaussian_kernel(factor)
    n = np.arange(len(k)) - len(k) // 2
    gain = float((k * np.cos(2 * math.pi * n / (2 * factor))).sum())
    assert gain == pytest.approx(0.3, abs=0.005)


@pytest.mark.parametrize("factor", [2, 6])
def test_degrade_and_upsample_keep_constants_and_corner_alignment(factor: int) -> None:
    const = np.full((36, 24), 0.25, np.float32)
    np.testing.assert_allclose(mtf.degrade(const, factor), 0.25, rtol=1e-6)
    np.testing.assert_allclose(mtf.upsample_cubic(const[::factor, ::factor], factor), 0.25, rtol=1e-6)
    # a ramp along columns: coarse pixel j holds the mean of fine columns factor*j .. factor*j+factor-1
    ramp = np.tile(np.arange(24, dtype=np.float32), (36, 1))
    block = mtf.block_mean(ramp, factor)
    np.testing.assert_allclose(block[0], factor * np.arange(24 // factor) + (factor - 1) / 2)
    up = mtf.upsample_cubic(block, factor)  # cubic reproduces a linear ramp away from the edges
    np.testing.assert_allclose(up[:, 2 * factor : -2 * factor], ramp[:, 2 * factor : -2 * factor], atol=1e-4)


@pytest.mark.parametrize("factor", [2, 6])
def test_projection_makes_any_image_consistent(factor: int, austria_arrays) -> None:
    arrays, _ = austria_arrays
    fine = arrays["B08"]
    coarse = mtf.degrade(arrays["B04"], factor)  # deliberately another band: a large residual to remove
    assert np.abs(mtf.degrade(fine, factor) - coarse).max() > 0.05
    out = mtf.project_consistent(fine, coarse, factor)
    assert np.abs(mtf.degrade(out, factor) - coarse).max() < 1e-4  # under 1 DN


def test_expand_window_snaps_and_clips() -> None:
    assert expand_window(Window(10, 7, 5, 5), (120, 120), 4, 6) == Window(6, 0, 18, 18)
    assert expand_window(Window(100, 100, 20, 20), (120, 120), 30, 6) == Window(66, 66, 54, 54)


# --- Wald's protocol on real scenes -------------------------------------------------------------------------


def test_sharpen_beats_bicubic_on_every_bigearthnet_patch(patches: list[Path]) -> None:
    for patch in patches:
        with open_s2(patch) as stack:
            report = wald(stack, "sharpen", factor=2)
        s, b = report.scores["sharpen"], report.scores["bicubic"]
        assert s.psnr > b.psnr + 5, patch.name
        assert s.sam < b.sam and s.ergas < b.ergas and s.ssim > b.ssim, patch.name
        assert all(s.per_band[x]["psnr"] > b.per_band[x]["psnr"] for x in report.bands), patch.name


def test_dsen2_crop_20m_bands_gain_over_7_db(test_data: Path) -> None:
    report = wald(
        dsen2_stack(test_data), ["sharpen", "bicubic"], factor=2, options={"sharpen": {"method": "glp"}}
    )
    glp = report.scores["sharpen"].psnr
    default = wald(dsen2_stack(test_data), "sharpen", factor=2).scores
    assert default["sharpen"].psnr - default["bicubic"].psnr >= 7.0
    assert default["sharpen"].psnr == pytest.approx(43.9, abs=0.3)  # bench/results/sharpen.md
    assert default["bicubic"].psnr == pytest.approx(33.9, abs=0.3)
    assert default["sharpen"].sam < 0.5 * default["bicubic"].sam
    assert glp >= default["bicubic"].psnr + 7.0


def test_dsen2_crop_60m_bands_factor_6(test_data: Path) -> None:
    report = wald(dsen2_stack(test_data), "sharpen", factor=6)
    assert report.fine_shape == (96, 96) and report.bands == ["B01", "B09"]
    assert report.scores["sharpen"].psnr > report.scores["bicubic"].psnr + 7


def test_consistency_step_improves_wald_scores(test_data: Path) -> None:
    stack = dsen2_stack(test_data)
    rmse = {
        name: wald(stack, "sharpen", options={"sharpen": opts}).scores["sharpen"].rmse
        for name, opts in (("off", {"consistency": False}), ("soft", {}), ("exact", {"consistency_reg": 0.0}))
    }
    assert rmse["exact"] < rmse["soft"] < 0.9 * rmse["off"]


# --- behaviour on a full-resolution real stack --------------------------------------------------------------


def test_output_degrades_back_to_the_input(austria_arrays) -> None:
    arrays, grid = austria_arrays
    stack = S2Stack.from_arrays(arrays, grid)
    bands = ["B01", "B05", "B11", "B12"]
    residual = {}
    for name, consistency, reg in (("exact", True, 0.0), ("soft", True, 0.1), ("off", False, 0.0)):
        engine = ClassicalSharpener(consistency=consistency, consistency_reg=reg)
        engine.fit(stack, bands)
        out, valid = engine.sharpen(stack, grid.full_window, bands)
        assert valid.all() and out.shape == (4, 120, 120)
        residual[name] = np.array(
            [
                np.abs(mtf.degrade(out[i], stack.factor(b)) - arrays[b])
                for i, b in enumerate(bands)
                if stack.factor(b) == 2
            ]
        )
    assert residual["exact"].max() < 1e-4  # exact projection: degrading reproduces the input to < 1 DN
    assert residual["soft"].mean() < 0.5 * residual["off"].mean()  # the default halves plain HPM's drift
    assert residual["off"].max() > 0.01


def test_tiled_equals_untiled_on_a_non_square_scene(test_data: Path) -> None:
    arrays = dsen2_arrays(test_data)
    rows, cols = 312, 438  # multiples of 6, not of any tile size below
    cut = {b: a[: rows * a.shape[0] // 600, : cols * a.shape[1] // 600] for b, a in arrays.items()}
    grid = Grid(cols, rows, dsen2_grid().transform, dsen2_grid().crs)
    stack = S2Stack.from_arrays(cut, grid)
    bands = ["B01", "B04", "B05", "B8A", "B12", "B09"]
    engine = build_sharpener("sharpen")
    engine.fit(stack, bands)
    whole, _ = engine.sharpen(stack, grid.full_window, bands)
    tiled = np.full_like(whole, np.nan)
    for t in plan(grid.shape, (97, 131), 0):
        out, valid = engine.sharpen(stack, t.window, bands)
        assert valid.all()
        tiled[(slice(None), *t.window.slices)] = out
    assert np.abs(tiled - whole).max() < 1e-4
    np.testing.assert_array_equal(whole[1], cut["B04"])  # 10 m bands pass through untouched


def test_nodata_never_leaks_into_neighbours(austria_arrays) -> None:
    arrays, grid = austria_arrays
    valid = {b: np.ones(a.shape, bool) for b, a in arrays.items()}
    valid["B08"][40:60, 40:60] = False  # a hole in a guide band (10 m)
    valid["B11"][10:20, 30:40] = False  # a hole in a 20 m band
    for b, a in arrays.items():  # a swath edge: the left 36 m of every band
        valid[b][:, : 36 // (120 // a.shape[0])] = False
    holed = {b: np.where(valid[b], a, 0).astype(np.float32) for b, a in arrays.items()}
    bands = ["B01", "B05", "B11"]

    def run(stack: S2Stack) -> tuple[np.ndarray, np.ndarray]:
        engine = build_sharpener("sharpen")
        engine.fit(stack, bands)
        return engine.sharpen(stack, grid.full_window, bands)

    intact, _ = run(S2Stack.from_arrays(arrays, grid))
    ours, ours_valid = run(S2Stack.from_arrays(holed, grid, valid=valid))
    naive, _ = run(S2Stack.from_arrays(holed, grid))  # the zeros taken as data
    expected = np.ones((120, 120), bool)
    expected[:, :36] = False
    expected[40:60, 40:60] = False
    for i, b in enumerate(bands):
        f = 120 // arrays[b].shape[0]
        band_ok = expected & np.repeat(np.repeat(valid[b], f, 0), f, 1)
        np.testing.assert_array_equal(ours_valid[i], band_ok)
        ring = band_ok & ndimage.binary_dilation(~band_ok, iterations=6)
        ours_err = np.abs(ours[i] - intact[i])[ring].mean()
        naive_err = np.abs(naive[i] - intact[i])[ring].mean()
        assert ours_err < 0.01 and ours_err < naive_err / 3, b


def test_single_grid_stack_passes_through(test_data: Path) -> None:
    path = test_data / "s2_l1c_slovenia_eolearn" / "S2L1C_slovenia_20150711_13band_refl.tif"
    with open_s2(path) as stack:
        engine = build_sharpener("sharpen")
        engine.fit(stack, ["B05", "B12"])
        out, valid = engine.sharpen(stack, Window(0, 0, 50, 40), ["B05", "B12"])
        np.testing.assert_array_equal(out[1], stack.read("B12", Window(0, 0, 50, 40))[0])
        assert valid.all()


# --- configuration errors -----------------------------------------------------------------------------------


def test_unknown_engine_lists_the_known_ones() -> None:
    with pytest.raises(EngineError, match="known: sharpen, sharpen-cnn, bicubic"):
        build_sharpener("esrgan")
    with pytest.raises(EngineError, match="'diffusionsat-sr' is not a sharpening engine"):
        build_sharpener("diffusionsat")  # a superres engine of another family (here by its former name)


def test_unknown_option_and_method() -> None:
    with pytest.raises(
        OptionsError, match=r"options.sigma: unknown option.*consistency, consistency_reg, method"
    ):
        build_sharpener("sharpen", {"sigma": 2})
    with pytest.raises(OptionsError, match=r"options.method: .*'brovey'"):
        build_sharpener("sharpen", {"method": "brovey"})
    with pytest.raises(OptionsError, match=r"options.consistency_reg: .*11"):
        build_sharpener("sharpen", {"consistency_reg": 11})
    with pytest.raises(OptionsError, match=r"options.consistency: .*'yes'"):
        build_sharpener("sharpen", {"consistency": "yes"})
    with pytest.raises(OptionsError, match=r"options.method: unknown option"):
        build_sharpener("bicubic", {"method": "hpm"})


def test_engines_carry_their_options_and_metadata() -> None:
    engine = build_sharpener("sharpen", {"tile": 256, "consistency_reg": 0})
    assert engine.options.tile == 256 and engine.options.consistency_reg == 0.0
    assert engine.sharpener.consistency_reg == 0.0 and engine.sharpener.method == "hpm"
    bicubic = build_sharpener("bicubic")
    assert bicubic.sharpener.method == "bicubic" and bicubic.sharpener.consistency is False
    assert bicubic.halo(2) < engine.halo(2)
    assert (type(engine).uses_seed, type(bicubic).uses_seed) == (False, False)
    assert type(engine).default and type(engine).seconds_per_window == 1.0
