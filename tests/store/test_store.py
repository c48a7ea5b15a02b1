"""The store: install (copy or link), list, verify tampering, remove, resolve for engines."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from geogen.errors import ModelError
from geogen.store import ModelEntry, Store, require_kind, resolve, store_root, user_data_dir
from geogen.store import kinds as K
from geogen.store.checksums import sha256_file
from geogen.store.lock import file_lock
from geogen.store.manifest import read_manifest, update_manifest


def test_user_data_dir_per_platform(tmp_path):
    home = tmp_path
    assert (
        user_data_dir("win32", {"LOCALAPPDATA": str(tmp_path / "local")}, home)
        == tmp_path / "local" / "geogen"
    )
    assert user_data_dir("win32", {}, home) == home / "AppData" / "Local" / "geogen"
    assert user_data_dir("darwin", {}, home) == home / "Library" / "Application Support" / "geogen"
    assert (
        user_data_dir("linux", {"XDG_DATA_HOME": str(tmp_path / "xdg")}, home) == tmp_path / "xdg" / "geogen"
    )
    assert user_data_dir("linux", {"XDG_DATA_HOME": "relative"}, home) == home / ".local" / "share" / "geogen"
    assert store_root({"GEOGEN_HOME": str(tmp_path / "h")}) == tmp_path / "h"


def test_add_copies_hashes_and_lists(store, make):
    src = make.sat_unet(fmt="safetensors")
    entry = store.add("dsat", src, resolution=512)
    assert entry.path == store.root / "models" / "dsat" and entry.path.is_dir()
    assert entry.kind == K.DIFFUSIONSAT and not entry.linked
    assert (entry.facts["resolution"], entry.facts["resolution_source"]) == (512, "user")
    weights = "diffusion_pytorch_model.safetensors"
    assert set(entry.files) == {"config.json", weights}
    assert entry.files[weights]["sha256"] == sha256_file(src / weights)
    assert entry.files[weights]["size"] == (src / weights).stat().st_size
    assert [e.name for e in store.entries()] == ["dsat"]
    manifest = json.loads((store.root / "manifest.json").read_text())
    assert manifest["models"]["dsat"]["path"] == "models/dsat"  # relative: the store can move
    assert not [p for p in store.root.iterdir() if p.name.startswith(".manifest-")]
    assert not [p for p in (store.root / "models").iterdir() if p.name.startswith(".")]


def test_verify_names_changed_and_missing_files(store, make):
    entry = store.add("cn", make.controlnet())
    assert store.verify("cn").ok
    weights = entry.path / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # same size, different content
    weights.write_bytes(bytes(data))
    (entry.path / "config.json").unlink()
    (entry.path / "notes.txt").write_text("mine")
    report = store.verify("cn")
    assert not report.ok
    assert report.changed == ["diffusion_pytorch_model.safetensors"]
    assert report.missing == ["config.json"]
    assert report.extra == ["notes.txt"]


def test_link_leaves_files_in_place_and_remove_keeps_them(store, make):
    src = make.kohya_lora()
    entry = store.add("style", src, link=True)
    assert entry.linked and entry.path == src.parent
    assert list(entry.files) == ["style.safetensors"]
    assert entry.weights_path == src
    assert not (store.root / "models" / "style").exists()
    (src.parent / "unrelated.txt").write_text("x")  # the user's folder: not ours to judge
    assert store.verify("style").ok and store.verify("style").extra == []
    store.remove("style")
    assert src.exists() and store.entries() == []


def test_remove_deletes_the_copy(store, make):
    entry = store.add("cn", make.controlnet())
    store.remove("cn")
    assert not entry.path.exists()
    assert list((store.root / "models").iterdir()) == []
    with pytest.raises(ModelError, match="no model named 'cn'"):
        store.remove("cn")


def test_names_are_checked(store, make):
    src = make.controlnet()
    for bad in ("", "a/b", "..", "con", "NUL.txt", "x" * 65, "-x", "trailing."):
        with pytest.raises(ModelError, match="invalid model name"):
            store.add(bad, src)
    store.add("Seg", src)
    with pytest.raises(ModelError, match="a model named 'Seg' is already installed"):
        store.add("seg", src)  # case-insensitive file systems would clash


def test_add_refuses_unknown_folder_and_leaves_nothing(store, tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.txt").write_text("a")
    with pytest.raises(ModelError, match="matches no model kind"):
        store.add("junk", tmp_path / "junk")
    assert store.entries() == []
    assert not (store.root / "models").exists() or not list((store.root / "models").iterdir())


def test_resolve_by_name_and_by_path(store, make):
    store.add("sr", make.controlnet(variant="sr"))
    entry = resolve("sr")
    assert isinstance(entry, ModelEntry) and entry.installed and entry.kind == K.DIFFUSIONSAT_SR
    folder = make.pipeline()
    on_the_fly = resolve(folder)
    assert (
        not on_the_fly.installed and on_the_fly.kind == K.SD_PIPELINE and on_the_fly.path == folder.resolve()
    )
    assert "unet/config.json" in on_the_fly.files and "sha256" not in on_the_fly.files["unet/config.json"]
    assert resolve(str(folder)).kind == K.SD_PIPELINE
    with pytest.raises(ModelError, match=r"no model named 'nope' .*installed: sr"):
        resolve("nope")


def test_require_kind_message(store, make):
    lora = resolve(make.kohya_lora())
    assert require_kind(lora, [K.LORA]) is lora
    with pytest.raises(ModelError) as err:
        require_kind(lora, K.DIFFUSIONSAT)
    assert (
        str(err.value)
        == "model 'style.safetensors' is a LoRA; this engine needs a DiffusionSat single-image model"
    )
    with pytest.raises(ModelError, match="needs a ControlNet or a DiffusionSat super-resolution ControlNet"):
        require_kind(lora, (K.CONTROLNET, K.DIFFUSIONSAT_SR))


def test_lock_is_exclusive_and_stale_locks_expire(tmp_path):
    lock = tmp_path / ".lock"
    with file_lock(lock):
        assert lock.exists()
        with (
            pytest.raises(ModelError, match="locked by another geogen process"),
            file_lock(lock, timeout=0.2),
        ):
            pass
    assert not lock.exists()
    lock.write_text("12345 0")
    old = time.time() - 3600
    os.utime(lock, (old, old))  # a crashed process's lock
    with file_lock(lock, timeout=1, stale_after=60):
        pass


def test_concurrent_manifest_updates_lose_nothing(tmp_path):
    def bump(i: int) -> None:
        with update_manifest(tmp_path) as data:
            n = data.setdefault("counter", 0)
            time.sleep(0.001)
            data["counter"] = n + 1
            data["models"][f"m{i}"] = {"kind": "lora", "path": "x"}

    threads = [threading.Thread(target=bump, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    data = read_manifest(tmp_path)
    assert data["counter"] == 8 and len(data["models"]) == 8


def test_damaged_manifest_is_reported(tmp_path):
    (tmp_path / "manifest.json").write_text("{oops")
    with pytest.raises(ModelError, match=r"manifest .* is damaged"):
        Store(tmp_path).entries()
