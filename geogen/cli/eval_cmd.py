"""`geogen eval`: image-quality scores (prediction vs reference, Wald's protocol, class fidelity)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
import numpy as np

from geogen.errors import GeogenError

WALD_MAX_PIXELS = 40_000_000
"""Largest fine grid `eval wald` takes (it holds every band of the scene, degraded and sharpened)."""


def _emit(d: dict[str, Any], as_json: bool, render) -> None:
    if as_json:
        click.echo(json.dumps(d, indent=2, default=float))
    else:
        render(d)


def _guard(fn):
    """Run ``fn``; every failure prints one line ``geogen: error: ...`` and exits non-zero, never a traceback.

    User mistakes exit with their code (2); running out of memory says so; anything else is reported as a bug
    (GEOGEN_DEBUG=1 prints the traceback). Library warnings raised meanwhile are held back: they go out as
    ``warning:`` lines after a success, never before an error line.
    """
    import os
    import traceback

    from geogen.io.gdal_env import bounded_gdal_cache
    from geogen.progress import capture_library_warnings

    def fail(message: str, code: int) -> NoReturn:
        click.echo(f"geogen: error: {message}", err=True)
        sys.exit(code)

    held: list[str] = []
    try:
        with capture_library_warnings(held), bounded_gdal_cache():  # memory bounded whatever the raster size
            out = fn()
    except GeogenError as exc:
        fail(str(exc), exc.exit_code)
    except MemoryError:
        fail("not enough memory to score these rasters; crop them first (e.g. gdal_translate -srcwin)", 1)
    except KeyboardInterrupt:
        fail("cancelled", 130)
    except Exception as exc:  # a bug, not a user mistake
        if os.environ.get("GEOGEN_DEBUG"):
            traceback.print_exc()
        fail(
            f"internal error ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); this is a "
            "bug in geogen, please report it (set GEOGEN_DEBUG=1 to see the traceback)",
            1,
        )
    if isinstance(out, dict):
        out.setdefault("warnings", [])
        out["warnings"].extend(m for m in held if m not in out["warnings"])
        for message in out["warnings"]:
            click.echo(f"warning: {message}", err=True)
    return out


def _data_range(value: str | None) -> float | None:
    from geogen.eval.compare import check_data_range

    return check_data_range(value, "--data-range")


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)


@click.group("eval")
def eval_() -> None:
    """Score images: prediction vs reference, Wald's protocol on a Sentinel-2 input, class fidelity."""


@eval_.command("compare")
@click.argument("prediction", type=click.Path(path_type=Path))
@click.argument("reference", type=click.Path(path_type=Path))
@click.option(
    "--lr",
    "lr_path",
    type=click.Path(path_type=Path),
    default=None,
    help="low-resolution input: its bicubic upsampling is scored alongside",
)
@click.option(
    "--data-range",
    type=str,
    default=None,
    help="value range for PSNR/SSIM (default: 255 for 8-bit, 10000 for 16-bit, 1 for float)",
)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def compare(
    prediction: Path, reference: Path, lr_path: Path | None, data_range: str | None, as_json: bool
) -> None:
    """PSNR, SSIM, SAM, ERGAS, RMSE of PREDICTION against REFERENCE (same grid)."""
    from geogen.eval.compare import compare_rasters

    d = _guard(
        lambda: compare_rasters(prediction, reference, lr_path=lr_path, data_range=_data_range(data_range))
    )

    def render(d: dict[str, Any]) -> None:
        click.echo(
            f"bands: {', '.join(d['bands'])}; data range {d['data_range']:g}; {d['pixels']} valid pixels"
            + (f" ({d['nonfinite_pixels']} NaN/inf left out)" if d.get("nonfinite_pixels") else "")
        )
        click.echo(f"{'':<12}{'PSNR dB':>10}{'SSIM':>10}{'SAM deg':>10}{'ERGAS':>10}{'RMSE':>12}")
        for name in ("bicubic", "prediction"):
            if name in d:
                s = d[name]
                click.echo(
                    f"{name:<12}{_fmt(s['psnr_db']):>10}{_fmt(s['ssim']):>10}{_fmt(s['sam_deg']):>10}"
                    f"{_fmt(s['ergas']):>10}{_fmt(s['rmse']):>12}"
                )

    _emit(d, as_json, render)


