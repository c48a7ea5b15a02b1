"""Benchmark of the exemplar (texture-by-numbers) engine on the real FLAIR pairs, one thread.

Measures (1) speed in megapixels per second for 512 x 512 and 1024 x 1024 maps (in one window and tiled),
(2) class fidelity of the engine vs a per-class flat-colour fill, leave-one-out over the 3 FLAIR pairs
(each pair's map synthesised from the two others), (3) the repetition score of the outputs vs the real
images, with a naive quilting variant (no reuse penalty, no borrowing, no colour modulation) for contrast.

Writes bench/results/exemplar.json and exemplar.md. Run from the repository root:

    .venv/bin/python bench/bench_exemplar.py [--data ../shared/data/flair1_aerial_masks]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import rasterio  # noqa: E402

from geogen.engines.exemplar import QuiltParams, bundled_exemplars, make_bank, synthesize, synthesize_tiled  # noqa: E402
from geogen.eval.baselines import flat_fill  # noqa: E402
from geogen.eval.fidelity import class_fidelity, repetition_score  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
IDS = ("067998", "073879", "076201")
SEEDS = (0, 1, 2)


def machine() -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "threads": 1,
        "logical_cpus": os.cpu_count(),
    }
    if hasattr(os, "getloadavg"):
        info["load_average_1min_at_start"] = round(os.getloadavg()[0], 2)
    if shutil.which("lscpu"):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "CPU(s)", "Architecture", "Hypervisor vendor"):
                info[key.strip()] = value.strip()
    return info


def load_pairs(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    pairs = {}
    for i in IDS:
        with rasterio.open(folder / f"IMG_{i}_RGB.tif") as src:
            image = src.read()
        with rasterio.open(folder / f"MSK_{i}.tif") as src:
            pairs[i] = (image, src.read(1))
    return pairs


def timed(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), result


def _tiled(cmap: np.ndarray, bank) -> None:
    synthesize_tiled(
        lambda w: cmap[w.slices], cmap.shape, bank, seed=0, sink=lambda w, a: None, tile=512, overlap=32
    )


def _tiled(cmap: np.ndarray, bank) -> None:
    synthesize_tiled(
        lambda w: cmap[w.slices], cmap.shape, bank, seed=0, sink=lambda w, a: None, tile=512, overlap=32
    )


def bench_speed(pairs) -> dict:
    exemplars = bundled_exemplars()
    params = QuiltParams()
    t_bank, bank = timed(lambda: make_bank(exemplars, params), 3)
    maps = {
        "512x512": pairs["076201"][1],
        "1024x1024": np.block(
            [[pairs["067998"][1], pairs["073879"][1]], [pairs["076201"][1], pairs["067998"][1][::-1]]]
        ),
    }
    out = {"exemplars": "bundled flair_067998 + flair_073879", "bank_build_s": t_bank, "maps": {}}
    for name, cmap in maps.items():
        mp = cmap.size / 1e6
        t_one, _ = timed(partial(synthesize, cmap, bank, seed=0), 3 if cmap.size <= 512 * 512 else 2)
        t_tiled, _ = timed(partial(_tiled, cmap, bank), 2)
        out["maps"][name] = {
            "megapixels": mp,
            "one_window_s": t_one,
            "one_window_mp_per_s": mp / t_one,
            "tiled_512_overlap_32_s": t_tiled,
            "tiled_mp_per_s": mp / t_tiled,
        }
    return out


def bench_quality(pairs) -> dict:
    naive = replace(QuiltParams(), reuse_weight=0.0, reuse_limit=1e9, colour_amplitude=0.0)
    per_pair = {}
    for target in IDS:
        real, cmap = pairs[target]
        exemplars = [pairs[i] for i in IDS if i != target]
        bank = make_bank(exemplars, QuiltParams())
        flat = class_fidelity(flat_fill(cmap, exemplars), cmap, real, cmap)
        runs = []
        for seed in SEEDS:
            image, warnings = synthesize(cmap, bank, seed=seed)
            fid = class_fidelity(image, cmap, real, cmap)
            runs.append(
                {
                    "seed": seed,
                    "distance": fid["distance"],
                    "colour": fid["colour"],
                    "texture": fid["texture"],
                    "repetition": repetition_score(image) if seed == SEEDS[0] else None,
                    "warnings": warnings,
                    "per_class": {k: round(v["distance"], 4) for k, v in fid["per_class"].items()},
                }
            )
        naive_image, _ = synthesize(cmap, bank, seed=SEEDS[0], params=naive)
        per_pair[target] = {
            "exemplars": [i for i in IDS if i != target],
            "flat_fill": {"distance": flat["distance"], "colour": flat["colour"], "texture": flat["texture"]},
            "engine": runs,
            "engine_mean_distance": float(np.mean([r["distance"] for r in runs])),
            "flat_fill_per_class": {k: round(v["distance"], 4) for k, v in flat["per_class"].items()},
            "repetition": {
                "real": repetition_score(real),
                "engine_seed0": runs[0]["repetition"],
                "naive_quilting_seed0": repetition_score(naive_image),
            },
            "naive_quilting_distance": class_fidelity(naive_image, cmap, real, cmap)["distance"],
        }
    return per_pair


def write_markdown(result: dict, path: Path) -> None:
    m = result["machine"]
    lines = [
        "# Exemplar engine benchmark",
        "",
        f"Machine: {m.get('Model name', '?')} ({m.get('CPU(s)', '?')} logical CPUs, "
        f"{m.get('Hypervisor vendor', 'bare metal')} VM), {m['platform']}, Python {m['python']}, "
        f"numpy {m['numpy']}; **1 thread** (OMP/OpenBLAS/MKL = 1). "
        "The machine was shared with other jobs (1-min load average at start: "
        f"{m.get('load_average_1min_at_start', '?')}), so times are indicative.",
        "",
        f"Command: `{result['command']}`  ",
        f"Run: {result['date']}",
        "",
        "## Speed (bundled exemplars: flair_067998 + flair_073879)",
        "",
        f"Building the exemplar bank: {result['speed']['bank_build_s']:.2f} s (once per job).",
        "",
        "| map | one window: s | MP/s | tiled (512, overlap 32): s | MP/s |",
        "|---|---|---|---|---|",
    ]
    for name, s in result["speed"]["maps"].items():
        lines.append(
            f"| {name} | {s['one_window_s']:.2f} | {s['one_window_mp_per_s']:.3f} | "
            f"{s['tiled_512_overlap_32_s']:.2f} | {s['tiled_mp_per_s']:.3f} |"
        )
    lines += [
        "",
        "## Class fidelity, leave-one-out over the 3 FLAIR pairs (distance: lower is better; 0 = real image)",
        "",
        "Each pair's class map is synthesised from the two other pairs "
        f"(seeds {', '.join(map(str, SEEDS))}) and compared with the real image by "
        "`geogen.eval.fidelity.class_fidelity` (per-class 1-Wasserstein distances of R, G, B, "
        "gradient magnitude and 5x5 local std, normalised by the reference's std, weighted by class area).",
        "",
        "| target | exemplars | flat fill | engine (mean of seeds) | engine colour / texture "
        "| flat colour / texture | naive quilting |",
        "|---|---|---|---|---|---|---|",
    ]
    for t, r in result["quality"].items():
        col = np.mean([x["colour"] for x in r["engine"]])
        tex = np.mean([x["texture"] for x in r["engine"]])
        seeds = ", ".join(f"{x['distance']:.3f}" for x in r["engine"])
        lines.append(
            f"| {t} | {' + '.join(r['exemplars'])} | {r['flat_fill']['distance']:.3f} "
            f"| {r['engine_mean_distance']:.3f} (seeds: {seeds}) | {col:.3f} / {tex:.3f} "
            f"| {r['flat_fill']['colour']:.3f} / {r['flat_fill']['texture']:.3f} "
            f"| {r['naive_quilting_distance']:.3f} |"
        )
    lines += [
        "",
        "## Repetition score",
        "",
        "Share of textured 16 px patches with a near-duplicate elsewhere "
        "(`geogen.eval.fidelity.repetition_score`); real imagery ~0.02-0.14.",
        "",
        "| target | real image | engine (seed 0) "
        "| naive quilting (no reuse penalty, no borrowing, no colour modulation) |",
        "|---|---|---|---|",
    ]
    for t, r in result["quality"].items():
        rep = r["repetition"]
        lines.append(
            f"| {t} | {rep['real']:.3f} | {rep['engine_seed0']:.3f} | {rep['naive_quilting_seed0']:.3f} |"
        )
    lines += ["", "## Warnings the engine gave (seed 0)", ""]
    for t, r in result["quality"].items():
        for w in r["engine"][0]["warnings"]:
            lines.append(f"- {t}: {w}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "flair1_aerial_masks")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    pairs = load_pairs(args.data)
    result = {
        "command": "OMP_NUM_THREADS=1 .venv/bin/python bench/bench_exemplar.py",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": machine(),
        "speed": bench_speed(pairs),
        "quality": bench_quality(pairs),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "exemplar.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    write_markdown(result, args.out / "exemplar.md")
    print((args.out / "exemplar.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
