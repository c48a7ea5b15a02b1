"""Exemplar (texture-by-numbers) engine on real FLAIR pairs: shape, determinism, class following, fallbacks,
nodata, tiled synthesis without visible seams, and input errors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import rasterio
from affine import Affine

from geogen.engines.exemplar import (
    ExemplarBank,
    QuiltParams,
    bundled_exemplars,
    load_exemplar,
    make_bank,
    synthesize,
    synthesize_tiled,
    synthesize_window,
)
from geogen.engines.exemplar.bundled import EXEMPLAR_DIR
from geogen.errors import ClassMappingError, EngineError, RasterError
from geogen.landcover import ClassMapping
from tiles.plan import plan


def _pair(folder, flair_id):
    with rasterio.open(folder / f"IMG_{flair_id}_RGB.tif") as src:
        image = src.read()
    with rasterio.open(folder / f"MSK_{flair_id}.tif") as src:
        mask = src.read(1)
    return image, mask


@pytest.fixture(scope="module")
def pairs(test_data):
    folder = test_data / "flair1_aerial_masks"
    return {i: _pair(folder, i) for i in ("067998", "073879", "076201")}


@pytest.fixture(scope="module")
def scene(pairs):
    """Exemplar 073879, and as target its own map transposed (same classes, new layout) with the real image
    at that layout, cropped to 256 x 256."""
    image, mask = pairs["073879"]
    target = np.ascontiguousarray(mask[::-1, :].T[:256, :256])
    real = np.ascontiguousarray(np.transpose(image[:, ::-1, :], (0, 2, 1))[:, :256, :256])
    return image, mask, target, real


@pytest.fixture(scope="module")
def synth(scene):
    image, mask, target, _ = scene
    return synthesize(target, [(image, mask)], seed=7)


def test_shape_dtype_and_no_warning_when_every_class_is_there(scene, synth):
    out, warnings = synth
    assert out.shape == (3, 256, 256) and out.dtype == np.uint8
    assert warnings == []
    assert (out.reshape(3, -1).max(axis=0) > 0).mean() > 0.999


def test_same_seed_same_pixels_other_seed_differs(scene, synth):
    image, mask, target, _ = scene
    again, _ = synthesize(target, [(image, mask)], seed=7)
    np.testing.assert_array_equal(again, synth[0])
    other, _ = synthesize(target, [(image, mask)], seed=8)
    assert (other != synth[0]).any(axis=0).mean() > 0.5


def test_follows_the_class_map(scene, synth):
    image, mask, target, real = scene
    out = synth[0].astype(float)
    for code in np.unique(target):
        where = target == code
        if where.sum() < 5000:
            continue
        out_mean = out[:, where].mean(axis=1)
        # The real image with this very layout: within 8 grey levels per channel.
        assert np.abs(out_mean - real[:, where].mean(axis=1)).max() < 8, code
        # The exemplar's class overall (context shifts it a little: grass next to trees is darker).
        assert np.abs(out_mean - image[:, mask == code].mean(axis=1)).max() < 20, code


def test_missing_class_warns_and_falls_back(scene):
    image, mask, target, _ = scene
    target = target.copy()
    target[64:192, 64:192] = 13  # swimming pool: not in this exemplar
    out, warnings = synthesize(target, [(image, mask)], seed=1)
    assert "the exemplars have no 'swimming pool' (13): using 'pervious surface' (2) in its place" in warnings
    pool_mean = out[:, 64:192, 64:192].reshape(3, -1).mean(axis=1)
    assert np.abs(pool_mean - image[:, mask == 2].mean(axis=1)).max() < 15


def test_nodata_pixels_are_zero_and_others_are_not(scene):
    image, mask, target, _ = scene
    target = target.copy()
    target[:, :100] = 0
    target[200:, :] = 0
    out, _ = synthesize(target, [(image, mask)], seed=2)
    assert not out[:, target == 0].any()
    assert (out[:, target != 0].max(axis=0) > 0).mean() > 0.999


def test_known_pixels_are_kept_outside_the_seam_strips(scene, synth):
    image, mask, target, _ = scene
    known = np.zeros((256, 256), dtype=bool)
    known[:32] = True
    out, _ = synthesize_window(target, [(image, mask)], seed=3, known=(synth[0], known))
    np.testing.assert_array_equal(out[:, :24], synth[0][:, :24])  # above the first patch's 8 px strip
    assert (out[:, 40:] != synth[0][:, 40:]).any(axis=0).mean() > 0.5


def _row_jumps(img):
    return np.abs(np.diff(img.astype(float), axis=1)).mean(axis=(0, 2))


def test_tiled_synthesis_streams_rows_once_without_visible_seams(pairs):
    mask = pairs["076201"][1][:320, :448]
    bank = make_bank(bundled_exemplars(["flair_073879"]), QuiltParams())
    out = np.zeros((3, 320, 448), dtype=np.uint8)
    bands = []

    def sink(window, rgb):
        bands.append((window.row_off, window.height, window.col_off, window.width))
        out[:, window.row_off : window.row_end] = rgb

    def read(window):
        return mask[window.slices]

    warnings = synthesize_tiled(read, mask.shape, bank, seed=0, sink=sink, tile=160, overlap=32)
    assert len(warnings) == len(set(warnings))
    rows = [r for r0, h, c0, w in bands for r in range(r0, r0 + h)]
    assert rows == list(range(320)) and all(c0 == 0 and w == 448 for _, _, c0, w in bands)

    again = np.zeros_like(out)
    synthesize_tiled(
        read,
        mask.shape,
        bank,
        seed=0,
        sink=lambda w, a: again.__setitem__((slice(None), w.slices[0]), a),
        tile=160,
        overlap=32,
    )
    np.testing.assert_array_equal(again, out)

    # Seams are cut like patch seams: no jump at tile borders. Tiles pasted independently show one.
    jumps = _row_jumps(out)
    assert jumps[127:160].max() < 2.3 * np.median(jumps)
    hard = np.zeros_like(out)
    for tile in plan(mask.shape, 160, 32):
        w = tile.window
        hard[(slice(None), *w.slices)], _ = synthesize_window(
            mask[w.slices], bank, seed=0, tile_index=tile.index, origin=(w.row_off, w.col_off)
        )
    hard_jumps = _row_jumps(hard)
    assert hard_jumps[127] > 2.5 * np.median(hard_jumps)


def test_bundled_exemplars_are_flair_pairs_with_attribution():
    pairs = bundled_exemplars()
    assert len(pairs) == 2
    for image, mask in pairs:
        assert image.shape == (3, 512, 512) and image.dtype == np.uint8
        assert mask.shape == (512, 512) and mask.min() >= 1 and mask.max() <= 19
    for folder in EXEMPLAR_DIR.iterdir():
        if folder.is_dir():
            text = (folder / "ATTRIBUTION.md").read_text(encoding="utf-8")
            assert "Licence Ouverte" in text and "Garioud et al." in text


def test_invalid_inputs_raise_clear_errors(scene):
    image, mask, target, _ = scene
    ex = [(image, mask)]
    with pytest.raises(RasterError, match="2-D integer"):
        synthesize(target.astype(float), ex, seed=0)
    with pytest.raises(RasterError, match="at least one exemplar"):
        synthesize(target, [], seed=0)
    with pytest.raises(RasterError, match="smaller than a 32 px patch"):
        synthesize(target, [(image[:, :20, :20], mask[:20, :20])], seed=0)
    with pytest.raises(RasterError, match=r"\(3, h, w\) uint8"):
        synthesize(target, [(image.astype(np.uint16), mask)], seed=0)
    with pytest.raises(EngineError, match="seed"):
        synthesize(target, ex, seed=-1)
    with pytest.raises(EngineError, match="overlap"):
        synthesize(target, ex, seed=0, overlap=20)
    bank = make_bank(ex, QuiltParams())
    with pytest.raises(EngineError, match="built for 32 px patches"):
        synthesize(target, bank, seed=0, patch=16, overlap=4)
    with pytest.raises(EngineError, match="refill"):
        synthesize_window(target, bank, seed=0, params=replace(QuiltParams(), refill_sizes=(4, 8)))


def test_large_exemplar_sets_get_a_coarser_stride():
    pairs = bundled_exemplars()
    assert ExemplarBank.build(pairs).stride == 8
    bank = ExemplarBank.build(pairs, max_positions=2000)
    assert bank.stride == 16 and bank.n_positions <= 2000


def test_user_exemplar_files_with_a_mapping(tmp_path):
    image, mask = bundled_exemplars(["flair_073879"])[0]
    user_codes = np.where(mask == 6, 200, 100).astype(np.uint8)  # 200 = "pines", 100 = everything else
    profile = {
        "driver": "GTiff",
        "width": 512,
        "height": 512,
        "dtype": "uint8",
        "crs": "EPSG:2154",
        "transform": Affine(0.2, 0, 921190.4, 0, -0.2, 6237491.2),
    }
    with rasterio.open(tmp_path / "img.tif", "w", count=3, **profile) as dst:
        dst.write(image)
    with rasterio.open(tmp_path / "cls.tif", "w", count=1, nodata=0, **profile) as dst:
        dst.write(user_codes, 1)
    mapping = ClassMapping.from_dict({"200": "coniferous", "100": "herbaceous vegetation"})
    rgb, codes = load_exemplar(tmp_path / "img.tif", tmp_path / "cls.tif", mapping)
    np.testing.assert_array_equal(rgb, image)
    assert set(np.unique(codes)) == {6, 10} and (codes == 6).sum() == (mask == 6).sum()
    with pytest.raises(ClassMappingError, match="'100', '200'"):
        load_exemplar(tmp_path / "img.tif", tmp_path / "cls.tif")