@eval_.command("wald")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "--engine",
    "engines",
    multiple=True,
    default=("sharpen",),
    show_default=True,
    help="engine(s) to score (bicubic is always scored)",
)
@click.option("--factor", type=int, default=2, show_default=True, help="degradation factor")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def wald_cmd(input_path: Path, engines: tuple[str, ...], factor: int, seed: int, as_json: bool) -> None:
    """Wald's protocol on a Sentinel-2 INPUT: degrade every band, sharpen back, score against the originals."""
    from geogen.eval.wald import wald
    from geogen.io.sentinel2 import open_s2

    def run() -> dict[str, Any]:
        from geogen.errors import RasterError

        with open_s2(input_path) as stack:
            rows, cols = stack.grid.shape
            if rows * cols > WALD_MAX_PIXELS:
                raise RasterError(
                    f"{input_path} is {cols} x {rows} px; Wald's protocol holds the whole scene in memory and "
                    f"takes at most {WALD_MAX_PIXELS // 10**6} million pixels: crop it first (--aoi in superres, "
                    "or gdal_translate -srcwin)"
                )
            try:
                return wald(stack, list(engines), factor=factor, seed=seed).to_json()
            except ValueError as exc:
                if isinstance(exc, GeogenError):
                    raise
                raise RasterError(f"{input_path}: {exc}") from None

    d = _guard(run)

    def render(d: dict[str, Any]) -> None:
        click.echo(
            f"Wald protocol, factor {d['factor']}, bands {', '.join(d['bands'])}, "
            f"fine grid {d['fine_shape'][0]} x {d['fine_shape'][1]}, data range {d['data_range']:g}"
        )
        click.echo(f"{'engine':<12}{'PSNR dB':>10}{'SSIM':>10}{'SAM deg':>10}{'ERGAS':>10}{'seconds':>10}")
        for name, s in d["scores"].items():
            click.echo(
                f"{name:<12}{_fmt(s['psnr']):>10}{_fmt(s['ssim']):>10}{_fmt(s['sam']):>10}"
                f"{_fmt(s['ergas']):>10}{_fmt(s['seconds']):>10}"
            )

    _emit(d, as_json, render)


