"""A misbehaving stand-in for the geogen backend, for the failure cases only (the rest runs the real backend).

    python fake_backend.py MODE run JOB.json --progress jsonl

MODE: hang (ignores the cancel files; leaves a partial file and an output claim), cooperative (stops at its
own cancel file like geogen), crash (exit 1 with a traceback on stderr), garbage (prints non-JSON and exits 0),
error (a protocol error line, exit 2), env (prints its environment as a log line, then a result), commit
(claims ``<name>.tif`` and ``<name>.result.json``, commits ``<name>.tif``, then hangs like hang), legacy (a
backend older than job ids: no ``job_id`` in its start line; stops at the folder-wide ``cancel`` file).

Like geogen (the contract in geogen/job/runner.py), it takes its job id from GEOGEN_JOB_ID, names
its partial file ``.<name>.tif.blocks-1234abcd.<job id>-<pid>-abcdef.partial.tif``, claims
``.<name>.tif.geogen-claim`` with the job id inside, and stops at ``cancel-<job id>``. It writes its process id
to ``pid-<job id>`` (and ``pid``) in the output folder.
"""

import json
import os
import sys
import time
from pathlib import Path


def emit(**event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main(argv):
    mode, command = argv[0], argv[1]
    if command == "info":
        print("this is not the info JSON")
        return 0
    job_file = Path(argv[2])
    job = json.loads(job_file.read_text(encoding="utf-8"))
    out = (job_file.parent / job["output"]["dir"]).resolve()
    job_id = os.environ.get("GEOGEN_JOB_ID") or "nojobid0"
    (out / "pid").write_text(str(os.getpid()))
    (out / f"pid-{job_id}").write_text(str(os.getpid()))
    cancel = out / f"cancel-{job_id}"
    name = job["output"]["name"]
    if mode == "garbage":
        print("Loading model weights... done")
        print("{not json at all")
        return 0
    if mode == "legacy":
        emit(type="start", task=job["task"])
        cancel = out / "cancel"
    else:
        emit(type="start", task=job["task"], job_id=job_id, pid=os.getpid(), cancel_file=str(cancel))
    if mode == "env":
        emit(type="log", level="info", message=json.dumps(dict(os.environ)))
        emit(type="result", result={"task": job["task"], "outputs": []})
        return 0
    emit(type="progress", done=0, total=10, stage="tiles")
    if mode == "crash":
        sys.stderr.write(
            'Traceback (most recent call last):\n  File "x.py", line 1\nRuntimeError: boom in tile 3\n'
        )
        return 1
    if mode == "error":
        emit(type="error", error="InputFileError", message="input not found: /nowhere/s2.tif")
        return 2
    if mode == "commit":
        for final in (f"{name}.tif", f"{name}.result.json"):
            (out / f".{final}.geogen-claim").write_text(json.dumps({"job": job_id, "pid": os.getpid()}))
        (out / f"{name}.tif").write_bytes(b"a whole GeoTIFF")
        emit(type="progress", done=5, total=10, stage="tiles")
    partial = out / f".{name}.tif.blocks-1234abcd.{job_id}-{os.getpid()}-abcdef.partial.tif"
    partial.write_bytes(b"half a GeoTIFF")
    claim = out / f".{name}.tif.geogen-claim"
    if not claim.exists():
        claim.write_text(json.dumps({"job": job_id, "pid": os.getpid(), "host": "abcdef"}))
    for i in range(1, 100000):
        time.sleep(0.05)
        if mode == "legacy" and cancel.exists():
            emit(type="error", error="CancelledError", message="job cancelled")
            return 130
        if mode == "cooperative" and cancel.exists():
            partial.unlink()
            claim.unlink()
            cancel.unlink()
            emit(type="error", error="CancelledError", message="job cancelled")
            return 130
        if i % 10 == 0:
            emit(type="progress", done=min(i // 10, 9), total=10, stage="tiles")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
