"""Real Sentinel-2 test inputs from the repository's tests/data, and small products built from them (no
synthetic pixels)."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning
from rasterio.transform import from_origin

from geogen.io.sentinel2 import S2Stack
from tiles import Grid

DSEN2 = "dsen2_s2_l1c_native"
DSEN2_FILES = {
    "10m": ("B04", "B03", "B02", "B08"),
    "20m": ("B05", "B06", "B07", "B8A", "B11", "B12"),
    "60m": ("B01", "B09"),
}
# DSen2's crop has no georeference: tests place it on this nominal UTM 33N grid (tile T33UUB is in zone 33)
DSEN2_ORIGIN = (300000.0, 5400000.0)
DSEN2_CRS = "EPSG:32633"
S2_ORDER_L2A = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")


def bigearthnet_patches(test_data: Path) -> list[Path]:
    folder = test_data / "bigearthnet_s2_l2a"
    patches = sorted(p for p in folder.iterdir() if p.is_dir())
    assert len(patches) == 4, f"expected the 4 BigEarthNet patches under {folder}"
    return patches


def band_file(patch: Path, band: str) -> Path:
    return next(patch.glob(f"*_{band}.tif"))


def dsen2_arrays(test_data: Path) -> dict[str, np.ndarray]:
    """The DSen2 crop as reflectance arrays keyed by band (600 / 300 / 100 px)."""
    folder = test_data / DSEN2
    out = {}
    for res, bands in DSEN2_FILES.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(next(folder.glob(f"*_{res}.tif"))) as ds:
                data = ds.read().astype(np.float32) / 10000
        out.update({b: data[i] for i, b in enumerate(bands)})
    return out


def dsen2_grid(size: int = 600) -> Grid:
    return Grid(size, size, Affine(10.0, 0, DSEN2_ORIGIN[0], 0, -10.0, DSEN2_ORIGIN[1]), DSEN2_CRS)


def dsen2_stack(test_data: Path, crop: int | None = None) -> S2Stack:
    """The DSen2 crop on its nominal grid, or its top-left ``crop`` x ``crop`` 10 m pixels (crop % 6 == 0)."""
    arrays = dsen2_arrays(test_data)
    size = crop or 600
    cut = {b: a[: size * a.shape[0] // 600, : size * a.shape[1] // 600] for b, a in arrays.items()}
    return S2Stack.from_arrays(cut, dsen2_grid(size), source="DSen2 T33UUB crop (nominal grid)")


def write_nominal_dsen2(test_data: Path, folder: Path) -> Path:
    """Georeferenced copies of the three DSen2 files (band descriptions kept) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for res_name in DSEN2_FILES:
        src = next((test_data / DSEN2).glob(f"*_{res_name}.tif"))
        res = float(res_name[:-1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            ds = rasterio.open(src)
        with ds:
            profile = ds.profile | {"crs": DSEN2_CRS, "transform": from_origin(*DSEN2_ORIGIN, res, res)}
            with rasterio.open(folder / src.name, "w", **profile) as out:
                out.write(ds.read())
                for i, d in enumerate(ds.descriptions, start=1):
                    out.set_band_description(i, d)
    return folder


# --- .SAFE products built from a real BigEarthNet patch ----------------------------------------------------

_L2A_MTD = """<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd">
  <n1:General_Info>
    <Product_Info>
      <PROCESSING_LEVEL>Level-2A</PROCESSING_LEVEL>
      <PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
    </Product_Info>
    <Product_Image_Characteristics>
      <QUANTIFICATION_VALUES_LIST>
        <BOA_QUANTIFICATION_VALUE unit="none">{quant}</BOA_QUANTIFICATION_VALUE>
        <AOT_QUANTIFICATION_VALUE unit="none">1000.0</AOT_QUANTIFICATION_VALUE>
      </QUANTIFICATION_VALUES_LIST>
      {offsets}
      <Spectral_Information_List>{spectral}</Spectral_Information_List>
    </Product_Image_Characteristics>
  </n1:General_Info>
</n1:Level-2A_User_Product>
"""
_L1C_MTD = """<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-1C_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-1C.xsd">
  <n1:General_Info>
    <Product_Info>
      <PROCESSING_LEVEL>Level-1C</PROCESSING_LEVEL>
      <PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
    </Product_Info>
    <Product_Image_Characteristics>
      <QUANTIFICATION_VALUE unit="none">{quant}</QUANTIFICATION_VALUE>
      {offsets}
      <Spectral_Information_List>{spectral}</Spectral_Information_List>
    </Product_Image_Characteristics>
  </n1:General_Info>
</n1:Level-1C_User_Product>
"""
_ALL13 = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")


def _spectral() -> str:
    return "".join(
        f'<Spectral_Information bandId="{i}" physicalBand="{b.replace("B0", "B")}"/>'
        for i, b in enumerate(_ALL13)
    )


def _write_jp2(path: Path, data: np.ndarray, transform: Affine, crs: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver="JP2OpenJPEG",
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype="uint16",
        crs=crs,
        transform=transform,
        QUALITY=100,
        REVERSIBLE="YES",
    ) as ds:
        ds.write(data, 1)


def make_safe(
    patch: Path,
    root: Path,
    *,
    level: str = "L2A",
    baseline: str = "04.00",
    offset: int = -1000,
    as_zip: bool = False,
) -> Path:
    """A single-granule .SAFE (or .zip) holding a BigEarthNet patch's real bands.

    With a non-zero ``offset`` the stored DN are the patch's DN minus ``offset``, so that
    (DN + offset) / 10000 gives back the patch's reflectance; 0 stays 0 (nodata).
    """
    date = "20220613T101031"
    name = f"S2A_MSI{level}_{date}_N{baseline.replace('.', '')}_R022_T33UUP_{date}.SAFE"
    safe = root / name
    granule = safe / "GRANULE" / f"{level}_T33UUP_A036246_{date}" / "IMG_DATA"
    for band in S2_ORDER_L2A:
        with rasterio.open(band_file(patch, band)) as ds:
            dn = ds.read(1).astype(np.int64)
            transform, crs, res = ds.transform, ds.crs.to_string(), int(ds.res[0])
        stored = np.where(dn > 0, dn - offset, 0).astype(np.uint16)
        if level == "L2A":
            _write_jp2(granule / f"R{res}m" / f"T33UUP_{date}_{band}_{res}m.jp2", stored, transform, crs)
        else:
            _write_jp2(granule / f"T33UUP_{date}_{band}.jp2", stored, transform, crs)
    if level == "L2A":  # L2A also stores resampled copies of finer bands and class maps: they must be ignored
        with rasterio.open(band_file(patch, "B02")) as ds:
            dn = ds.read(1)
            t20 = ds.transform @ Affine.scale(2)
            crs = ds.crs.to_string()
        coarse = dn.reshape(60, 2, 60, 2).mean(axis=(1, 3)).astype(np.uint16)
        _write_jp2(granule / "R20m" / f"T33UUP_{date}_B02_20m.jp2", coarse, t20, crs)
        _write_jp2(granule / "R20m" / f"T33UUP_{date}_SCL_20m.jp2", np.full((60, 60), 4, np.uint16), t20, crs)
    tag = "BOA_ADD_OFFSET" if level == "L2A" else "RADIO_ADD_OFFSET"
    wrap = "BOA_ADD_OFFSET_VALUES_LIST" if level == "L2A" else "Radiometric_Offset_List"
    offsets = (
        f"<{wrap}>" + "".join(f'<{tag} band_id="{i}">{offset}</{tag}>' for i in range(13)) + f"</{wrap}>"
        if offset
        else ""
    )
    template = _L2A_MTD if level == "L2A" else _L1C_MTD
    (safe / f"MTD_MSI{level}.xml").write_text(
        template.format(baseline=baseline, quant=10000, offsets=offsets, spectral=_spectral()),
        encoding="utf-8",
    )
    if not as_zip:
        return safe
    archive = root / (safe.stem + ".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for f in sorted(safe.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(root).as_posix())
    return archive