@eval_.command("fidelity")
@click.argument("image", type=click.Path(path_type=Path))
@click.argument("class_map", type=click.Path(path_type=Path))
@click.option(
    "--ref-image", type=click.Path(path_type=Path), required=True, help="a real image of the classes"
)
@click.option(
    "--ref-mask", type=click.Path(path_type=Path), required=True, help="the class map of --ref-image"
)
@click.option("--vocabulary", default="flair19", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def fidelity_cmd(
    image: Path, class_map: Path, ref_image: Path, ref_mask: Path, vocabulary: str, as_json: bool
) -> None:
    """How well IMAGE follows CLASS_MAP: per-class colour/texture distance to a real reference (lower is better)."""
    from geogen.errors import RasterError
    from geogen.eval.fidelity import class_fidelity
    from geogen.io.raster import open_raster
    from geogen.landcover import get_vocabulary

    def read(path: Path, bands: list[int]):
        with open_raster(path) as ds:
            if ds.count < max(bands):
                raise RasterError(f"{path} has {ds.count} band(s), {max(bands)} needed")
            if bands == [1]:  # a class map: codes as stored
                return _read_native(ds, path)
            data = _read_f32(ds, bands, None, path)
            if not np.isfinite(data).all():
                raise RasterError(f"{path} has NaN or infinite values; class fidelity needs finite colours")
            return data

    def run() -> dict[str, Any]:
        try:
            return class_fidelity(
                read(image, [1, 2, 3]),
                read(class_map, [1])[0],
                read(ref_image, [1, 2, 3]),
                read(ref_mask, [1])[0],
                get_vocabulary(vocabulary),
            )
        except ValueError as exc:
            if isinstance(exc, GeogenError):
                raise
            raise RasterError(str(exc)) from None

    d = _guard(run)

    def render(d: dict[str, Any]) -> None:
        click.echo(
            f"class fidelity distance {d['distance']:.4f} (score {d['score']:.4f}; colour {d['colour']:.4f}, "
            f"texture {d['texture']:.4f})"
        )
        for name, c in d["per_class"].items():
            click.echo(f"  {name:<24}{c['pixels']:>9} px  distance {c['distance']:.4f}")
        if d.get("unmatched"):
            click.echo(f"  not in the reference: {', '.join(d['unmatched'])}")

    _emit(d, as_json, render)


@eval_.command("consistency")
@click.argument("sr_path", metavar="SR", type=click.Path(path_type=Path))
@click.argument("lr_path", metavar="LR", type=click.Path(path_type=Path))
@click.option(
    "--data-range",
    type=str,
    default=None,
    help="divide values by this to get reflectance (default: 10000 for 16-bit, 255 for 8-bit, 1 for float)",
)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def consistency_cmd(sr_path: Path, lr_path: Path, data_range: str | None, as_json: bool) -> None:
    """opensr-test consistency of a super-resolved SR against its low-resolution input LR (RGB bands).

    Reflectance L1 and spectral angle (degrees) between SR degraded to LR's grid and LR, and the spatial shift
    in LR pixels (phase correlation). SR's pixel size must divide LR's.
    """
    from geogen.errors import RasterError
    from geogen.eval.compare import default_data_range
    from geogen.eval.opensr import consistency_metrics
    from geogen.io.raster import dataset_grid, open_raster

    def run() -> dict[str, Any]:
        dr = _data_range(data_range)
        with open_raster(sr_path) as s, open_raster(lr_path) as lo:
            sg, lg = dataset_grid(s), dataset_grid(lo)
            scale = lg.res[0] / sg.res[0]
            if abs(scale - round(scale)) > 1e-6 or round(scale) < 1:
                raise RasterError(
                    f"{sr_path}'s pixel size {sg.res[0]:g} does not divide {lr_path}'s {lg.res[0]:g}"
                )
            sr_bands, lr_bands = _rgb_indexes(s), _rgb_indexes(lo)
            n = min(len(sr_bands), len(lr_bands))
            sr_bands, lr_bands = sr_bands[:n], lr_bands[:n]
            sr = _read_f32(s, sr_bands, None, sr_path) / (dr or default_data_range(s.dtypes[0]))
            lr = _read_f32(lo, lr_bands, lo.window(*sg.bounds), lr_path)
            lr /= dr or default_data_range(lo.dtypes[0])
        k = round(scale)
        h, w = lr.shape[1] * k, lr.shape[2] * k
        if sr.shape[1] < h or sr.shape[2] < w:
            raise RasterError(f"{sr_path} does not cover {lr_path} on the same footprint")
        sr = sr[:, :h, :w]
        lr_ok = np.isfinite(lr).all(axis=0)
        sr_ok = np.isfinite(sr).all(axis=0).reshape(lr.shape[1], k, lr.shape[2], k).all(axis=(1, 3))
        valid = lr_ok & sr_ok
        if not valid.any():
            raise RasterError(f"no pixel of {sr_path} and {lr_path} can be scored: every pixel is NaN/inf")
        bad = int((~valid).sum())
        for a in (lr, sr):  # NaN/inf filled with the band's mean for the shift; left out of the other scores
            for band in a:
                f = np.isfinite(band)
                band[~f] = band[f].mean() if f.any() else 0.0
        out = consistency_metrics(
            lr, sr, k, rgb_bands=(0, 1, 2) if n == 3 else (0, 0, 0), valid=valid if bad else None
        )
        notes: list[str] = []
        if bad:
            notes.append(
                f"{bad} pixel(s) of {lr_path}'s grid with NaN or infinite values left out of the reflectance "
                "and spectral scores"
            )
        return {
            "scale": k,
            **{key: float(v) for key, v in out.items()},
            "nonfinite_pixels": bad,
            "warnings": notes,
        }

    d = _guard(run)

    def render(d: dict[str, Any]) -> None:
        click.echo(
            f"scale {d['scale']}: reflectance L1 {d['reflectance']:.5f}, spectral {d['spectral']:.3f} deg, "
            f"spatial shift {d['spatial']:.3f} LR px"
        )

    _emit(d, as_json, render)


def _read_f32(ds, bands: list[int], window, path: Path) -> np.ndarray:
    """Bands of ``ds`` as float32 (a truncated or corrupt file is a one-line error naming it)."""
    from geogen.io.raster import reading

    with reading(path):
        return ds.read(bands, window=window, out_dtype="float32")


def _read_native(ds, path: Path) -> np.ndarray:
    from geogen.io.raster import reading

    with reading(path):
        return ds.read([1])


def _rgb_indexes(ds) -> list[int]:
    """1-based indexes of red, green, blue: by band description (B04/B03/B02 or red/green/blue), else 1-3."""
    from geogen.sensors.sentinel2 import RGB_BANDS, find_band

    names = [(d or "").strip() for d in ds.descriptions]
    found = []
    for s2, word in zip(RGB_BANDS, ("red", "green", "blue"), strict=True):
        idx = next((i + 1 for i, d in enumerate(names) if d.lower() == word or find_band(d) == s2), None)
        if idx is None:
            return list(range(1, min(3, ds.count) + 1))
        found.append(idx)
    return found
