"""Scoring a prediction raster against a reference raster on the same grid, with bicubic alongside.

Bands are matched by their descriptions when both files name them (e.g. "B05"), else by position. Values are
scored as stored, against an explicit ``data_range`` (default: 255 for 8-bit, 10000 for 16-bit Sentinel-2
reflectance x 10000, 1.0 for float reflectance).

The rasters are streamed in strips of rows read as float32 (a few tens of MiB whatever the raster's size), with
a halo of rows for SSIM's window and bicubic's support, so every score equals the whole-image definition of
:mod:`geogen.eval.metrics`. Pixels masked in either file, or NaN/inf in any scored band, are left out of every
score; how many were NaN/inf is reported (``nonfinite_pixels``) with a warning.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.windows import Window

from geogen.errors import JobSpecError, RasterError
from geogen.eval import metrics
from geogen.io.raster import dataset_grid, open_raster, reading
from geogen.sensors.mtf import upsample_cubic
from geogen.sensors.sentinel2 import REFLECTANCE_SCALE

STRIP_BYTES = 32 * 2**20
"""Target size of one strip of every scored band, in float32 (the halo comes on top)."""
_HALO = int(metrics._SSIM_TRUNCATE * metrics._SSIM_SIGMA + 0.5)  # SSIM's window radius: 5 rows


def default_data_range(dtype: str) -> float:
    return {"uint8": 255.0, "uint16": float(REFLECTANCE_SCALE)}.get(np.dtype(dtype).name, 1.0)


def check_data_range(data_range: float | str | None, name: str = "data_range") -> float | None:
    """``data_range`` as a float, None for the default; a zero, negative or non-finite value is an error.

    Raises:
        JobSpecError: not a positive finite number.
    """
    if data_range is None:
        return None
    try:
        value = float(data_range)
    except (TypeError, ValueError):
        raise JobSpecError(f"{name} must be a positive number, got {data_range!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise JobSpecError(f"{name} must be a positive number (the data's value range), got {data_range!r}")
    return value


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


class _Scores:
    """Running sums of every metric over the strips, for one prediction (or bicubic) against the reference."""

    def __init__(self, n_bands: int) -> None:
        self.sse = np.zeros(n_bands)
        self.ssim_sum = np.zeros(n_bands)
        self.ssim_n = 0
        self.sam_sum = 0.0
        self.sam_n = 0

    def add(
        self,
        p: np.ndarray,
        r: np.ndarray,
        valid: np.ndarray,
        ssim_valid: np.ndarray,
        core: slice,
        peak: float,
    ) -> None:
        """``p``, ``r``: float64 (bands, rows + halo, cols); ``core`` the strip's own rows within them."""
        pc, rc = p[:, core], r[:, core]
        d = (pc - rc)[:, valid]
        self.sse += (d * d).sum(axis=1)
        if ssim_valid.any():
            for b in range(p.shape[0]):
                self.ssim_sum[b] += metrics._ssim_map(p[b], r[b], peak)[core][ssim_valid].sum()
            self.ssim_n += int(ssim_valid.sum())
        if p.shape[0] > 1:
            a, c = pc[:, valid], rc[:, valid]
            na, nc = np.linalg.norm(a, axis=0), np.linalg.norm(c, axis=0)
            ok = (na > 0) & (nc > 0)
            cos = (a[:, ok] * c[:, ok]).sum(axis=0) / (na[ok] * nc[ok])
            self.sam_sum += float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))).sum())
            self.sam_n += int(ok.sum())

    def result(self, n: int, ref_sum: np.ndarray, peak: float, scale: float) -> dict[str, Any]:
        mse = float(self.sse.sum() / (len(self.sse) * n))
        err = math.sqrt(mse)
        means = ref_sum / n
        ergas = None
        if np.all(means != 0):
            rel = np.sqrt(self.sse / n) / means
            ergas = float(100.0 / scale * math.sqrt(float(np.mean(rel**2))))
        return {
            "psnr_db": math.inf if err == 0 else 20.0 * math.log10(peak / err),
            "ssim": float(np.mean(self.ssim_sum / self.ssim_n)) if self.ssim_n else None,
            "ergas": ergas,
            "rmse": err,
            "sam_deg": (self.sam_sum / self.sam_n if self.sam_n else None) if len(self.sse) > 1 else None,
        }


