"""Battery, cluster C (the model store): issue 10 items 7, 8 (store), 13, weights in "Hostile files" and the store
part of "Crash recovery", run against the real `geogen models ...` CLI in a subprocess with GEOGEN_HOME in a
temporary folder (CliRunner where the catalog must point at a loopback server).

Each case: (name, setup, command args, expected exit code, expected stderr fragment, check of what is left).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

from geogen.cli.main import cli
from geogen.errors import ModelError
from geogen.store import catalog as C
from geogen.store.download import OfflineError, download
from geogen.store.lock import file_lock, pid_alive
from geogen.store.staging import OWNER_SUFFIX

CLI = [sys.executable, "-c", "from geogen.cli.main import main; main()"]
CONTROLNET_CONFIG: dict[str, Any] = {
    "_class_name": "ControlNetModel",
    "_diffusers_version": "0.17.0",
    "cross_attention_dim": 1024,
    "in_channels": 4,
    "conditioning_embedding_out_channels": [16, 32, 96, 256],
    "controlnet_conditioning_channel_order": "rgb",
    "block_out_channels": [320, 640, 1280, 1280],
    "attention_head_dim": [5, 10, 20, 20],
}
WEIGHTS = "diffusion_pytorch_model.safetensors"


# -- builders ---------------------------------------------------------------------------------------------------
def tiny_sd() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "conv_in.weight": torch.randn(8, 4, 3, 3, generator=g),
        "conv_in.bias": torch.randn(8, generator=g),
    }


def controlnet(folder: Path, fmt: str = "safetensors", sd: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(CONTROLNET_CONFIG), encoding="utf-8")
    if fmt == "bin":
        torch.save(sd or tiny_sd(), folder / "diffusion_pytorch_model.bin")
    else:
        save_file(sd or tiny_sd(), str(folder / WEIGHTS))
    return folder


def raw_safetensors(path: Path, header: dict, data_len: int, sparse: bool = False) -> Path:
    """A safetensors file with ``header`` and ``data_len`` bytes of (zero) data; sparse: no bytes written."""
    blob = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob)
        if sparse:
            f.truncate(8 + len(blob) + data_len)
        else:
            f.write(b"\0" * data_len)
    return path


class Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (str(self.marker),))


def dead_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    assert not pid_alive(p.pid)
    return p.pid


def owner(pid: int, host: str | None = None, age_s: float = 0) -> str:
    return json.dumps({"pid": pid, "host": host or socket.gethostname(), "time": round(time.time() - age_s)})


def age(path: Path, seconds: float) -> None:
    """Make ``path`` (and everything in it) look ``seconds`` old."""
    t = time.time() - seconds
    for p in [path, *(path.rglob("*") if path.is_dir() else [])]:
        os.utime(p, (t, t))


def temp_folder(home: Path, name: str, owner_text: str | None, old_s: float = 0) -> Path:
    """A store temporary folder (with 1 MiB in it) as a crashed or live add/pull leaves it."""
    folder = home / "models" / name
    folder.mkdir(parents=True)
    (folder / "diffusion_pytorch_model.safetensors.part").write_bytes(b"\0" * (1 << 20))
    if owner_text is not None:
        (home / "models" / (name + OWNER_SUFFIX)).write_text(owner_text)
    if old_s:
        age(folder, old_s)
    return folder


def write_manifest(home: Path, models: Any, **extra: Any) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "manifest.json").write_text(
        json.dumps({"version": 1, "models": models, **extra}), encoding="utf-8"
    )


def good_record(**over: Any) -> dict:
    rec = {"kind": "controlnet", "path": "models/cn", "linked": False, "facts": {}, "files": {}}
    rec.update(over)
    return rec


# -- setups: (tmp, home) -> substitutions for the args ------------------------------------------------------
def s_good(tmp: Path, home: Path) -> dict:
    return {"src": controlnet(tmp / "cn")}


def s_truncated(tmp: Path, home: Path) -> dict:
    src = controlnet(tmp / "cn")
    w = src / WEIGHTS
    os.truncate(w, w.stat().st_size - 100)
    return {"src": src}


def s_truncated_header(tmp: Path, home: Path) -> dict:
    src = controlnet(tmp / "cn")
    os.truncate(src / WEIGHTS, 40)
    return {"src": src}


def s_bad_length(tmp: Path, home: Path) -> dict:
    """dtype x shape disagrees with the offsets (file size consistent)."""
    src = controlnet(tmp / "cn")
    (src / WEIGHTS).unlink()
    header = {
        "conv_in.weight": {"dtype": "F32", "shape": [8, 4, 3, 3], "data_offsets": [0, 1000]},
        "conv_in.bias": {"dtype": "F32", "shape": [8], "data_offsets": [1000, 1032]},
    }
    raw_safetensors(src / WEIGHTS, header, 1032)
    return {"src": src}


def s_truncated_bin(tmp: Path, home: Path) -> dict:
    src = controlnet(tmp / "cn", fmt="bin")
    w = src / "diffusion_pytorch_model.bin"
    os.truncate(w, w.stat().st_size // 2)
    return {"src": src}


def s_evil(tmp: Path, home: Path) -> dict:
    src = controlnet(tmp / "evil", fmt="bin", sd={**tiny_sd(), "extra": Evil(tmp / "MARKER")})
    return {"src": src, "marker": tmp / "MARKER"}


def s_installed_then_truncated(tmp: Path, home: Path) -> dict:
    """A model installed by a geogen that did not check offsets: the manifest records the truncated file."""
    src = controlnet(tmp / "cn")
    r = subprocess.run(
        [*CLI, "models", "add", "cn", str(src)], env=_env(home), capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    w = home / "models" / "cn" / WEIGHTS
    os.truncate(w, w.stat().st_size - 64)
    data = json.loads((home / "manifest.json").read_text())
    data["models"]["cn"]["files"][WEIGHTS] = {
        "sha256": hashlib.sha256(w.read_bytes()).hexdigest(),
        "size": w.stat().st_size,
    }
    (home / "manifest.json").write_text(json.dumps(data))
    return {}


def s_installed(tmp: Path, home: Path) -> dict:
    src = controlnet(tmp / "cn")
    r = subprocess.run(
        [*CLI, "models", "add", "cn", str(src)], env=_env(home), capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    return {}


def s_trusted_evil(tmp: Path, home: Path) -> dict:
    subs = s_evil(tmp, home)
    r = subprocess.run(
        [*CLI, "models", "add", "evil", str(subs["src"]), "--trust-pickle"],
        env=_env(home),
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and not subs["marker"].exists(), r.stderr
    return subs


def s_dead_add(tmp: Path, home: Path) -> dict:
    temp_folder(home, ".add-cn-0123456789ab", owner(dead_pid()))
    return {}


def s_live_add(tmp: Path, home: Path) -> dict:
    temp_folder(home, ".add-cn-0123456789ab", owner(os.getpid()))  # this test process: alive
    return {}


def s_dead_pull_recent(tmp: Path, home: Path) -> dict:
    temp_folder(home, ".pull-seg2sat-0123456789ab", owner(dead_pid()))
    return {}


def s_dead_pull_old(tmp: Path, home: Path) -> dict:
    temp_folder(home, ".pull-seg2sat-0123456789ab", owner(dead_pid()), old_s=2 * 86400)
    return {}


def s_ownerless_old(tmp: Path, home: Path) -> dict:
    temp_folder(home, ".add-cn-0123456789ab", None, old_s=2 * 86400)
    return {}


def s_ownerless_recent(tmp: Path, home: Path) -> dict:
    temp_folder(home, ".add-cn-0123456789ab", None)
    return {}


def s_foreign_host_recent(tmp: Path, home: Path) -> dict:
    temp_folder(home, ".add-cn-0123456789ab", owner(dead_pid(), host="another-machine"))
    return {}


def s_dead_trash(tmp: Path, home: Path) -> dict:
    temp_folder(home, ".trash-cn-1700000000", None)
    return {}


def s_dead_lock(tmp: Path, home: Path) -> dict:
    home.mkdir(parents=True)
    (home / ".lock").write_text(owner(dead_pid()))
    return s_good(tmp, home)


def s_old_style_lock(tmp: Path, home: Path) -> dict:
    home.mkdir(parents=True)
    (home / ".lock").write_text("12345 0\n")  # geogen before owner records; 1 h old
    age(home / ".lock", 3600)
    return s_good(tmp, home)


def s_manifest(models: Any, **extra: Any) -> Callable[[Path, Path], dict]:
    def setup(tmp: Path, home: Path) -> dict:
        write_manifest(home, models, **extra)
        return {}

    return setup


def s_home_is_file(tmp: Path, home: Path) -> dict:
    home.write_text("not a folder")
    return s_good(tmp, home)


def s_manifest_utf16(tmp: Path, home: Path) -> dict:
    home.mkdir()
    (home / "manifest.json").write_text(json.dumps({"version": 1, "models": {}}), encoding="utf-16")
    return {}


# -- checks of what is left ---------------------------------------------------------------------------------------
def nothing_installed(tmp: Path, home: Path) -> None:
    models = home / "models"
    assert not models.exists() or sorted(p.name for p in models.iterdir()) == []
    if (home / "manifest.json").exists():
        assert json.loads((home / "manifest.json").read_text())["models"] == {}


def installed(name: str) -> Callable[[Path, Path], None]:
    def check(tmp: Path, home: Path) -> None:
        assert (home / "models" / name).is_dir()
        assert name in json.loads((home / "manifest.json").read_text())["models"]
        assert not [p for p in (home / "models").iterdir() if p.name.startswith(".")]

    return check


def no_temporaries(tmp: Path, home: Path) -> None:
    assert not [p.name for p in (home / "models").iterdir() if p.name.startswith(".")]


def temporary_kept(tmp: Path, home: Path) -> None:
    assert (home / "models" / ".add-cn-0123456789ab").is_dir() or (
        home / "models" / ".pull-seg2sat-0123456789ab"
    ).is_dir()


def marker_absent(tmp: Path, home: Path) -> None:
    assert not (tmp / "MARKER").exists()


def marker_present(tmp: Path, home: Path) -> None:
    assert (tmp / "MARKER").exists()


def file_untouched(tmp: Path, home: Path) -> None:
    assert home.read_text() == "not a folder"


def no_lock(tmp: Path, home: Path) -> None:
    assert not (home / ".lock").exists() and not (home / ".lock.break").exists()


def manifest_without(name: str) -> Callable[[Path, Path], None]:
    def check(tmp: Path, home: Path) -> None:
        assert name not in json.loads((home / "manifest.json").read_text())["models"]

    return check


def none(tmp: Path, home: Path) -> None:
    pass


REMOVED = "removed 1 temporary folder(s) left by interrupted geogen commands"
# (name, setup, args, exit code, stderr fragment ("" = stderr must be empty of errors), check)
CASES = [
    # item 7: weights checked against the file size at add and verify
    ("add good safetensors", s_good, ["models", "add", "cn", "{src}"], 0, "", installed("cn")),
    ("add truncated safetensors", s_truncated, ["models", "add", "cn", "{src}"], 2, "is truncated: tensor", nothing_installed),
    ("add --link truncated", s_truncated, ["models", "add", "cn", "{src}", "--link"], 2, "is truncated", nothing_installed),
    ("add truncated header", s_truncated_header, ["models", "add", "cn", "{src}"], 2, "diffusion_pytorch_model.safetensors", nothing_installed),
    ("add dtype x shape != offsets", s_bad_length, ["models", "add", "cn", "{src}"], 2, "needs 1152 bytes, its offsets span 1000", nothing_installed),
    ("add truncated .bin zip", s_truncated_bin, ["models", "add", "cn", "{src}"], 2, "diffusion_pytorch_model.bin is truncated or damaged", nothing_installed),
    ("add truncated .bin trusted", s_truncated_bin, ["models", "add", "cn", "{src}", "--trust-pickle"], 2, "is truncated or damaged", nothing_installed),
    ("verify truncated install", s_installed_then_truncated, ["models", "verify", "cn"], 1, "1 file(s) truncated or damaged: diffusion_pytorch_model.safetensors (is truncated", none),
    ("verify good", s_installed, ["models", "verify", "cn"], 0, "", installed("cn")),
    # already held: malicious pickles refused before any code runs
    ("add malicious pickle", s_evil, ["models", "add", "evil", "{src}"], 2, "refusing to unpickle", marker_absent),
    ("add name traversal", s_good, ["models", "add", "../x", "{src}"], 2, "invalid model name", nothing_installed),
    # item 8 (store): temporaries of dead add/pull commands removed by the next command, live ones kept
    ("dead add folder removed", s_dead_add, ["models", "list"], 0, REMOVED, no_temporaries),
    ("dead add folder removed by verify", s_dead_add, ["models", "verify", "x"], 2, REMOVED, no_temporaries),
    ("live add folder kept", s_live_add, ["models", "list"], 0, "", temporary_kept),
    ("dead pull kept for resume", s_dead_pull_recent, ["models", "list"], 0, "", temporary_kept),
    ("dead pull removed after a day", s_dead_pull_old, ["models", "list"], 0, REMOVED, no_temporaries),
    ("ownerless old folder removed", s_ownerless_old, ["models", "list"], 0, REMOVED, no_temporaries),
    ("ownerless recent folder kept", s_ownerless_recent, ["models", "list"], 0, "", temporary_kept),
    ("other host's recent folder kept", s_foreign_host_recent, ["models", "list"], 0, "", temporary_kept),
    ("left-over trash removed", s_dead_trash, ["models", "list"], 0, REMOVED, no_temporaries),
    # item 13: store edges
    ("dead owner's lock taken over", s_dead_lock, ["models", "add", "cn", "{src}"], 0, "", installed("cn")),
    ("old-style stale lock taken over", s_old_style_lock, ["models", "add", "cn", "{src}"], 0, "", installed("cn")),
    ("record path wrong type", s_manifest({"cn": good_record(path=3)}), ["models", "list"], 2, "the record of 'cn': 'path' is int", none),
    ("record not an object", s_manifest({"cn": 5}), ["models", "list", "--json"], 2, "the record of 'cn' is int", none),
    ("record files wrong type", s_manifest({"cn": good_record(files=[])}), ["models", "verify", "cn"], 2, "'files' is list", none),
    ("record size wrong type", s_manifest({"cn": good_record(files={"a": {"sha256": "x", "size": "1"}})}), ["models", "info", "cn"], 2, "'files.a.size' is str", none),
    ("record kind null", s_manifest({"cn": good_record(kind=None)}), ["models", "list"], 2, "'kind' is NoneType", none),
    ("damaged record removable", s_manifest({"cn": good_record(path=3)}), ["models", "remove", "cn"], 0, "", manifest_without("cn")),
    ("models not a table", s_manifest([1, 2]), ["models", "list"], 2, "damaged (no 'models' table)", none),
    ("version wrong type", s_manifest({}, version="abc"), ["models", "list"], 2, "damaged ('version' is 'abc')", none),
    ("manifest in UTF-16", s_manifest_utf16, ["models", "list"], 2, "is damaged (not UTF-8 text)", none),
    ("GEOGEN_HOME is a file: list", s_home_is_file, ["models", "list"], 2, "is a file, not a folder", file_untouched),
    ("GEOGEN_HOME is a file: add", s_home_is_file, ["models", "add", "cn", "{src}"], 2, "is a file, not a folder", file_untouched),
    ("GEOGEN_HOME is a file: verify", s_home_is_file, ["models", "verify", "cn"], 2, "is a file, not a folder", file_untouched),
    ("convert trusted pickle needs the flag again", s_trusted_evil, ["models", "convert", "evil"], 2, "--trust-pickle", marker_absent),
    ("convert trusted pickle with the flag", s_trusted_evil, ["models", "convert", "evil", "--trust-pickle"], 0, "warning: unpickling", marker_present),
]  # fmt: skip


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEOGEN_", "PYTHONWARN"))}
    env.update(GEOGEN_HOME=str(home), OMP_NUM_THREADS="1", PYTHONIOENCODING="utf-8")
    return env


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("geogen: error:")]


@pytest.mark.parametrize(
    ("name", "setup", "args", "code", "fragment", "check"), CASES, ids=[c[0] for c in CASES]
)
def test_store_battery(name, setup, args, code, fragment, check, tmp_path):
    home = tmp_path / "geogen_home"
    subs = setup(tmp_path, home)
    argv = [a.format(**subs) for a in args]
    t0 = time.monotonic()
    r = subprocess.run([*CLI, *argv], env=_env(home), capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - t0
    assert r.returncode == code, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    if code:
        assert len(_error_lines(r.stderr)) == 1, r.stderr
        assert r.stderr.rstrip().splitlines()[-1].startswith("geogen: error:"), r.stderr
    else:
        assert not _error_lines(r.stderr), r.stderr
    if fragment:
        assert fragment in r.stderr, r.stderr
    else:
        assert "temporary folder" not in r.stderr, r.stderr
    assert elapsed < 30, f"{name} took {elapsed:.0f} s (a dead lock must not make anyone wait)"
    check(tmp_path, home)


# -- kill -9 during `models add`, then the next command cleans up -----------------------------------------------
def test_kill_9_during_add_then_next_command_cleans_up(tmp_path):
    home = tmp_path / "geogen_home"
    src = tmp_path / "big"
    src.mkdir()
    (src / "config.json").write_text(json.dumps(CONTROLNET_CONFIG), encoding="utf-8")
    sd = tiny_sd()
    n_pad = 1 << 29  # 2 GiB of F32, sparse on disk: copying it takes long enough to be killed mid-way
    header = {
        "conv_in.bias": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]},
        "conv_in.weight": {
            "dtype": "F32",
            "shape": list(sd["conv_in.weight"].shape),
            "data_offsets": [32, 1184],
        },
        "pad": {"dtype": "F32", "shape": [n_pad], "data_offsets": [1184, 1184 + 4 * n_pad]},
    }
    raw_safetensors(src / WEIGHTS, header, 1184 + 4 * n_pad, sparse=True)
    proc = subprocess.Popen(
        [*CLI, "models", "add", "big", str(src)],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    models = home / "models"
    deadline = time.monotonic() + 60
    staged: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None:
        staged = [p for p in models.glob(".add-big-*") if p.is_dir()] if models.exists() else []
        if staged and any(f.stat().st_size > 0 for f in staged[0].rglob("*") if f.is_file()):
            break
        time.sleep(0.02)
    assert proc.poll() is None and staged, "models add finished before it could be killed"
    proc.kill()  # SIGKILL on POSIX, TerminateProcess on Windows: no clean-up code runs
    proc.wait()
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()  # type: ignore[union-attr]
    assert staged[0].exists()  # the debris the issue found
    r = subprocess.run([*CLI, "models", "list"], env=_env(home), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and REMOVED in r.stderr and ".add-big-" in r.stderr, r.stderr
    assert sorted(p.name for p in models.iterdir()) == []
    assert not (home / ".lock").exists()


def test_live_owner_lock_waits_and_names_the_holder(tmp_path):
    lock = tmp_path / ".lock"
    with file_lock(lock):
        t0 = time.monotonic()
        with (
            pytest.raises(ModelError, match=rf"held by process {os.getpid()} on"),
            file_lock(lock, timeout=0.3),
        ):
            pass
        assert time.monotonic() - t0 < 5


def test_two_waiters_on_a_dead_lock_never_share_it(tmp_path):
    lock = tmp_path / ".lock"
    lock.write_text(owner(dead_pid()))
    inside, overlap = [0], [False]

    def worker() -> None:
        for _ in range(20):
            with file_lock(lock, timeout=20):
                inside[0] += 1
                if inside[0] > 1:
                    overlap[0] = True
                time.sleep(0.001)
                inside[0] -= 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not overlap[0] and not lock.exists()


def test_text_encoder_pickle_is_one_line(tmp_path):
    from geogen.diffusion.components import _load_text_encoder

    folder = tmp_path / "text_encoder"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["CLIPTextModel"], "hidden_size": 32}))
    torch.save({"w": torch.zeros(2), "x": Evil(tmp_path / "MARKER")}, folder / "pytorch_model.bin")
    with pytest.raises(ModelError) as err:
        _load_text_encoder(folder, torch.float32)
    message = str(err.value)
    assert "\n" not in message and "pytorch_model.bin" in message and "--trust-pickle" in message
    assert not (tmp_path / "MARKER").exists()


def test_truncated_weights_refused_at_load(tmp_path):
    from diffusers import ControlNetModel

    from geogen.models.loading import load_checked

    src = s_truncated(tmp_path, tmp_path)["src"]
    with pytest.raises(ModelError, match=r"diffusion_pytorch_model\.safetensors is truncated") as err:
        load_checked(ControlNetModel, src)
    assert "\n" not in str(err.value)


# -- downloads: Range resume, no-Range restart, redirects ---------------------------------------------------------
class _Handler(SimpleHTTPRequestHandler):
    """Serves a folder; ``ranges`` honours Range requests; ``cut`` closes the connection after that many bytes;
    ``redirects`` maps a path to a Location; ``validators`` ("etag", "last-modified" or None) sends that header
    and honours If-Range with it (a Range whose If-Range does not match gets the whole file, 200)."""

    ranges = True
    cut: int | None = None
    validators: str | None = None
    redirects: dict[str, str] = {}  # noqa: RUF012
    seen: list[tuple[str, str | None]] = []  # noqa: RUF012
    if_ranges: list[str | None] = []  # noqa: RUF012
    answers: list[int] = []  # noqa: RUF012

    def log_message(self, *args):
        pass

    def send_response(self, code, message=None):
        self.answers.append(code)
        super().send_response(code, message)

    def _validator(self, path: Path, data: bytes) -> tuple[str, str] | None:
        if self.validators == "etag":
            return "ETag", '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        if self.validators == "last-modified":
            return "Last-Modified", self.date_time_string(int(path.stat().st_mtime))
        return None

    def do_GET(self):
        self.seen.append((self.path, self.headers.get("Range")))
        self.if_ranges.append(self.headers.get("If-Range"))
        if self.path in self.redirects:
            self.send_response(302)
            self.send_header("Location", self.redirects[self.path])
            self.end_headers()
            return
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        validator = self._validator(path, data)
        m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if_range = self.headers.get("If-Range")
        if m and if_range is not None and (validator is None or if_range != validator[1]):
            m = None  # RFC 9110 If-Range: the file changed (or cannot be compared): send all of it
        start = int(m.group(1)) if (m and self.ranges) else 0
        if m and self.ranges and start >= len(data):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.end_headers()
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        if validator:
            self.send_header(*validator)
        self.end_headers()
        body = data[start:]
        if self.cut is not None:
            body = body[: self.cut]
        self.wfile.write(body)


@pytest.fixture
def serve(tmp_path):
    """serve(ranges=..., cut=..., redirects=...) -> (base URL, folder, handler class)."""
    servers = []

    def start(**attrs: Any):
        www = tmp_path / f"www{len(servers)}"
        www.mkdir()
        handler = type(
            "H", (_Handler,), {"seen": [], "if_ranges": [], "answers": [], "redirects": {}, **attrs}
        )
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(www)))
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}", www, handler

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


PAYLOAD = bytes(range(256)) * 4000  # 1 MB


@pytest.mark.parametrize("ranges", [True, False], ids=["server with Range", "server without Range"])
def test_download_resumes_or_restarts_and_verifies(serve, tmp_path, ranges):
    base, www, handler = serve(ranges=ranges, cut=300_000)
    (www / "w.bin").write_bytes(PAYLOAD)
    dest = tmp_path / "out" / "w.bin"
    sha = "sha256:" + hashlib.sha256(PAYLOAD).hexdigest()
    with pytest.raises(OfflineError, match="connection lost"):
        download(f"{base}/w.bin", dest, checksum=sha)
    part = dest.with_name("w.bin.part")
    assert part.stat().st_size == 300_000 and not dest.exists()  # kept for the next try
    handler.cut = None
    assert download(f"{base}/w.bin", dest, checksum=sha) == hashlib.sha256(PAYLOAD).hexdigest()
    assert dest.read_bytes() == PAYLOAD and not part.exists()
    assert handler.seen[-1] == ("/w.bin", "bytes=300000-")  # asked for the rest either way
    if not ranges:
        return
    # a part that does not belong to the file is caught by the checksum and deleted
    part.write_bytes(b"x" * 1000)
    dest.unlink()
    with pytest.raises(ModelError, match="checksum mismatch"):
        download(f"{base}/w.bin", dest, checksum=sha)
    assert not part.exists() and not dest.exists()


def test_resume_past_the_end_restarts(serve, tmp_path):
    base, www, _ = serve()
    (www / "w.bin").write_bytes(PAYLOAD)
    dest = tmp_path / "w.bin"
    dest.with_name("w.bin.part").write_bytes(b"\0" * (len(PAYLOAD) + 10))  # 416 from the server
    download(f"{base}/w.bin", dest, checksum="sha256:" + hashlib.sha256(PAYLOAD).hexdigest())
    assert dest.read_bytes() == PAYLOAD


def _cut_download(serve, tmp_path, **attrs: Any):
    """A first download of w.bin cut off after 300 kB (no checksum given); (url, dest, handler)."""
    base, www, handler = serve(cut=300_000, **attrs)
    (www / "w.bin").write_bytes(PAYLOAD)
    dest = tmp_path / "out" / "w.bin"
    with pytest.raises(OfflineError, match="connection lost"):
        download(f"{base}/w.bin", dest)
    assert dest.with_name("w.bin.part").stat().st_size == 300_000
    handler.cut = None
    return f"{base}/w.bin", dest, handler


def _no_partials(dest: Path) -> bool:
    return not list(dest.parent.glob("w.bin.*"))


@pytest.mark.parametrize("validator", ["etag", "last-modified"])
def test_resume_unchanged_file_sends_if_range_and_appends(serve, tmp_path, validator):
    url, dest, handler = _cut_download(serve, tmp_path, validators=validator)
    record = json.loads(dest.with_name("w.bin.part.json").read_text())
    assert record["url"] == url and record["size"] == len(PAYLOAD)
    assert record["etag" if validator == "etag" else "last_modified"]
    download(url, dest, size=len(PAYLOAD))
    assert handler.seen[-1] == ("/w.bin", "bytes=300000-") and handler.answers[-1] == 206
    assert handler.if_ranges[-1] == record["etag" if validator == "etag" else "last_modified"]
    assert dest.read_bytes() == PAYLOAD and _no_partials(dest)


@pytest.mark.parametrize("validator", ["etag", "last-modified"])
def test_resume_after_the_file_changed_restarts(serve, tmp_path, validator):
    """The server's file changed between the two tries: If-Range gets a 200 and the download starts again
    (no checksum known: without If-Range, old and new bytes would be mixed unnoticed)."""
    url, dest, handler = _cut_download(serve, tmp_path, validators=validator)
    new = bytes(reversed(PAYLOAD))  # same size: only a validator can tell
    www_file = next(tmp_path.glob("www*/w.bin"))
    www_file.write_bytes(new)
    later = time.time() + 10
    os.utime(www_file, (later, later))
    assert download(url, dest, size=len(new)) == hashlib.sha256(new).hexdigest()
    assert handler.if_ranges[-1] and handler.answers[-1] == 200  # asked for the rest, got the whole new file
    assert dest.read_bytes() == new and _no_partials(dest)


@pytest.mark.parametrize("checksum", [False, True], ids=["no checksum: restart", "checksum: resume"])
def test_resume_without_validators(serve, tmp_path, checksum):
    """A server that sends neither ETag nor Last-Modified: without a checksum the bytes so far cannot be trusted
    and the download starts again from 0; with one, it resumes (the checksum catches a mix of versions)."""
    url, dest, handler = _cut_download(serve, tmp_path)
    sha = "sha256:" + hashlib.sha256(PAYLOAD).hexdigest() if checksum else None
    download(url, dest, checksum=sha)
    assert handler.seen[-1] == ("/w.bin", "bytes=300000-" if checksum else None)
    assert handler.if_ranges[-1] is None
    assert dest.read_bytes() == PAYLOAD and _no_partials(dest)


def test_resume_from_another_url_restarts(serve, tmp_path):
    url, dest, handler = _cut_download(serve, tmp_path, validators="etag")
    (next(tmp_path.glob("www*")) / "v2.bin").write_bytes(PAYLOAD[::-1])
    other = url.replace("/w.bin", "/v2.bin")
    download(other, dest, checksum="sha256:" + hashlib.sha256(PAYLOAD[::-1]).hexdigest())
    assert handler.seen[-1] == ("/v2.bin", None)  # the bytes so far belong to another URL: not resumed
    assert dest.read_bytes() == PAYLOAD[::-1] and _no_partials(dest)


@pytest.mark.parametrize(
    ("target", "fragment"),
    [("file:///etc/passwd", "only http(s) is allowed"), ("ftp://127.0.0.1/x", "only http(s) is allowed")],
)
def test_redirects_to_other_schemes_are_refused(serve, tmp_path, target, fragment):
    base, _www, _ = serve(redirects={"/w.bin": target})
    with pytest.raises(ModelError, match=re.escape(fragment)) as err:
        download(f"{base}/w.bin", tmp_path / "w.bin")
    assert "refusing the redirect" in str(err.value) and not list(tmp_path.glob("w.bin*"))


def test_https_to_http_downgrade_is_refused():
    import urllib.request

    from geogen.store.download import _SafeRedirects

    class _Fp:
        def close(self):
            pass

    req = urllib.request.Request("https://example.org/w.bin")
    with pytest.raises(ModelError, match="drops https for http"):
        _SafeRedirects().redirect_request(req, _Fp(), 302, "Found", {}, "http://example.org/w.bin")
    ok = _SafeRedirects().redirect_request(req, _Fp(), 302, "Found", {}, "https://cdn.example.org/w.bin")
    assert ok is not None and ok.full_url == "https://cdn.example.org/w.bin"


# -- pull through the CLI (CliRunner: the catalog points at a loopback server) -----------------------------------
@pytest.fixture
def pull_env(serve, tmp_path, monkeypatch):
    """seg2sat's catalog entry served from a loopback server that honours Range; returns (home, www, handler)."""

    def setup(**attrs: Any):
        base, www, handler = serve(**attrs)
        controlnet(www / "repo", fmt="safetensors")
        entry = C.CATALOG["seg2sat"]
        files = tuple(
            C.CatalogFile(p, f"{base}/repo/{p}", checksum="sha256:" + hashlib.sha256((www / "repo" / p).read_bytes()).hexdigest())
            for p in ("config.json", WEIGHTS)
        )  # fmt: skip
        monkeypatch.setitem(C.CATALOG, "seg2sat", dataclasses.replace(entry, files=files))
        home = tmp_path / "geogen_home"
        monkeypatch.setenv("GEOGEN_HOME", str(home))
        return home, www, handler

    return setup


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_pull_after_kill_9_resumes_with_range(pull_env):
    home, www, handler = pull_env()
    weights = (www / "repo" / WEIGHTS).read_bytes()
    # what kill -9 leaves mid-download: the folder, half the weights, an owner that is dead
    folder = home / "models" / ".pull-seg2sat-0123456789ab"
    folder.mkdir(parents=True)
    (folder / "config.json").write_bytes((www / "repo" / "config.json").read_bytes())
    (folder / (WEIGHTS + ".part")).write_bytes(weights[:500])
    (home / "models" / (folder.name + OWNER_SUFFIX)).write_text(owner(dead_pid()))
    r = _run("models", "pull", "seg2sat", "--progress", "none")
    assert r.exit_code == 0, r.stderr
    assert (f"/repo/{WEIGHTS}", "bytes=500-") in handler.seen
    assert ("/repo/config.json", None) not in handler.seen  # finished files are not fetched again
    assert (home / "models" / "seg2sat" / WEIGHTS).read_bytes() == weights
    assert sorted(p.name for p in (home / "models").iterdir()) == ["seg2sat"]
    assert _run("models", "verify", "seg2sat").exit_code == 0


