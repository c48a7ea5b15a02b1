"""The golden cases: one version-1 job file per task and engine, run through the `geogen run` command line, and
the fingerprint of what each writes (geometry and per-band pixel hashes, never tags or result.json fields).

Everything here goes through interfaces meant to survive internal refactors:
- the job files (``geogen/schemas/job-v1.schema.json``), executed by the console entry point
  ``geogen.cli.main:main`` in a subprocess (``CLI`` below: the one place to change if the entry point moves);
- the tiny random-weight models of ``tests.tiny_models`` (deterministic builders), saved to a folder and named
  by path in the jobs;
- inputs copied from ``geogen/data`` of this checkout (the bundled BigEarthNet L2A patch and a FLAIR
  image/mask pair) or written here deterministically (a mask crop, three polygons, one dated RGB frame).

Nothing else of geogen is imported: this module must keep working, unchanged, on the refactored tree.

    inputs = prepare_inputs(work / "inputs")        # copies / writes the input files, returns their paths
    models = build_models(work / "models")          # builds the tiny models (tests.tiny_models)
    job = CASES[name](case_dir, inputs, models)     # a job dict (absolute paths, outputs in case_dir/out)
    fp = run_case(name, case_dir, inputs, models)   # writes case_dir/job.json, runs `geogen run` on it in a
                                                    # subprocess, returns the outputs' fingerprint

What is compared: the output file names (result.json order); per GeoTIFF its shape, dtype, CRS, transform,
nodata and the sha256 of each band's raw pixels; per NetCDF the dtype, shape, dims and sha256 of each data
variable's stored values and a sha256 of each coordinate. Tags and all other result.json fields are not.
Jobs run on the CPU in float32 with one thread and PYTHONHASHSEED=0 (``BASE_ENV``): outputs recorded twice,
and once with another hash seed, were identical.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.windows import Window as RioWindow

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]  # the checkout this file belongs to: its geogen/data holds the inputs
DATA = REPO / "geogen" / "data"
SAMPLE_NAME = "S2A_MSIL2A_20170613T101031_87_48"  # BigEarthNet, Upper Austria, L2A, 120 x 120 px at 10 m
EXEMPLAR_IDS = ("067998", "073879")

# The console entry point, called exactly as the `geogen` script does ([project.scripts] in pyproject.toml).
CLI = "import sys; from geogen.cli.main import main; sys.exit(main())"

# What every run gets: one thread, fixed hash seed, no network, an empty model store of its own.
BASE_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "GEOGEN_DEBUG": "1",  # a traceback on stderr if a case fails
}
CPU_FP32 = {"device": "cpu", "dtype": "fp32"}  # never "auto": a GPU would give other pixels
RUN_TIMEOUT_S = 600


# --- which geogen -----------------------------------------------------------------------------------------


def geogen_root() -> Path:
    """The folder holding the ``geogen`` package this interpreter imports (PYTHONPATH first, then the
    installed one); the job subprocesses get it first on their PYTHONPATH, so they run the same code."""
    spec = importlib.util.find_spec("geogen")
    if spec is None or spec.origin is None:
        raise RuntimeError("geogen is not importable from this interpreter")
    return Path(spec.origin).resolve().parents[1]


def run_env(home: Path) -> dict[str, str]:
    """The environment of a job subprocess: this one's, plus ``BASE_ENV``, the model store at ``home`` and
    ``geogen_root()`` at the head of PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEOGEN_")}
    env.update(BASE_ENV)
    env["GEOGEN_HOME"] = str(home)
    paths = [str(geogen_root()), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def subprocess_geogen(home: Path, cwd: Path) -> str:
    """Where the job subprocesses import geogen from (as they would run a job)."""
    out = subprocess.run(
        [sys.executable, "-c", "import geogen; print(geogen.__file__)"],
        env=run_env(home),
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return str(Path(out.stdout.strip()).resolve())


def tiny_models_module():
    """``tests.tiny_models`` as the other test folders import it; when ``tests`` is not importable (a script
    run from elsewhere), from the checkout of the imported geogen."""
    try:
        return importlib.import_module("tests.tiny_models")
    except ModuleNotFoundError as exc:
        if exc.name not in ("tests", "tests.tiny_models"):
            raise
    sys.path.append(str(geogen_root()))
    return importlib.import_module("tests.tiny_models")


# --- inputs -----------------------------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_mask_crop(src_path: Path, out: Path) -> Path:
    """96 x 96 px (19.2 m) of a FLAIR mask, with a 12 px nodata corner (must come out transparent)."""
    win = RioWindow(384, 64, 96, 96)
    with rasterio.open(src_path) as src:
        data = src.read(1, window=win)
        profile = {
            "driver": "GTiff",
            "width": win.width,
            "height": win.height,
            "count": 1,
            "dtype": "uint8",
            "crs": src.crs,
            "transform": src.window_transform(win),
            "nodata": 0,
        }
    data[:12, :12] = 0
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data, 1)
    return out


def _write_polygons(out: Path) -> Path:
    """Three land-cover polygons (FLAIR class names in field "lc") in EPSG:2154 inside the 067998 exemplar's
    footprint, as plain GeoJSON text (coordinates written by hand: no writer library in between)."""
    x0, y0 = 1025670.0, 6747300.0
    rings = [
        ("building", [(x0, y0), (x0 + 12, y0), (x0 + 12, y0 + 16), (x0, y0 + 16)]),
        ("water", [(x0 + 12, y0), (x0 + 24, y0), (x0 + 24, y0 + 8), (x0 + 12, y0 + 8)]),
        ("deciduous", [(x0 + 12, y0 + 8), (x0 + 20, y0 + 8), (x0 + 17, y0 + 16), (x0 + 12, y0 + 16)]),
    ]
    features = [
        {
            "type": "Feature",
            "properties": {"lc": name},
            "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in [*ring, ring[0]]]]},
        }
        for name, ring in rings
    ]
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}},
        "features": features,
    }
    out.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return out


