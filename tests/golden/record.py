"""Record the golden outputs: run every case of ``cases.py`` with whatever geogen this interpreter imports and
write ``expected.json`` (the fingerprints ``test_golden.py`` compares against, exactly).

Record with the code whose outputs are the reference (here: the pre-refactor commit), e.g. from any folder:

    OMP_NUM_THREADS=1 PYTHONHASHSEED=0 PYTHONPATH=/path/to/old/checkout \\
        .venv/bin/python tests/golden/record.py            # -> tests/golden/expected.json

Without PYTHONPATH it records the installed geogen (this checkout's, when installed editable). It prints which
geogen (and which ``tests.tiny_models``) it used and each case's wall time. ``--out`` writes elsewhere (e.g. to
compare two recordings: determinism), ``--work DIR`` keeps the job folders, ``--case NAME`` runs a subset
(with ``--out`` only: expected.json is always written whole).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def load_cases():
    """``cases.py`` next to this file, loaded by path (no package import: works from any folder)."""
    spec = importlib.util.spec_from_file_location("geogen_golden_cases", HERE / "cases.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def git_describe(root: Path) -> str | None:
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")


def record(work: Path, names: list[str]) -> dict:
    cases = load_cases()
    root = cases.geogen_root()
    tm = cases.tiny_models_module()
    child = cases.subprocess_geogen(work / "probe_home", work)
    print(f"geogen (this process): {root / 'geogen' / '__init__.py'} [{git_describe(root) or 'no git'}]")
    print(f"geogen (job runs):     {child}")
    print(f"tests.tiny_models:     {tm.__file__}")
    if Path(child) != (root / "geogen" / "__init__.py").resolve():
        raise SystemExit("the job subprocesses would import another geogen than this process: refusing")
    t0 = time.perf_counter()
    inputs = cases.prepare_inputs(work / "inputs")
    models = cases.build_models(work / "models")
    print(f"inputs and tiny models ready in {time.perf_counter() - t0:.1f} s")
    out = {
        "about": {
            "recorded_with": f"geogen at {root} ({git_describe(root) or 'no git'})",
            "how": "python tests/golden/record.py (see its docstring); compared by tests/golden/test_golden.py",
            "compared": "output file names (result.json order) and, per file: GeoTIFF shape, dtype, CRS, "
            "transform, nodata and per-band sha256 of the raw pixels; NetCDF: per data variable dtype, "
            "shape, dims, sha256 of the stored values. Not tags, not other result.json fields.",
        },
        "inputs": cases.input_hashes(inputs),
        "models": cases.model_hashes(models),
        "cases": {},
    }
    total = cpu_total = 0.0
    for name in names:
        t, c = time.perf_counter(), _children_cpu()
        fp = cases.run_case(name, work / "cases" / name, inputs, models)
        dt, cpu = time.perf_counter() - t, _children_cpu() - c
        total += dt
        cpu_total += cpu
        job = json.loads((work / "cases" / name / "job.json").read_text(encoding="utf-8"))
        out["cases"][name] = {"job": cases.portable_job(job, work), **fp}
        print(f"  {name:<30} {dt:6.1f} s wall {cpu:6.1f} s CPU  {', '.join(fp['files'])}")
    print(f"{len(names)} cases in {total:.1f} s wall, {cpu_total:.1f} s CPU (job subprocesses)")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=HERE / "expected.json")
    parser.add_argument("--work", type=Path, default=None, help="keep the job folders here")
    parser.add_argument("--case", action="append", default=None, help="only this case (repeatable)")
    args = parser.parse_args()
    names = list(load_cases().CASES)
    if args.case:
        unknown = sorted(set(args.case) - set(names))
        if unknown:
            parser.error(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(names)}")
        if args.out.resolve() == (HERE / "expected.json").resolve():
            parser.error("--case records a subset: give --out elsewhere (expected.json is always whole)")
        names = [n for n in names if n in args.case]
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        result = record(args.work.resolve(), names)
    else:
        with tempfile.TemporaryDirectory(prefix="geogen_golden_") as tmp:
            result = record(Path(tmp).resolve(), names)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