def test_pull_cut_off_keeps_its_folder_and_the_next_pull_finishes(pull_env):
    home, _www, handler = pull_env(cut=200)
    r = _run("models", "pull", "seg2sat", "--progress", "none")
    assert r.exit_code == 2 and "run the same command again to resume" in r.stderr, r.stderr
    assert len(_error_lines(r.stderr)) == 1
    [left] = [p for p in (home / "models").iterdir() if p.is_dir()]
    assert left.name.startswith(".pull-seg2sat-")
    # the pull ran in this (live) process; a real `geogen models pull` has exited by now
    (home / "models" / (left.name + OWNER_SUFFIX)).write_text(owner(dead_pid()))
    assert _run("models", "list").exit_code == 0 and left.exists()  # kept for the resume
    handler.cut = None
    r = _run("models", "pull", "seg2sat", "--progress", "none")
    assert r.exit_code == 0, r.stderr
    assert sorted(p.name for p in (home / "models").iterdir()) == ["seg2sat"]
    assert any(rng and rng.startswith("bytes=") for _, rng in handler.seen)


def test_pull_rechecks_files_left_by_the_interrupted_pull(pull_env):
    """A file found complete in the adopted folder that no longer matches the catalog is fetched again."""
    home, www, handler = pull_env()
    folder = home / "models" / ".pull-seg2sat-0123456789ab"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"an": "older version"}')  # complete, but not the catalog's file
    (home / "models" / (folder.name + OWNER_SUFFIX)).write_text(owner(dead_pid()))
    r = _run("models", "pull", "seg2sat", "--progress", "none")
    assert r.exit_code == 0, r.stderr
    assert ("/repo/config.json", None) in handler.seen
    installed = home / "models" / "seg2sat"
    assert (installed / "config.json").read_bytes() == (www / "repo" / "config.json").read_bytes()
    assert sorted(p.name for p in installed.iterdir()) == ["config.json", WEIGHTS]
    assert _run("models", "verify", "seg2sat").exit_code == 0


