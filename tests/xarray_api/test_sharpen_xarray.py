"""``geogen.xarray_api.sharpen_xarray`` on the bundled real Sentinel-2 sample: the 10 m grid, the file
pipeline's pixels, dask chunk by chunk equal to numpy, and one clear error per kind of unusable input."""

from __future__ import annotations

import shutil
import threading
import warnings
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401  (the .rio accessor)
import xarray as xr
from click.testing import CliRunner

from geogen.cli.main import cli
from geogen.engines.base import SharpenEngine
from geogen.engines.registry import register_engine, unregister_engine
from geogen.errors import EngineError, GeogenError, JobSpecError, OptionsError, RasterError
from geogen.sensors.sentinel2 import REFLECTANCE_SCALE, to_dn
from geogen.xarray_api import sharpen_xarray
from tiles import Window

SAMPLE = (
    Path(__file__).resolve().parents[2] / "geogen" / "data" / "sample_s2" / "S2A_MSIL2A_20170613T101031_87_48"
)
TEN_M = ("B02", "B03", "B04", "B08")
CHUNKS = {"y10": 64, "x10": 64, "y20": 32, "x20": 32, "y60": 10, "x60": 10}


def band_files(folder: Path) -> dict[str, Path]:
    return {f.stem.rsplit("_", 1)[-1]: f for f in sorted(folder.glob("*_B*.tif"))}


def band_array(path: Path, suffix: str | None = None) -> xr.DataArray:
    """One band file as a 2-D DataArray (dims y<res>/x<res>) with pixel-centre coordinates, via rasterio."""
    with rasterio.open(path) as ds:
        data, t, crs = ds.read(1), ds.transform, ds.crs
    res = suffix or f"{t.a:g}"
    x = t.c + t.a * (np.arange(data.shape[1]) + 0.5)
    y = t.f + t.e * (np.arange(data.shape[0]) + 0.5)
    arr = xr.DataArray(data, dims=(f"y{res}", f"x{res}"), coords={f"y{res}": y, f"x{res}": x})
    return arr.rio.write_crs(crs)


def band_dataset(folder: Path = SAMPLE) -> xr.Dataset:
    """The sample as a Dataset: one variable per band at its native resolution, uint16 DN."""
    return xr.Dataset({band: band_array(path) for band, path in band_files(folder).items()})


