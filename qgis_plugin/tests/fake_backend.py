"""A misbehaving stand-in for the geogen backend, for the failure cases only (the rest runs the real backend).

    python fake_backend.py MODE run JOB.json --progress jsonl

MODE: hang (ignores the cancel file; leaves a partial file), cooperative (stops at the cancel file like
geogen), crash (exit 1 with a traceback on stderr), garbage (prints non-JSON and exits 0), error (a protocol
error line, exit 2). It writes its process id to ``pid`` in the output folder.
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
    (out / "pid").write_text(str(os.getpid()))
    cancel = out / "cancel"
    if mode == "garbage":
        print("Loading model weights... done")
        print("{not json at all")
        return 0
    emit(type="start", task=job["task"])
    emit(type="progress", done=0, total=10, stage="tiles")
    if mode == "crash":
        sys.stderr.write(
            'Traceback (most recent call last):\n  File "x.py", line 1\nRuntimeError: boom in tile 3\n'
        )
        return 1
    if mode == "error":
        emit(type="error", error="InputFileError", message="input not found: /nowhere/s2.tif")
        return 2
    (out / f".{job['output']['name']}.tif.1234abcd.partial.tif").write_bytes(b"half a GeoTIFF")
    for i in range(1, 100000):
        time.sleep(0.05)
        if mode == "cooperative" and cancel.exists():
            (out / f".{job['output']['name']}.tif.1234abcd.partial.tif").unlink()
            emit(type="error", error="CancelledError", message="job cancelled")
            return 130
        if i % 10 == 0:
            emit(type="progress", done=min(i // 10, 9), total=10, stage="tiles")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