def _write_rgb_frame(sample: Path, out: Path) -> Path:
    """An 8-bit true-colour frame of the sample (B04, B03, B02 x 2.5 x 255, clipped), a little brightened so
    it differs from the sample; dated by its name. Only numpy arithmetic: bit-identical every time."""
    bands = []
    for b in ("B04", "B03", "B02"):
        with rasterio.open(sample / f"{SAMPLE_NAME}_{b}.tif") as ds:
            bands.append(ds.read(1).astype(np.float64))
            crs, transform, (h, w) = ds.crs, ds.transform, ds.shape
    rgb = np.clip(np.rint(np.stack(bands) / 10000.0 * 2.5 * 255.0 * 1.1 + 5.0), 1, 255).astype(np.uint8)
    profile = {
        "driver": "GTiff",
        "width": w,
        "height": h,
        "count": 3,
        "dtype": "uint8",
        "crs": crs,
        "transform": transform,
        "photometric": "RGB",
    }
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(rgb)
    return out


def prepare_inputs(folder: Path) -> dict[str, Path]:
    """The input files of every case under ``folder``: copies of the bundled data and files written here."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (DATA / "sample_s2" / SAMPLE_NAME).is_dir():
        raise FileNotFoundError(f"bundled Sentinel-2 sample not found under {DATA / 'sample_s2'}")
    sample = folder / SAMPLE_NAME
    shutil.copytree(DATA / "sample_s2" / SAMPLE_NAME, sample, dirs_exist_ok=True)
    exemplar = {}
    for ident in EXEMPLAR_IDS:
        src = DATA / "exemplars" / f"flair_{ident}"
        for name in (f"IMG_{ident}_RGB.tif", f"MSK_{ident}.tif"):
            shutil.copyfile(src / name, folder / name)
        exemplar[ident] = (folder / f"IMG_{ident}_RGB.tif", folder / f"MSK_{ident}.tif")
    return {
        "sample": sample,
        "exemplar_image": exemplar["073879"][0],
        "exemplar_mask": exemplar["073879"][1],
        "mask_crop": _write_mask_crop(exemplar["067998"][1], folder / "msk_067998_crop.tif"),
        "polygons": _write_polygons(folder / "sketch_2154.geojson"),
        "rgb_frame": _write_rgb_frame(sample, folder / "sample_rgb_20170601.tif"),
    }


def input_hashes(inputs: dict[str, Path]) -> dict[str, str]:
    """sha256 of every input file (folders: each file in it), by path relative to the inputs folder."""
    root = inputs["sample"].parent
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {p.relative_to(root).as_posix(): _sha256_file(p) for p in files}


# --- models -----------------------------------------------------------------------------------------------


def build_models(folder: Path) -> dict[str, Path]:
    """The tiny models of ``tests.tiny_models`` under ``folder``, by role."""
    import torch

    torch.set_num_threads(1)
    tm = tiny_models_module()
    diffusionsat = tm.build_tiny_diffusionsat(folder / "tiny-diffusionsat")
    sr_controlnet = tm.build_sr_controlnet(diffusionsat, folder / "tiny-sr-controlnet")
    sd = tm.build_tiny_sd(folder / "tiny-sd")
    landcover_controlnet = tm.build_tiny_controlnet(folder / "tiny-landcover-controlnet")
    temporal_base, controlnet_3d = tm.build_temporal_models(folder / "temporal")
    return {
        "diffusionsat": diffusionsat,
        "sr_controlnet": sr_controlnet,
        "sd": sd,
        "landcover_controlnet": landcover_controlnet,
        "temporal_base": temporal_base,
        "controlnet_3d": controlnet_3d,
    }


def _tensor_digest(tensors: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}\n".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def model_hashes(models: dict[str, Path]) -> dict[str, str]:
    """A digest of the tensors of every weight file (safetensors or pickle), by role and relative path:
    proof that the builders gave the same models (container bytes and config files are left out)."""
    import torch
    from safetensors.numpy import load_file

    out = {}
    for role, folder in sorted(models.items()):
        for path in sorted(folder.rglob("*")):
            if path.suffix == ".safetensors":
                tensors = load_file(str(path))
            elif path.suffix == ".bin":
                state = torch.load(path, map_location="cpu", weights_only=True)
                tensors = {k: v.detach().cpu().contiguous().numpy() for k, v in state.items()}
            else:
                continue
            out[f"{role}/{path.relative_to(folder).as_posix()}"] = _tensor_digest(tensors)
    return out


# --- the cases --------------------------------------------------------------------------------------------


def _output(case_dir: Path, name: str, **more: Any) -> dict[str, Any]:
    return {"dir": str(case_dir / "out"), "name": name, **more}


def superres_sharpen(case_dir: Path, inputs: dict[str, Path], models: dict[str, Path]) -> dict[str, Any]:
    """Default engine on the whole bundled patch in 64 px windows (4 windows, edge windows partial)."""
    return {
        "version": 1,
        "task": "superres",
        "engine": "sharpen",
        "input": str(inputs["sample"]),
        "options": {"tile": 64},
        "output": _output(case_dir, "sharpen"),
    }


def superres_sharpen_aoi(case_dir: Path, inputs: dict[str, Path], models: dict[str, Path]) -> dict[str, Any]:
    """``aoi`` given in lon/lat (transformed to the patch's UTM grid), a band subset, method "glp" without
    the consistency step."""
    return {
        "version": 1,
        "task": "superres",
        "engine": "sharpen",
        "input": str(inputs["sample"]),
        "aoi": {"bounds": [13.7168, 48.2193, 13.7251, 48.2252], "crs": "EPSG:4326"},
        "bands": ["B12", "B05", "B8A", "B02", "B01"],
        "options": {"tile": 64, "method": "glp", "consistency": False},
        "output": _output(case_dir, "sharpen_aoi"),
    }


def superres_bicubic_reproject(
    case_dir: Path, inputs: dict[str, Path], models: dict[str, Path]
) -> dict[str, Any]:
    """Bicubic baseline, written in EPSG:3035 (``output.crs``: a warp after the work)."""
    return {
        "version": 1,
        "task": "superres",
        "engine": "bicubic",
        "input": str(inputs["sample"]),
        "output": _output(case_dir, "bicubic_3035", crs="EPSG:3035"),
    }


def superres_sharpen_cnn(case_dir: Path, inputs: dict[str, Path], models: dict[str, Path]) -> dict[str, Any]:
    """The scene-trained CNN, made small (40 iterations, 2 blocks of 8 channels): seconds, not minutes."""
    return {
        "version": 1,
        "task": "superres",
        "engine": "sharpen-cnn",
        "seed": 4,
        "input": str(inputs["sample"]),
        "options": {"tile": 64, "iterations": 40, "blocks": 2, "channels": 8, "patch": 24, "batch": 4},
        "output": _output(case_dir, "cnn"),
    }


SR_AOI = [404600.0, 5341500.0, 404760.0, 5341620.0]  # 16 x 12 px of the patch -> 64 x 48 px at 2.5 m


def superres_diffusionsat(case_dir: Path, inputs: dict[str, Path], models: dict[str, Path]) -> dict[str, Any]:
    """DiffusionSat's SR ControlNet (tiny), scale 4, 32 px windows overlapping by 8, consistency on."""
    return {
        "version": 1,
        "task": "superres",
        "engine": "diffusionsat",
        "model": str(models["sr_controlnet"]),
        "input": str(inputs["sample"]),
        "aoi": {"bounds": SR_AOI, "crs": "EPSG:32633"},
        "steps": 2,
        "seed": 1,
        "options": {
            "base_model": str(models["diffusionsat"]),
            "scale": 4,
            "window": 32,
            "overlap": 8,
            **CPU_FP32,
        },
        "output": _output(case_dir, "sr"),
    }


def superres_diffusionsat_3d(
    case_dir: Path, inputs: dict[str, Path], models: dict[str, Path]
) -> dict[str, Any]:
    """DiffusionSat's 3-D ControlNet (tiny): the patch's date (2017-06-13) drawn at 2.5 m, conditioned on the
    patch and the RGB frame of 2017-06-01 (two renderings: Sentinel-2 true colour and 8-bit RGB)."""
    return {
        "version": 1,
        "task": "superres",
        "engine": "diffusionsat-3d",
        "model": str(models["controlnet_3d"]),
        "inputs": [{"path": str(inputs["sample"])}, {"path": str(inputs["rgb_frame"])}],
        "aoi": {"bounds": [404800.0, 5341700.0, 404920.0, 5341820.0], "crs": "EPSG:32633"},
        "target_gsd": 2.5,
        "steps": 2,
        "seed": 3,
        "options": {"base_model": str(models["temporal_base"]), **CPU_FP32},
        "output": _output(case_dir, "sr3d"),
    }


def sketch_exemplar_mask(case_dir: Path, inputs: dict[str, Path], models: dict[str, Path]) -> dict[str, Any]:
    """Weight-free exemplar engine on a FLAIR class raster (with a nodata corner), bundled exemplars."""
    return {
        "version": 1,
        "task": "sketch",
        "engine": "exemplar",
        "landcover": str(inputs["mask_crop"]),
        "seed": 2,
        "output": _output(case_dir, "exemplar_mask"),
    }


def sketch_exemplar_polygons(
    case_dir: Path, inputs: dict[str, Path], models: dict[str, Path]
) -> dict[str, Any]:
    """Polygons (GeoJSON, EPSG:2154) at 0.4 m over an ``aoi`` wider than them, with an explicit exemplar pair,
    written in EPSG:4326 (``output.crs``)."""
    x0, y0 = 1025670.0, 6747300.0
    return {
        "version": 1,
        "task": "sketch",
        "engine": "exemplar",
        "landcover": str(inputs["polygons"]),
        "class_field": "lc",
        "aoi": {"bounds": [x0 - 2.2, y0 - 1.9, x0 + 25.1, y0 + 17.6], "crs": "EPSG:2154"},
        "gsd": 0.4,
        "seed": 5,
        "exemplar": {"image": str(inputs["exemplar_image"]), "mask": str(inputs["exemplar_mask"])},
        "output": _output(case_dir, "exemplar_poly", crs="EPSG:4326"),
    }


def sketch_controlnet(case_dir: Path, inputs: dict[str, Path], models: dict[str, Path]) -> dict[str, Any]:
    """Tiny Stable Diffusion + tiny land-cover ControlNet on the FLAIR mask crop (32 px windows)."""
    return {
        "version": 1,
        "task": "sketch",
        "engine": "controlnet",
        "model": str(models["sd"]),
        "landcover": str(inputs["mask_crop"]),
        "place": "Mulhouse",
        "date": "2021-09-08",
        "steps": 2,
        "seed": 3,
        "options": {"controlnet": str(models["landcover_controlnet"]), **CPU_FP32},
        "output": _output(case_dir, "controlnet"),
    }


def sketch_controlnet_polygons(
    case_dir: Path, inputs: dict[str, Path], models: dict[str, Path]
) -> dict[str, Any]:
    """The ControlNet engine on the polygons at 0.5 m, guidance 3, DDIM (the polygons' sketch grid)."""
    return {
        "version": 1,
        "task": "sketch",
        "engine": "controlnet",
        "model": str(models["sd"]),
        "landcover": str(inputs["polygons"]),
        "class_field": "lc",
        "gsd": 0.5,
        "steps": 2,
        "seed": 8,
        "prompt": "an aerial image of a small town",
        "options": {
            "controlnet": str(models["landcover_controlnet"]),
            "guidance_scale": 3.0,
            "scheduler": "ddim",
            **CPU_FP32,
        },
        "output": _output(case_dir, "controlnet_poly"),
    }


def text_diffusionsat(case_dir: Path, inputs: dict[str, Path], models: dict[str, Path]) -> dict[str, Any]:
    """Tiny DiffusionSat over a lon/lat area at 5 m (worked in UTM, several 32 px latent windows)."""
    return {
        "version": 1,
        "task": "text",
        "engine": "diffusionsat",
        "model": str(models["diffusionsat"]),
        "prompt": "a fmow satellite image of a river",
        "aoi": {"bounds": [14.5, 46.04, 14.5045, 46.0428], "crs": "EPSG:4326"},
        "gsd": 5,
        "date": "2021-07-30",
        "cloud_cover": 0.1,
        "guidance_scale": 2.0,
        "steps": 2,
        "seed": 9,
        "options": CPU_FP32,
        "output": _output(case_dir, "text"),
    }


def temporal(case_dir: Path, inputs: dict[str, Path], models: dict[str, Path]) -> dict[str, Any]:
    """A sequence around two observed frames (the RGB frame of 2017-06-01, the patch of 2017-06-13): three
    dates generated by the tiny 3-D ControlNet (before, between, after), plus the NetCDF datacube.

    The earliest input is the RGB file on purpose: the temporal task reads the reference (earliest) frame's
    grid with a single-raster reader, which refuses a Sentinel-2 band folder (at commit 534ae49)."""
    return {
        "version": 1,
        "task": "temporal",
        "model": str(models["temporal_base"]),
        "inputs": [{"path": str(inputs["sample"])}, {"path": str(inputs["rgb_frame"])}],
        "target_dates": ["2017-06-25", "2017-05-20", "2017-07-20"],
        "aoi": {"bounds": [404800.0, 5341600.0, 405040.0, 5341840.0], "crs": "EPSG:32633"},
        "gsd": 10,
        "steps": 2,
        "seed": 3,
        "options": {"controlnet": str(models["controlnet_3d"]), **CPU_FP32},
        "output": _output(case_dir, "seq"),
    }


CASES: dict[str, Callable[[Path, dict[str, Path], dict[str, Path]], dict[str, Any]]] = {
    "superres-sharpen": superres_sharpen,
    "superres-sharpen-aoi": superres_sharpen_aoi,
    "superres-bicubic-reproject": superres_bicubic_reproject,
    "superres-sharpen-cnn": superres_sharpen_cnn,
    "superres-diffusionsat": superres_diffusionsat,
    "superres-diffusionsat-3d": superres_diffusionsat_3d,
    "sketch-exemplar-mask": sketch_exemplar_mask,
    "sketch-exemplar-polygons": sketch_exemplar_polygons,
    "sketch-controlnet": sketch_controlnet,
    "sketch-controlnet-polygons": sketch_controlnet_polygons,
    "text-diffusionsat": text_diffusionsat,
    "temporal": temporal,
}


# --- running and fingerprinting ---------------------------------------------------------------------------


def run_job_file(job_file: Path, home: Path, progress: str = "none") -> subprocess.CompletedProcess:
    """`geogen run JOB_FILE` in a subprocess (cwd: the job's folder)."""
    return subprocess.run(
        [sys.executable, "-c", CLI, "run", str(job_file), "--progress", progress],
        env=run_env(home),
        cwd=job_file.parent,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )


def _sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _crs(crs: Any) -> str | None:
    if crs is None:
        return None
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg is not None else crs.to_wkt()


def geotiff_fingerprint(path: Path) -> dict[str, Any]:
    """Shape, dtype, CRS, transform, nodata and the sha256 of each band's raw pixels (tags left out)."""
    with rasterio.open(path) as ds:
        t = ds.transform
        nodata = ds.nodata
        return {
            "shape": [ds.count, ds.height, ds.width],
            "dtype": ds.dtypes[0] if len(set(ds.dtypes)) == 1 else list(ds.dtypes),
            "crs": _crs(ds.crs),
            "transform": [t.a, t.b, t.c, t.d, t.e, t.f],
            "nodata": None if nodata is None else (repr(nodata) if np.isnan(nodata) else float(nodata)),
            "band_sha256": [_sha256(ds.read(i)) for i in range(1, ds.count + 1)],
        }


def netcdf_fingerprint(path: Path) -> dict[str, Any]:
    """Each data variable's dtype, shape, dims and sha256 of its stored values, and a sha256 of each
    coordinate's values (all undecoded, as stored; attributes left out: they hold engine names and times)."""
    import xarray as xr

    with xr.open_dataset(path, decode_cf=False, mask_and_scale=False, decode_times=False) as ds:
        return {
            "data_vars": {
                name: {
                    "dtype": str(ds[name].dtype),
                    "shape": list(ds[name].shape),
                    "dims": list(ds[name].dims),
                    "sha256": _sha256(ds[name].values),
                }
                for name in sorted(ds.data_vars)
            },
            "coords": {name: _sha256(ds[name].values) for name in sorted(ds.coords)},
        }


def fingerprint(out_dir: Path, result_file: Path) -> dict[str, Any]:
    """The outputs result.json lists (their file names, in its order) and every GeoTIFF / NetCDF written."""
    record = json.loads(result_file.read_text(encoding="utf-8"))
    listed = [Path(o["path"]).name for o in record["outputs"]]
    files = sorted(p.name for p in out_dir.iterdir() if p.is_file() and p.name != result_file.name)
    prints: dict[str, Any] = {}
    for name in files:
        path = out_dir / name
        if path.suffix.lower() in (".tif", ".tiff"):
            prints[name] = geotiff_fingerprint(path)
        elif path.suffix.lower() == ".nc":
            prints[name] = netcdf_fingerprint(path)
        else:
            prints[name] = {"sha256": _sha256_file(path)}
    return {"outputs": listed, "files": prints}


def portable_job(job: dict[str, Any], work: Path) -> dict[str, Any]:
    """``job`` with the folders under ``work`` written as placeholders (<inputs>, <models>, <cases>), as
    expected.json keeps it."""
    text = json.dumps(job)
    for sub in ("inputs", "models", "cases"):
        text = text.replace(json.dumps(str(work / sub))[1:-1], f"<{sub}>")
    return json.loads(text)


class CaseFailed(RuntimeError):
    pass


def run_case(name: str, case_dir: Path, inputs: dict[str, Path], models: dict[str, Path]) -> dict[str, Any]:
    """Write the case's job file under ``case_dir``, run it through the CLI, fingerprint its outputs.

    Raises:
        CaseFailed: the run exited non-zero (its stderr in the message).
    """
    if case_dir.exists():
        shutil.rmtree(case_dir)
    case_dir.mkdir(parents=True)
    job = CASES[name](case_dir, inputs, models)
    job_file = case_dir / "job.json"
    job_file.write_text(json.dumps(job, indent=2) + "\n", encoding="utf-8")
    proc = run_job_file(job_file, case_dir / "geogen_home")
    if proc.returncode != 0:
        raise CaseFailed(
            f"case {name}: `geogen run {job_file}` exited {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-8000:]}"
        )
    out_dir = case_dir / "out"
    return fingerprint(out_dir, out_dir / "result.json")