def run_cli(folder: Path, out: Path, *args: str) -> np.ndarray:
    result = CliRunner().invoke(
        cli, ["superres", str(folder), "-o", str(out), "--progress", "none", *args], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as ds:
        return ds.read()


def as_dn(result: xr.DataArray) -> np.ndarray:
    """The result as the pipeline's uint16 DN (0 = nodata)."""
    values = np.asarray(result.values)
    valid = ~np.isnan(values)
    return to_dn(np.where(valid, values, 0), valid)


@pytest.fixture(scope="module")
def dataset() -> xr.Dataset:
    return band_dataset()


@pytest.fixture(scope="module")
def sharpened(dataset: xr.Dataset) -> xr.DataArray:
    return sharpen_xarray(dataset)


@pytest.fixture
def holed(tmp_path: Path) -> Path:
    """A copy of the sample with nodata (DN 0) holes in a 10 m guide band and a 20 m band."""
    folder = tmp_path / SAMPLE.name
    shutil.copytree(SAMPLE, folder)
    for band, rows, cols in (("B02", slice(10, 20), slice(30, 50)), ("B05", slice(40, 45), slice(0, 10))):
        path = band_files(folder)[band]
        with rasterio.open(path) as ds:
            data, profile = ds.read(), ds.profile
        data[0, rows, cols] = 0
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(data)
    return folder


# --- the output grid and what it says -----------------------------------------------------------------------


def test_output_is_on_the_10m_grid(sharpened: xr.DataArray) -> None:
    with rasterio.open(band_files(SAMPLE)["B02"]) as b02:
        transform, crs, shape = b02.transform, b02.crs, b02.shape
    ref = band_array(band_files(SAMPLE)["B02"])
    assert sharpened.dims == ("band", "y", "x") and sharpened.dtype == np.float32
    assert sharpened.shape == (12, *shape)
    np.testing.assert_array_equal(sharpened["x"].values, ref["x10"].values)
    np.testing.assert_array_equal(sharpened["y"].values, ref["y10"].values)
    assert list(sharpened["band"].values) == [
        "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12",
    ]  # fmt: skip
    assert sharpened.rio.crs == crs
    assert sharpened.rio.transform() == transform
    assert sharpened.rio.transform(recalc=True) == transform  # the coordinates say the same
    assert np.isnan(sharpened.rio.nodata)


def test_attributes_record_a_derived_product(sharpened: xr.DataArray) -> None:
    attrs = sharpened.attrs
    assert attrs["GEOGEN_ENGINE"] == "sharpen" and attrs["GEOGEN_TASK"] == "superres"
    assert attrs["GEOGEN_SYNTHETIC"] == "NO" and attrs["GEOGEN_KIND"] == "derived"
    assert "GEOGEN_NOTICE" not in attrs
    assert "B05:20" in attrs["GEOGEN_SOURCE_GSD"] and "B01:60" in attrs["GEOGEN_SOURCE_GSD"]
    assert attrs["long_name"] == tuple(sharpened["band"].values)


def test_ten_metre_bands_pass_through_as_reflectance(dataset: xr.Dataset, sharpened: xr.DataArray) -> None:
    for band in TEN_M:
        expected = dataset[band].values.astype(np.float32) * np.float32(1 / REFLECTANCE_SCALE)
        np.testing.assert_array_equal(sharpened.sel(band=band).values, expected)


def test_written_with_rioxarray_it_keeps_grid_and_band_names(sharpened: xr.DataArray, tmp_path: Path) -> None:
    path = tmp_path / "out.tif"
    sharpened.rio.to_raster(path)
    with rasterio.open(path) as ds, rasterio.open(band_files(SAMPLE)["B02"]) as b02:
        assert ds.transform == b02.transform and ds.crs == b02.crs and ds.count == 12
        assert ds.descriptions == tuple(sharpened["band"].values)
        assert ds.tags()["GEOGEN_ENGINE"] == "sharpen"


# --- the file pipeline's pixels --------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["sharpen", "bicubic"])
def test_values_equal_the_file_pipeline(engine: str, tmp_path: Path) -> None:
    file_dn = run_cli(SAMPLE, tmp_path / "sharp.tif", "--engine", engine)
    result = sharpen_xarray(band_dataset(), engine=engine)
    np.testing.assert_array_equal(as_dn(result), file_dn)


def test_nodata_holes_match_the_file_pipeline(holed: Path, tmp_path: Path) -> None:
    file_dn = run_cli(holed, tmp_path / "sharp.tif")
    result = sharpen_xarray(band_dataset(holed))
    invalid = np.isnan(result.values)
    assert invalid[1, 10:20, 30:50].all() and invalid[4, 80:90, 0:20].all()  # B02 and B05 (20 m) holes
    np.testing.assert_array_equal(invalid, file_dn == 0)
    np.testing.assert_array_equal(as_dn(result), file_dn)


def test_float_reflectance_with_nan_nodata_equals_dn_input(holed: Path) -> None:
    dn = band_dataset(holed)
    refl = dn.copy()
    for band in refl.data_vars:
        values = dn[band].values
        as_float = values.astype(np.float32) * np.float32(1 / REFLECTANCE_SCALE)
        refl[band] = dn[band].copy(data=np.where(values == 0, np.float32(np.nan), as_float))
    a, b = sharpen_xarray(dn), sharpen_xarray(refl)
    np.testing.assert_array_equal(a.values, b.values)


def test_float_dn_as_stackstac_loads_it_is_read_as_dn(holed: Path) -> None:
    """stackstac's default: float64 DN with NaN fill, chunked; the values are too large for reflectance."""
    dn = band_dataset(holed)
    as_float = dn.copy()
    for band in as_float.data_vars:
        values = dn[band].values
        as_float[band] = dn[band].copy(data=np.where(values == 0, np.nan, values.astype(np.float64)))
    with pytest.warns(UserWarning, match="too large for reflectance; reading them as reflectance x 10000"):
        result = sharpen_xarray(as_float.chunk({"y10": 32, "x10": 32, "y20": 16, "x20": 16}))
    np.testing.assert_array_equal(result.values, sharpen_xarray(dn).values)


def test_bands_selects_outputs_not_guides(dataset: xr.Dataset, sharpened: xr.DataArray) -> None:
    result = sharpen_xarray(dataset, bands=["b8a", "B5"])
    assert list(result["band"].values) == ["B05", "B8A"]
    np.testing.assert_array_equal(result.values, sharpened.sel(band=["B05", "B8A"]).values)


def test_dims_names_orientation_and_containers_do_not_matter(
    dataset: xr.Dataset, sharpened: xr.DataArray
) -> None:
    common = {"B02": "blue", "B03": "green", "B04": "red", "B08": "nir", "B05": "rededge1", "B8A": "nir08"}
    renamed = dataset.rename({k: v for k, v in common.items()})
    flipped = {
        name: arr.isel({arr.dims[0]: slice(None, None, -1)}) for name, arr in dataset.data_vars.items()
    }
    for variant in (renamed, flipped):
        np.testing.assert_array_equal(sharpen_xarray(variant).values, sharpened.values)
    flipped_out = sharpen_xarray(flipped)
    np.testing.assert_array_equal(flipped_out["y"].values, sharpened["y"].values)  # north-up out


# --- dask ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tile", [64, 100, 1024])
def test_dask_chunks_equal_numpy_bit_for_bit(dataset: xr.Dataset, tile: int) -> None:
    in_memory = sharpen_xarray(dataset, options={"tile": tile})
    lazy = sharpen_xarray(dataset.chunk(CHUNKS), options={"tile": tile})
    assert isinstance(lazy.data, da.Array)
    expected_chunks = {64: (56, 64), 100: (20, 100), 1024: (120,)}[tile]  # the plan's last window is whole
    assert lazy.chunks == ((12,), expected_chunks, expected_chunks)
    np.testing.assert_array_equal(lazy.values, in_memory.values)
    assert lazy.rio.crs == in_memory.rio.crs and lazy.rio.transform() == in_memory.rio.transform()


def test_dask_task_reads_only_its_window_and_halo(dataset: xr.Dataset) -> None:
    """On a 480 x 480 scene (the sample tiled 4 x 4) in 64 px chunks, the first output chunk reads the first
    64 + halo (160 px for the 60 m bands, snapped to 6) 10 m rows and columns of each band, not the scene."""
    reads: dict[str, set[tuple[int, int]]] = {}
    lock = threading.Lock()

    def recorder(band: str):
        def record(block: np.ndarray, block_info: dict | None = None) -> np.ndarray:
            if block_info is not None:
                with lock:
                    reads.setdefault(band, set()).add(tuple(block_info[0]["chunk-location"]))
            return block

        return record

    tiled = {}
    for name, arr in dataset.data_vars.items():
        band, res = str(name), str(arr.dims[0])[1:]
        big = np.tile(arr.values, (4, 4))
        factor = int(res) // 10
        chunk = 64 // factor if factor < 6 else 10
        lazy = da.from_array(big, chunks=chunk).map_blocks(recorder(band), dtype=big.dtype)
        step = float(res)
        x = 404400 + step * (np.arange(big.shape[1]) + 0.5)
        y = 5342400 - step * (np.arange(big.shape[0]) + 0.5)
        tiled[band] = xr.DataArray(lazy, dims=arr.dims, coords={arr.dims[0]: y, arr.dims[1]: x})
    ds = xr.Dataset(tiled).rio.write_crs("EPSG:32633")
    result = sharpen_xarray(ds, options={"tile": 64})
    assert result.chunks is not None and result.chunks[1][0] == 64 and len(result.chunks[1]) == 8
    reads.clear()  # the fit read everything (scene-wide statistics); the chunks must not
    with dask.config.set(scheduler="synchronous"):
        result.data.blocks[0, 0, 0].compute()
    region = -(-(64 + 160) // 6) * 6  # 228 rows and columns of 10 m pixels
    assert reads["B02"] == {(r, c) for r in range(-(-region // 64)) for c in range(-(-region // 64))}
    assert max(r for r, _ in reads["B05"]) == (region // 2 - 1) // 32  # 20 m band, 32 px chunks
    assert max(r for r, _ in reads["B01"]) == (region // 6 - 1) // 10  # 60 m band, 10 px chunks


# --- one band grid ---------------------------------------------------------------------------------------


def test_one_grid_data_array_passes_bands_through(dataset: xr.Dataset) -> None:
    stacked = xr.concat([dataset[b] for b in TEN_M], dim="band").assign_coords(band=list(TEN_M))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = sharpen_xarray(stacked)
    expected = stacked.values.astype(np.float32) * np.float32(1 / REFLECTANCE_SCALE)
    np.testing.assert_array_equal(result.values, expected)


def test_resampled_band_on_the_10m_grid_warns(dataset: xr.Dataset) -> None:
    b05 = np.repeat(np.repeat(dataset["B05"].values, 2, axis=0), 2, axis=1)
    stacked = xr.concat([dataset["B02"], dataset["B02"].copy(data=b05)], dim="band")
    stacked = stacked.assign_coords(band=["B02", "B05"])
    with pytest.warns(UserWarning, match="B05 are on the 10 m grid but natively coarser"):
        result = sharpen_xarray(stacked)
    np.testing.assert_array_equal(result.sel(band="B05").values, b05 * np.float32(1 / REFLECTANCE_SCALE))


# --- errors ----------------------------------------------------------------------------------------------


def _shifted(arr: xr.DataArray, dx: float) -> xr.DataArray:
    xdim = arr.dims[1]
    return arr.assign_coords({xdim: arr[xdim].values + dx})


def test_no_crs_is_refused(dataset: xr.Dataset) -> None:
    with pytest.raises(RasterError, match=r"band B01 has no CRS: write one with rioxarray"):
        sharpen_xarray(dataset.drop_vars("spatial_ref"))


def test_irregular_coordinates_are_refused(dataset: xr.Dataset) -> None:
    x = dataset["x20"].values.copy()
    x[30:] += 5.0
    with pytest.raises(RasterError, match=r"band B05's coordinates along 'x20' are irregular"):
        sharpen_xarray(dataset.assign_coords(x20=x))


def test_unknown_band_name_is_refused(dataset: xr.Dataset) -> None:
    with pytest.raises(RasterError, match=r"'SCL' is not a Sentinel-2 band name"):
        sharpen_xarray(dataset.assign(SCL=dataset["B05"]))
    with pytest.raises(JobSpecError, match=r"bands: 'B13' is not a Sentinel-2 band name"):
        sharpen_xarray(dataset, bands=["B13"])


def test_bands_that_do_not_line_up_are_refused(dataset: xr.Dataset) -> None:
    shifted = dataset.assign(B05=_shifted(dataset["B05"], 20.0).rename(x20="x20b"))
    with pytest.raises(RasterError, match=r"band B05 covers .* but band B02 covers .*; all bands must share"):
        sharpen_xarray(shifted)
    cropped = dataset.assign(B06=dataset["B06"].isel(y20=slice(0, 59)).rename(y20="y20b"))
    with pytest.raises(RasterError, match=r"band B06 covers"):
        sharpen_xarray(cropped)


def test_bad_engine_and_options_are_refused(dataset: xr.Dataset) -> None:
    with pytest.raises(EngineError, match="unknown engine 'magic'"):
        sharpen_xarray(dataset, engine="magic")
    with pytest.raises(
        EngineError, match=r"'diffusionsat-sr' is not a sharpening engine .*: sharpen, sharpen-cnn, bicubic"
    ):
        sharpen_xarray(dataset, engine="diffusionsat-sr")
    with pytest.raises(OptionsError, match=r"options\.method"):
        sharpen_xarray(dataset, options={"method": "magic"})


def test_not_xarray_and_not_2d_are_refused(dataset: xr.Dataset) -> None:
    with pytest.raises(RasterError, match=r"expected an xarray\.Dataset"):
        sharpen_xarray(np.zeros((3, 4, 4)))  # type: ignore[arg-type]
    cube = xr.concat([dataset["B05"], dataset["B05"]], dim="time")
    with pytest.raises(RasterError, match=r"band B05 .* give one 2-D \(rows, cols\) array per band"):
        sharpen_xarray(dataset.assign(B05=cube))
    with pytest.raises(RasterError, match=r"band B05 is uint8"):
        sharpen_xarray(dataset.assign(B05=dataset["B05"].astype(np.uint8)))
    assert issubclass(RasterError, GeogenError)


# --- a third-party engine --------------------------------------------------------------------------------


class _NearestEngine(SharpenEngine):
    """A toy engine from outside geogen: coarse bands repeated onto the fine grid; one (h, w) valid mask."""

    name = "toy-nearest-xarray"
    description = "test only"

    def fit(self, stack, bands, progress=None) -> None:
        self.fitted = True

    def sharpen(self, stack, window, bands):
        out = np.zeros((len(bands), window.height, window.width), np.float32)
        valid = np.ones((window.height, window.width), bool)
        for i, band in enumerate(bands):
            f = stack.factor(band)
            c0, r0 = window.col_off // f * f, window.row_off // f * f
            outer = Window(c0, r0, -(-window.col_end // f) * f - c0, -(-window.row_end // f) * f - r0)
            data, v = stack.read(band, outer)
            rel = window.relative_to(outer)
            up = np.repeat(np.repeat(data, f, axis=0), f, axis=1)[rel.slices]
            out[i] = up
            valid &= np.repeat(np.repeat(v, f, axis=0), f, axis=1)[rel.slices]
        return out, valid

    def halo(self, factor: int) -> int:
        return 0  # reads only the coarse pixels under the window (windows are snapped to them)


@pytest.fixture
def toy_engine():
    register_engine(_NearestEngine)
    yield _NearestEngine
    unregister_engine(_NearestEngine)


def test_a_registered_third_party_engine_runs(dataset: xr.Dataset, toy_engine) -> None:
    result = sharpen_xarray(dataset, engine=toy_engine.name, bands=["B05"])
    expected = np.repeat(np.repeat(dataset["B05"].values, 2, axis=0), 2, axis=1) * np.float32(1e-4)
    np.testing.assert_array_equal(result.sel(band="B05").values, expected)
    assert result.attrs["GEOGEN_ENGINE"] == toy_engine.name


def test_a_third_party_engine_runs_chunk_by_chunk_with_its_declared_halo(
    dataset: xr.Dataset, toy_engine
) -> None:
    lazy = sharpen_xarray(dataset.chunk(CHUNKS), engine=toy_engine.name, options={"tile": 64})
    eager = sharpen_xarray(dataset, engine=toy_engine.name, options={"tile": 64})
    np.testing.assert_array_equal(lazy.values, eager.values)