def _strips(height: int, width: int, n_bands: int) -> Iterator[tuple[int, int]]:
    rows = max(4 * _HALO, STRIP_BYTES // max(1, width * n_bands * 4))
    for r0 in range(0, height, rows):
        yield r0, min(height, r0 + rows)


def _read(ds: Any, bands: list[int], r0: int, r1: int, path: str) -> np.ndarray:
    with reading(path):
        return ds.read([b + 1 for b in bands], window=Window(0, r0, ds.width, r1 - r0), out_dtype="float32")


def _read_mask(ds: Any, r0: int, r1: int, path: str) -> np.ndarray:
    with reading(path):
        return ds.dataset_mask(window=Window(0, r0, ds.width, r1 - r0)) > 0


def compare_rasters(
    pred_path: str | Path,
    ref_path: str | Path,
    *,
    lr_path: str | Path | None = None,
    data_range: float | None = None,
) -> dict[str, Any]:
    """PSNR, SSIM, SAM (degrees), ERGAS and RMSE of ``pred`` against ``ref``; bicubic from ``lr`` scored alongside.

    The result also has ``pixels`` (scored), ``nonfinite_pixels`` (left out for NaN/inf) and ``warnings``.
    A score that is undefined on these pixels (ERGAS with a zero-mean reference band, SAM with all-zero
    spectra) is None, with a warning.

    Raises:
        JobSpecError: ``data_range`` not a positive number.
        RasterError: different grids, unmatched bands, a truncated or corrupt file, no pixel valid in both,
            or a low-resolution input whose pixel size is not an integer multiple of the reference's on the
            same footprint.
    """
    dr_arg = check_data_range(data_range)
    with ExitStack() as stack:
        pds = stack.enter_context(open_raster(pred_path))
        rds = stack.enter_context(open_raster(ref_path))
        pgrid, rgrid = dataset_grid(pds), dataset_grid(rds)
        if pgrid.shape != rgrid.shape or not np.allclose(
            tuple(pgrid.transform)[:6], tuple(rgrid.transform)[:6]
        ):
            raise RasterError(
                f"{pred_path} and {ref_path} are not on the same grid ({pgrid.shape} vs {rgrid.shape})"
            )
        pairs = _match_bands(
            list(pds.descriptions),
            list(rds.descriptions),
            pds.count,
            rds.count,
            str(pred_path),
            str(ref_path),
        )
        pb, rb = [a for a, _, _ in pairs], [b for _, b, _ in pairs]
        dr = dr_arg if dr_arg is not None else default_data_range(rds.dtypes[0])
        height, width = rds.height, rds.width

        lds, lpb, k = None, None, 1
        if lr_path is not None:
            lds = stack.enter_context(open_raster(lr_path))
            lgrid = dataset_grid(lds)
            factor = lgrid.res[0] / rgrid.res[0]
            if abs(factor - round(factor)) > 1e-6 or not np.allclose(
                lgrid.bounds, rgrid.bounds, atol=rgrid.res[0]
            ):
                raise RasterError(
                    f"{lr_path} must cover {ref_path}'s footprint at an integer multiple of its pixel size"
                )
            k = round(factor)
            if lds.width * k < width or lds.height * k < height:
                raise RasterError(f"{lr_path} does not cover {ref_path}'s footprint")
            lpairs = _match_bands(
                list(lds.descriptions),
                list(rds.descriptions),
                lds.count,
                rds.count,
                str(lr_path),
                str(ref_path),
            )
            if len(lpairs) == len(pairs):
                lpb = [a for a, _, _ in lpairs]

        nb = len(pairs)
        pred_acc, bic_acc = _Scores(nb), (_Scores(nb) if lpb is not None else None)
        ref_sum = np.zeros(nb)
        n_valid = n_nonfinite = 0
        border = min(height, width) > 2 * _HALO
        for r0, r1 in _strips(height, width, nb):
            h0, h1 = max(0, r0 - _HALO), min(height, r1 + _HALO)
            p = _read(pds, pb, h0, h1, str(pred_path)).astype(np.float64)
            r = _read(rds, rb, h0, h1, str(ref_path)).astype(np.float64)
            core = slice(r0 - h0, r1 - h0)
            masked = _read_mask(pds, r0, r1, str(pred_path)) & _read_mask(rds, r0, r1, str(ref_path))
            finite = np.isfinite(p[:, core]).all(axis=0) & np.isfinite(r[:, core]).all(axis=0)
            b = None
            if lds is not None and lpb is not None:
                c0, c1 = max(0, h0 // k - 2), min(lds.height, (h1 - 1) // k + 3)
                lr = _read(lds, lpb, c0, c1, str(lr_path))
                b = upsample_cubic(lr, k)[:, h0 - c0 * k : h1 - c0 * k, :width].astype(np.float64)
                finite &= np.isfinite(b[:, core]).all(axis=0)
            n_nonfinite += int((masked & ~finite).sum())
            valid = masked & finite
            n_valid += int(valid.sum())
            ssim_valid = valid.copy()
            if border:
                rows = np.arange(r0, r1)
                ssim_valid &= ((rows >= _HALO) & (rows < height - _HALO))[:, None]
                ssim_valid[:, :_HALO] = False
                ssim_valid[:, width - _HALO :] = False
            # NaN/inf would spread through SSIM's window: zero them (their pixels are not scored).
            for a in (p, r, b):
                if a is not None:
                    a[~np.isfinite(a)] = 0.0
            ref_sum += r[:, core][:, valid].sum(axis=1)
            pred_acc.add(p, r, valid, ssim_valid, core, dr)
            if bic_acc is not None and b is not None:
                bic_acc.add(b, r, valid, ssim_valid, core, dr)

    warnings: list[str] = []
    if n_nonfinite:
        warnings.append(f"{n_nonfinite} pixel(s) with NaN or infinite values left out of every score")
    if n_valid == 0:
        raise RasterError(
            f"no pixel of {pred_path} and {ref_path} can be scored: every pixel is nodata or NaN/inf"
            + (f" ({n_nonfinite} NaN/inf)" if n_nonfinite else "")
        )
    scale = float(k)
    result: dict[str, Any] = {
        "bands": [n for _, _, n in pairs],
        "data_range": dr,
        "pixels": n_valid,
        "nonfinite_pixels": n_nonfinite,
    }
    if bic_acc is not None:
        result["bicubic"] = bic_acc.result(n_valid, ref_sum, dr, scale)
    result["prediction"] = pred_acc.result(n_valid, ref_sum, dr, scale)
    result["scale"] = scale
    s = result["prediction"]
    if s["ssim"] is None:
        warnings.append("SSIM left out: no scored pixel lies 5 pixels away from the image border")
    if s["ergas"] is None:
        warnings.append("ERGAS left out: a reference band has a zero mean over the scored pixels")
    if nb > 1 and s["sam_deg"] is None:
        warnings.append("SAM left out: every scored pixel has an all-zero spectrum")
    result["warnings"] = warnings
    return result