def test_pull_killed_while_unpacking_unpacks_again(serve, tmp_path, monkeypatch):
    """kill -9 during the unpacking of an archive: the resumed pull unpacks it again, in full."""
    import geogen.store.pull as P
    from geogen.store.pull import pull

    base, www, handler = serve()
    src = controlnet(tmp_path / "src", fmt="safetensors")
    with zipfile.ZipFile(www / "seg2sat.zip", "w") as z:
        for p in sorted(src.iterdir()):
            z.write(p, f"model/{p.name}")
    archive = C.CatalogFile(
        "seg2sat.zip",
        f"{base}/seg2sat.zip",
        (www / "seg2sat.zip").stat().st_size,
        "sha256:" + hashlib.sha256((www / "seg2sat.zip").read_bytes()).hexdigest(),
    )
    monkeypatch.setitem(C.CATALOG, "seg2sat", dataclasses.replace(C.CATALOG["seg2sat"], files=(archive,)))
    home = tmp_path / "geogen_home"
    monkeypatch.setenv("GEOGEN_HOME", str(home))
    real = P.extract_archive

    def killed_half_way(arch: Path, dest: Path) -> None:
        real(arch, dest)
        [weights] = dest.rglob(WEIGHTS)
        with open(weights, "r+b") as f:  # the file being written when the process died
            f.truncate(weights.stat().st_size // 2)
        raise KeyboardInterrupt  # stands for kill -9: nothing after this runs

    monkeypatch.setattr(P, "extract_archive", killed_half_way)
    with pytest.raises(KeyboardInterrupt):
        pull("seg2sat")
    [left] = [p for p in (home / "models").iterdir() if p.is_dir()]
    (home / "models" / (left.name + OWNER_SUFFIX)).write_text(owner(dead_pid()))
    monkeypatch.setattr(P, "extract_archive", real)
    r = _run("models", "pull", "seg2sat", "--progress", "none")
    assert r.exit_code == 0, r.stderr
    assert [path for path, _ in handler.seen] == [
        "/seg2sat.zip"
    ]  # the verified archive was not fetched again
    installed = home / "models" / "seg2sat"
    assert sorted(p.relative_to(installed).as_posix() for p in installed.rglob("*") if p.is_file()) == [
        "model/config.json",
        f"model/{WEIGHTS}",
    ]
    assert (installed / "model" / WEIGHTS).read_bytes() == (src / WEIGHTS).read_bytes()
    assert sorted(p.name for p in (home / "models").iterdir()) == ["seg2sat"]
    assert _run("models", "verify", "seg2sat").exit_code == 0


def test_pull_redirect_to_file_is_refused(pull_env):
    home, _www, handler = pull_env()
    handler.redirects[f"/repo/{WEIGHTS}"] = "file:///etc/passwd"
    r = _run("models", "pull", "seg2sat", "--progress", "none")
    assert r.exit_code == 2 and "refusing the redirect" in r.stderr, r.stderr
    assert len(_error_lines(r.stderr)) == 1
    assert not (home / "models").exists() or list((home / "models").iterdir()) == []


def test_pull_checksum_mismatch_leaves_nothing(pull_env):
    home, www, _ = pull_env()
    (www / "repo" / WEIGHTS).write_bytes(b"tampered")
    r = _run("models", "pull", "seg2sat", "--progress", "none")
    assert r.exit_code == 2 and "checksum mismatch" in r.stderr, r.stderr
    assert list((home / "models").iterdir()) == []


def test_pickle_zip_checks_need_no_unpickling(tmp_path):
    """A damaged .bin zip is refused from its directory alone (no pickle is loaded)."""
    from geogen.store.weights import check_pickle_file

    path = tmp_path / "w.bin"
    torch.save(tiny_sd(), path)
    check_pickle_file(path)
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
    os.truncate(path, path.stat().st_size - 30)
    with pytest.raises(ModelError, match=r"w\.bin is truncated or damaged"):
        check_pickle_file(path)
