"""Scoring a prediction raster against a reference raster on the same grid, with bicubic alongside.

Bands are matched by their descriptions when both files name them (e.g. "B05"), else by position. Values are
scored as stored, against an explicit ``data_range`` (default: 255 for 8-bit, 10000 for 16-bit Sentinel-2
reflectance x 10000, 1.0 for float reflectance).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from geogen.errors import RasterError
from geogen.eval import metrics
from geogen.io.raster import dataset_grid, open_raster
from geogen.sensors.mtf import upsample_cubic
from geogen.sensors.sentinel2 import REFLECTANCE_SCALE
from tiles import Grid


def default_data_range(dtype: str) -> float:
    return {"uint8": 255.0, "uint16": float(REFLECTANCE_SCALE)}.get(np.dtype(dtype).name, 1.0)


def _read(path: str | Path) -> tuple[np.ndarray, Grid, list[str | None], np.ndarray, str]:
    with open_raster(path) as ds:
        grid = dataset_grid(ds)
        data = ds.read().astype(np.float64)
        valid = ds.dataset_mask() > 0
        return data, grid, list(ds.descriptions), valid, ds.dtypes[0]


def _match_bands(
    pred_desc: list[str | None],
    ref_desc: list[str | None],
    n_pred: int,
    n_ref: int,
    pred_path: str,
    ref_path: str,
) -> list[tuple[int, int, str]]:
    if all(pred_desc) and all(ref_desc):
        pairs = [
            (pred_desc.index(d), i, d) for i, d in enumerate(ref_desc) if d in pred_desc and d != "alpha"
        ]
        if pairs:
            return pairs  # type: ignore[return-value]
    if n_pred != n_ref:
        raise RasterError(
            f"{pred_path} has {n_pred} bands and {ref_path} {n_ref}, and their band names do not match"
        )
    return [(i, i, ref_desc[i] or f"band{i + 1}") for i in range(n_ref)]


def _scores(
    pred: np.ndarray, ref: np.ndarray, valid: np.ndarray, data_range: float, scale: float
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "psnr_db": metrics.psnr(pred, ref, data_range=data_range, valid=valid),
        "ssim": metrics.ssim(pred, ref, data_range=data_range, valid=valid),
        "ergas": metrics.ergas(pred, ref, scale=scale, valid=valid),
        "rmse": metrics.rmse(pred, ref, valid=valid),
    }
    out["sam_deg"] = metrics.sam(pred, ref, valid=valid) if pred.shape[0] > 1 else None
    return out


def compare_rasters(
    pred_path: str | Path,
    ref_path: str | Path,
    *,
    lr_path: str | Path | None = None,
    data_range: float | None = None,
) -> dict[str, Any]:
    """PSNR, SSIM, SAM (degrees), ERGAS and RMSE of ``pred`` against ``ref``; bicubic from ``lr`` scored alongside.

    Raises:
        RasterError: different grids, unmatched bands, or a low-resolution input whose pixel size is not an
            integer multiple of the reference's on the same footprint.
    """
    pred, pgrid, pdesc, pvalid, _pdtype = _read(pred_path)
    ref, rgrid, rdesc, rvalid, rdtype = _read(ref_path)
    if pgrid.shape != rgrid.shape or not np.allclose(tuple(pgrid.transform)[:6], tuple(rgrid.transform)[:6]):
        raise RasterError(
            f"{pred_path} and {ref_path} are not on the same grid ({pgrid.shape} vs {rgrid.shape})"
        )
    pairs = _match_bands(pdesc, rdesc, pred.shape[0], ref.shape[0], str(pred_path), str(ref_path))
    p = pred[[a for a, _, _ in pairs]]
    r = ref[[b for _, b, _ in pairs]]
    valid = pvalid & rvalid
    dr = float(data_range) if data_range else default_data_range(rdtype)
    result: dict[str, Any] = {"bands": [n for _, _, n in pairs], "data_range": dr, "pixels": int(valid.sum())}
    scale = 1.0
    if lr_path is not None:
        lr, lgrid, ldesc, _lvalid, _ = _read(lr_path)
        factor = lgrid.res[0] / rgrid.res[0]
        if abs(factor - round(factor)) > 1e-6 or not np.allclose(
            lgrid.bounds, rgrid.bounds, atol=rgrid.res[0]
        ):
            raise RasterError(
                f"{lr_path} must cover {ref_path}'s footprint at an integer multiple of its pixel size"
            )
        scale = float(round(factor))
        lpairs = _match_bands(ldesc, rdesc, lr.shape[0], ref.shape[0], str(lr_path), str(ref_path))
        lr_sel = lr[[a for a, _, _ in lpairs if a is not None]]
        bicubic = upsample_cubic(lr_sel, int(scale)).astype(np.float64)
        if bicubic.shape[0] == r.shape[0]:
            result["bicubic"] = _scores(bicubic, r, valid, dr, scale)
    result["prediction"] = _scores(p, r, valid, dr, scale)
    result["scale"] = scale
    return result
