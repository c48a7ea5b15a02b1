"""Reading Sentinel-2 stacks: band folders, multi-band GeoTIFFs, .SAFE folders and zips, on real pixels."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from geogen.errors import InputFileError, RasterError
from geogen.io.safe import baseline_at_least, parse_metadata
from geogen.io.sentinel2 import open_s2
from geogen.sensors.sentinel2 import find_band, normalise_band
from tests.eval.s2_data import S2_ORDER_L2A, band_file, bigearthnet_patches, make_safe, write_nominal_dsen2
from tiles import Window


@pytest.fixture(scope="module")
def patches(test_data: Path) -> list[Path]:
    return bigearthnet_patches(test_data)


@pytest.fixture(scope="module")
def austria(patches: list[Path]) -> Path:
    return next(p for p in patches if "20170613T101031" in p.name)


def _dn(patch: Path, band: str) -> np.ndarray:
    with rasterio.open(band_file(patch, band)) as ds:
        return ds.read(1)


# --- band names ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, band",
    [
        ("B2", "B02"),
        ("b02", "B02"),
        ("B8a", "B8A"),
        ("B10", "B10"),
        (" B12 ", "B12"),
        ("B13", None),
        ("B8B", None),
        ("SCL", None),
    ],
)
def test_normalise_band(text: str, band: str | None) -> None:
    assert normalise_band(text) == band


@pytest.mark.parametrize(
    "text, band",
    [
        ("S2A_MSIL2A_20170613T101031_87_48_B8A", "B8A"),
        ("T33UUB_20170527T100031_B02_10m", "B02"),
        ("T33UUB_20170527T100031_B2", "B02"),
        ("s2cloudless_cloud_probability_CLP", None),
        ("T33UUB_20170527T100031_TCI", None),
        ("B04_minus_B08", None),  # two bands: ambiguous
    ],
)
def test_find_band_in_names(text: str, band: str | None) -> None:
    assert find_band(text) == band


# --- (a) per-band folders ----------------------------------------------------------------------------------


def test_bigearthnet_folders_load_on_native_grids(patches: list[Path]) -> None:
    for patch in patches:
        with open_s2(patch) as stack:
            assert stack.bands == S2_ORDER_L2A
            assert stack.grid.shape == (120, 120) and stack.grid.res == (10.0, 10.0)
            for band, size, res, factor in [("B02", 120, 10, 1), ("B05", 60, 20, 2), ("B01", 20, 60, 6)]:
                g = stack.band_grid(band)
                assert (g.width, g.height, g.res[0], stack.factor(band)) == (size, size, res, factor)
                assert g.bounds == stack.grid.bounds
            assert stack.grid.crs.startswith("EPSG:326")


def test_window_reads_native_pixels_as_reflectance(austria: Path) -> None:
    with open_s2(austria) as stack:
        data, valid = stack.read("B05", Window(12, 24, 36, 18))
        assert data.shape == (9, 18) and data.dtype == np.float32 and valid.all()
        np.testing.assert_allclose(data, _dn(austria, "B05")[12:21, 6:24] / 10000, rtol=1e-6)
        data60, _ = stack.read("B09", Window(0, 6, 12, 6))
        np.testing.assert_allclose(data60, _dn(austria, "B09")[1:2, 0:2] / 10000, rtol=1e-6)
        with pytest.raises(ValueError, match="not aligned"):
            stack.read("B05", Window(1, 0, 4, 4))


def test_reads_outside_the_scene_are_invalid(austria: Path) -> None:
    with open_s2(austria) as stack:
        data, valid = stack.read("B02", Window(100, -10, 40, 20))
        assert not valid[:10].any() and not valid[:, 20:].any() and valid[10:, :20].all()
        assert (data[~valid] == 0).all()


def test_dn_zero_is_nodata(austria: Path, tmp_path: Path) -> None:
    folder = tmp_path / austria.name
    shutil.copytree(austria, folder)
    path = band_file(folder, "B11")
    with rasterio.open(path, "r+") as ds:
        dn = ds.read(1)
        dn[10:20, 5:15] = 0
        ds.write(dn, 1)
    with open_s2(folder) as stack:
        data, valid = stack.read("B11", stack.grid.full_window)
    assert not valid[10:20, 5:15].any() and valid.sum() == 3600 - 100
    assert (data[~valid] == 0).all()


def test_band_spelling_b2_reads_as_b02(austria: Path, tmp_path: Path) -> None:
    folder = tmp_path / "short_names"
    folder.mkdir()
    for band in ("B02", "B03", "B04", "B08", "B8A", "B11"):
        short = band.replace("B0", "B")
        shutil.copy(band_file(austria, band), folder / f"patch_{short}.tif")
    with open_s2(folder) as stack:
        assert stack.bands == ("B02", "B03", "B04", "B08", "B8A", "B11")


def test_l2a_image_folder_with_resolution_subfolders(austria: Path, tmp_path: Path) -> None:
    safe = make_safe(austria, tmp_path, baseline="02.05", offset=0)
    img = next(safe.glob("GRANULE/*/IMG_DATA"))
    with open_s2(img) as stack:  # resampled R20m/B02 copy must lose to R10m/B02
        assert stack.bands == S2_ORDER_L2A
        assert stack.band_grid("B02").res == (10.0, 10.0)


# --- (b) multi-band GeoTIFFs -------------------------------------------------------------------------------


def test_slovenia_multiband_loads_and_skips_cloud_layer(test_data: Path) -> None:
    path = test_data / "s2_l1c_slovenia_eolearn" / "S2L1C_slovenia_20150711_13band_refl.tif"
    with rasterio.open(path) as ds:
        assert ds.count == 14 and "CLP" in ds.descriptions[13]
        raw = ds.read(4)
    with open_s2(path) as stack:
        assert len(stack.bands) == 13 and "B10" in stack.bands
        assert stack.grid.shape == (101, 100)
        assert all(stack.factor(b) == 1 for b in stack.bands)  # Sentinel Hub resampled everything to ~10 m
        data, valid = stack.read("B04", stack.grid.full_window)
        assert valid.all()
        np.testing.assert_allclose(data, raw)  # already reflectance: no /10000
        assert stack.notes["B04"] == "float reflectance"


def test_dsen2_multiband_files_in_a_folder(test_data: Path, tmp_path: Path) -> None:
    folder = write_nominal_dsen2(test_data, tmp_path / "dsen2")
    with open_s2(folder) as stack:
        assert stack.bands == (
            "B01",
            "B02",
            "B03",
            "B04",
            "B05",
            "B06",
            "B07",
            "B08",
            "B8A",
            "B09",
            "B11",
            "B12",
        )
        assert stack.grid.shape == (600, 600)
        assert (stack.factor("B05"), stack.factor("B09")) == (2, 6)
        red, _ = stack.read("B04", Window(0, 0, 6, 6))
        with rasterio.open(next(folder.glob("*_10m.tif"))) as ds:
            np.testing.assert_allclose(red, ds.read(1)[:6, :6] / 10000, rtol=1e-6)


# --- (c) .SAFE folders and zips ----------------------------------------------------------------------------


@pytest.mark.parametrize("as_zip", [False, True])
def test_l2a_safe_baseline_04_applies_the_offset(austria: Path, tmp_path: Path, as_zip: bool) -> None:
    product = make_safe(austria, tmp_path, baseline="04.00", offset=-1000, as_zip=as_zip)
    with open_s2(product) as stack:
        assert stack.level == "L2A" and stack.baseline == "04.00"
        assert stack.bands == S2_ORDER_L2A
        assert stack.band_grid("B05").res == (20.0, 20.0) and stack.band_grid("B01").res == (60.0, 60.0)
        for band in ("B02", "B8A", "B09"):
            data, valid = stack.read(band, stack.grid.full_window)
            assert valid.all()
            # stored DN = original + 1000, so the metadata offset must bring back the original reflectance
            np.testing.assert_allclose(data, _dn(austria, band) / 10000, atol=1e-6)
        assert "(DN + -1000) / 10000" in stack.notes["B02"]


def test_l1c_safe_before_baseline_04_has_no_offset(austria: Path, tmp_path: Path) -> None:
    product = make_safe(austria, tmp_path, level="L1C", baseline="02.05", offset=0)
    with open_s2(product) as stack:
        assert stack.level == "L1C"
        data, _ = stack.read("B12", stack.grid.full_window)
        np.testing.assert_allclose(data, _dn(austria, "B12") / 10000, atol=1e-6)


def test_l1c_safe_zip_with_radio_offset(austria: Path, tmp_path: Path) -> None:
    product = make_safe(austria, tmp_path, level="L1C", baseline="04.00", offset=-1000, as_zip=True)
    with open_s2(product) as stack:
        data, _ = stack.read("B03", stack.grid.full_window)
        np.testing.assert_allclose(data, _dn(austria, "B03") / 10000, atol=1e-6)


def test_offsets_ignored_before_baseline_04() -> None:
    xml = (
        b"<r><PROCESSING_BASELINE>03.01</PROCESSING_BASELINE><BOA_QUANTIFICATION_VALUE>10000"
        b'</BOA_QUANTIFICATION_VALUE><BOA_ADD_OFFSET band_id="1">-1000</BOA_ADD_OFFSET></r>'
    )
    baseline, quant, offsets, _ = parse_metadata(xml, "L2A", "test")
    assert (baseline, quant, offsets) == ("03.01", 10000.0, {})
    baseline, quant, offsets, _ = parse_metadata(xml.replace(b"03.01", b"05.10"), "L2A", "test")
    assert offsets == {"B02": -1000.0}  # band_id 1 is B02 in the default order
    assert baseline_at_least("N0400", 4) and not baseline_at_least("02.14", 4)


def test_safe_without_metadata_fails_clearly(austria: Path, tmp_path: Path) -> None:
    product = make_safe(austria, tmp_path, baseline="02.05", offset=0)
    (product / "MTD_MSIL2A.xml").unlink()
    (product / "marker.SAFE").mkdir()
    with pytest.raises(InputFileError, match=r"no MTD_MSIL1C\.xml or MTD_MSIL2A\.xml"):
        open_s2(product)


def test_not_a_zip(tmp_path: Path) -> None:
    bad = tmp_path / "product.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InputFileError, match="not a zip file"):
        open_s2(bad)


# --- errors -------------------------------------------------------------------------------------------------


def test_missing_input(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not found"):
        open_s2(tmp_path / "nope")


def test_folder_without_band_files(tmp_path: Path, austria: Path) -> None:
    shutil.copy(next(austria.glob("*.json")), tmp_path / "labels.json")
    with pytest.raises(InputFileError, match="no Sentinel-2 band files"):
        open_s2(tmp_path)


def test_band_with_a_different_extent_is_named(austria: Path, tmp_path: Path) -> None:
    folder = tmp_path / "shifted"
    shutil.copytree(austria, folder)
    path = band_file(folder, "B06")
    with rasterio.open(path, "r+") as ds:
        t = ds.transform
        ds.transform = from_origin(t.c + 20, t.f, 20, 20)
    with pytest.raises(RasterError, match="band B06 covers"):
        open_s2(folder)


def test_band_without_crs(austria: Path, tmp_path: Path) -> None:
    folder = tmp_path / "nocrs"
    folder.mkdir()
    for band in ("B02", "B05"):
        shutil.copy(band_file(austria, band), folder)
    with rasterio.open(band_file(folder, "B05")) as src:
        profile = src.profile | {"crs": None}
        data = src.read()
    band_file(folder, "B05").unlink()
    with rasterio.open(folder / "x_B05.tif", "w", **profile) as dst:
        dst.write(data)
    with pytest.raises(RasterError, match=r"band B05 .* has no CRS"):
        open_s2(folder)


def test_dsen2_without_georeference_is_refused(test_data: Path) -> None:
    with pytest.raises(RasterError, match="has no CRS"):
        open_s2(test_data / "dsen2_s2_l1c_native")


def test_8bit_rendering_is_refused(austria: Path, tmp_path: Path) -> None:
    with rasterio.open(band_file(austria, "B04")) as src:
        profile = src.profile | {"dtype": "uint8"}
        data = (src.read() // 64).clip(0, 255).astype(np.uint8)
    with rasterio.open(tmp_path / "rgb_B04.tif", "w", **profile) as dst:
        dst.write(data)
    with pytest.raises(RasterError, match="0-255"):
        open_s2(tmp_path / "rgb_B04.tif")


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "scene_B02.tif").write_bytes(b"garbage")
    with pytest.raises(RasterError, match="cannot read"):
        open_s2(tmp_path)
