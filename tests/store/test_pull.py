"""pull: downloads through a loopback http.server (never the internet), and the offline instructions."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from geogen.errors import ModelError
from geogen.store import catalog as C
from geogen.store import kinds as K
from geogen.store.download import OfflineError, download
from geogen.store.pull import PullOfflineError, extract_archive, pull

from .conftest import Make


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/www on 127.0.0.1; yields (base URL, folder)."""
    www = tmp_path / "www"
    www.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", www
    httpd.shutdown()
    httpd.server_close()


def test_download_checks_size_and_checksum(server, tmp_path):
    base, www = server
    payload = bytes(range(256)) * 40
    (www / "blob.bin").write_bytes(payload)
    seen = []
    sha = download(
        f"{base}/blob.bin",
        tmp_path / "out" / "blob.bin",
        checksum="sha256:" + hashlib.sha256(payload).hexdigest(),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert (tmp_path / "out" / "blob.bin").read_bytes() == payload and sha == hashlib.sha256(
        payload
    ).hexdigest()
    assert seen[0] == (0, len(payload)) and seen[-1] == (len(payload), len(payload))
    with pytest.raises(ModelError, match="checksum mismatch"):
        download(f"{base}/blob.bin", tmp_path / "bad.bin", checksum="md5:" + "0" * 32)
    with pytest.raises(ModelError, match="expected 99"):
        download(f"{base}/blob.bin", tmp_path / "bad.bin", size=99)
    with pytest.raises(ModelError, match="HTTP 404"):
        download(f"{base}/missing.bin", tmp_path / "bad.bin")
    assert not list(tmp_path.glob("bad.bin*"))  # no partial file under any name
    with pytest.raises(ModelError, match="only http"):
        download("file:///etc/passwd", tmp_path / "x")


def test_offline_download_is_an_offline_error(closed_port, tmp_path):
    with pytest.raises(OfflineError, match=f"cannot reach http://127.0.0.1:{closed_port}/x"):
        download(f"http://127.0.0.1:{closed_port}/x", tmp_path / "x")


def test_pull_from_explicit_files(server, store, monkeypatch):
    base, www = server
    Make(www).controlnet(name="repo")
    files = tuple(
        C.CatalogFile(p, f"{base}/repo/{p}") for p in ("config.json", "diffusion_pytorch_model.safetensors")
    )
    monkeypatch.setitem(C.CATALOG, "seg2sat", dataclasses.replace(C.CATALOG["seg2sat"], files=files))
    entry, downloaded = pull("seg2sat")
    assert downloaded and entry.kind == K.CONTROLNET and entry.catalog == "seg2sat"
    assert entry.licence == "CreativeML OpenRAIL-M"
    assert (entry.facts["resolution"], entry.facts["resolution_source"]) == (512, "catalog")
    assert set(entry.files) == {"config.json", "diffusion_pytorch_model.safetensors"}
    assert store.verify("seg2sat").ok
    assert pull("seg2sat") == (entry, False)  # already installed: nothing fetched
    assert not [p for p in store.models_dir.iterdir() if p.name.startswith(".")]


def _zenodo_record(
    www: Path, base: str, record: str, files: dict[str, bytes], md5: dict[str, str] | None = None
):
    entries = []
    for key, data in files.items():
        (www / "files").mkdir(exist_ok=True)
        (www / "files" / key).write_bytes(data)
        entries.append(
            {
                "key": key,
                "size": len(data),
                "checksum": "md5:" + (md5 or {}).get(key, hashlib.md5(data).hexdigest()),
                "links": {"self": f"{base}/files/{key}"},
            }
        )
    (www / "api" / "records").mkdir(parents=True, exist_ok=True)
    (www / "api" / "records" / record).write_text(json.dumps({"id": record, "files": entries}))


def _zip_of(folder: Path, top: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, f"{top}/{p.relative_to(folder).as_posix()}")
    return buf.getvalue()


def test_pull_zenodo_record_with_archive(server, store, monkeypatch, tmp_path):
    base, www = server
    unet = Make(tmp_path).sat_unet(name="unet_src")
    _zenodo_record(
        www, base, "13751498", {"finetune_sd21.zip": _zip_of(unet, "finetune_sd21/checkpoint-150000/unet")}
    )
    monkeypatch.setattr(C, "ZENODO_API", f"{base}/api/records/")
    entry, _ = pull("diffusionsat-512")
    assert entry.kind == K.DIFFUSIONSAT
    assert entry.facts["weights_dir"] == "finetune_sd21/checkpoint-150000/unet"
    assert (entry.path / entry.facts["weights_dir"] / "config.json").is_file()
    assert (entry.facts["resolution"], entry.facts["weights_format"]) == (512, "pickle")
    assert not any(f.endswith(".zip") for f in entry.files)  # the archive was unpacked and dropped


def test_pull_refuses_bad_checksum_and_wrong_kind(server, store, monkeypatch, tmp_path):
    base, www = server
    monkeypatch.setattr(C, "ZENODO_API", f"{base}/api/records/")
    _zenodo_record(www, base, "13756199", {"config.json": b"{}"}, md5={"config.json": "0" * 32})
    with pytest.raises(ModelError, match="checksum mismatch"):
        pull("diffusionsat-256")
    lora = Make(tmp_path).kohya_lora()
    _zenodo_record(www, base, "13756199", {"style.safetensors": lora.read_bytes()})
    with pytest.raises(ModelError, match=r"is not a DiffusionSat single-image model .* it holds: LoRA"):
        pull("diffusionsat-256")
    assert store.entries() == [] and not list(store.models_dir.iterdir())


def test_offline_message_zenodo(store, monkeypatch, closed_port):
    monkeypatch.setattr(C, "ZENODO_API", f"http://127.0.0.1:{closed_port}/api/records/")
    with pytest.raises(PullOfflineError) as err:
        pull("diffusionsat-512")
    assert "\n" not in str(err.value)
    text = err.value.instructions
    assert "https://zenodo.org/records/13751498" in text
    assert "geogen models add diffusionsat-512 <folder> --kind diffusionsat --resolution 512" in text
    assert "OpenRAIL++-M" in text
    assert store.entries() == []


def test_offline_message_hugging_face(store, monkeypatch, closed_port):
    entry = C.CATALOG["sd-2-1-base"]
    files = tuple(dataclasses.replace(f, url=f"http://127.0.0.1:{closed_port}/{f.path}") for f in entry.files)
    monkeypatch.setitem(C.CATALOG, "sd-2-1-base", dataclasses.replace(entry, files=files))
    with pytest.raises(PullOfflineError) as err:
        pull("sd-2-1-base")
    text = err.value.instructions
    assert f"http://127.0.0.1:{closed_port}/unet/diffusion_pytorch_model.safetensors" in text
    assert "<folder>/unet/diffusion_pytorch_model.safetensors" in text
    assert "geogen models add sd-2-1-base <folder> --kind sd-pipeline" in text


def test_catalog_lists_the_published_weights():
    zenodo = {e.zenodo_record: e.kind for e in C.CATALOG.values() if e.zenodo_record}
    assert zenodo == {
        "13751498": K.DIFFUSIONSAT,
        "13756199": K.DIFFUSIONSAT,
        "13756211": K.DIFFUSIONSAT_3D,
        "13756246": K.DIFFUSIONSAT_SR,
    }
    hf = {e.hf_repo for e in C.CATALOG.values() if e.hf_repo}
    assert hf == {"rgres/Seg2Sat-sd-controlnet", "stabilityai/stable-diffusion-2-1-base", "MVRL/GeoSynth-OSM"}
    for e in C.CATALOG.values():
        assert e.kind in K.KINDS and e.licence
        assert all(f.url.startswith(f"https://huggingface.co/{e.hf_repo}/resolve/main/") for f in e.files)


def test_archives_cannot_escape(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../outside.txt", "x")
    with pytest.raises(ModelError, match="points outside"):
        extract_archive(evil, tmp_path / "dest")
    assert not (tmp_path / "outside.txt").exists()
