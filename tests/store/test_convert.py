"""Pickle safety and .bin -> safetensors conversion (a malicious pickle must never run)."""

from __future__ import annotations

import json
import os

import pytest
import torch
from safetensors.torch import load_file

from geogen.errors import ModelError
from geogen.store.convert import convert_folder, safetensors_name
from geogen.store.weights import UntrustedPickleWarning, load_pickle

from .conftest import CONTROLNET_CONFIG, tiny_state_dict, write_json


class Evil:
    """Unpickling this calls os.makedirs(marker): a harmless stand-in for os.system."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def evil_controlnet(folder, marker):
    write_json(folder / "config.json", CONTROLNET_CONFIG)
    sd = tiny_state_dict()
    sd["extra"] = Evil(marker)
    torch.save(sd, folder / "diffusion_pytorch_model.bin")
    return folder


def test_names_follow_diffusers_and_transformers(tmp_path):
    assert (
        safetensors_name(tmp_path / "diffusion_pytorch_model.bin").name
        == "diffusion_pytorch_model.safetensors"
    )
    assert safetensors_name(tmp_path / "pytorch_model.bin").name == "model.safetensors"
    assert (
        safetensors_name(tmp_path / "pytorch_model-00001-of-00002.bin").name
        == "model-00001-of-00002.safetensors"
    )
    assert safetensors_name(tmp_path / "lora.ckpt").name == "lora.safetensors"


def test_convert_writes_identical_tensors_and_updates_the_manifest(store, make):
    src = make.controlnet(fmt="bin")
    expected = tiny_state_dict()
    store.add("cn", src)
    result = store.convert("cn")
    folder = store.root / "models" / "cn"
    assert result.converted == [("diffusion_pytorch_model.bin", "diffusion_pytorch_model.safetensors")]
    assert result.removed == ["diffusion_pytorch_model.bin"]
    assert not (folder / "diffusion_pytorch_model.bin").exists()
    got = load_file(str(folder / "diffusion_pytorch_model.safetensors"))
    assert got.keys() == expected.keys()
    assert all(torch.equal(got[k], expected[k]) for k in expected)
    entry = store.get("cn")
    assert set(entry.files) == {"config.json", "diffusion_pytorch_model.safetensors"}
    assert (entry.facts["weights_format"], entry.facts["pickle_files"]) == ("safetensors", [])
    assert store.verify("cn").ok
    assert store.convert("cn").converted == []  # nothing left to do


def test_keep_bin(store, make):
    store.add("cn", make.controlnet(fmt="bin"))
    store.convert("cn", keep_bin=True)
    entry = store.get("cn")
    assert set(entry.files) == {
        "config.json",
        "diffusion_pytorch_model.bin",
        "diffusion_pytorch_model.safetensors",
    }
    assert entry.facts["weights_format"] == "mixed"
    assert store.verify("cn").ok


def test_shared_tensors_and_sharded_index(tmp_path):
    base = torch.arange(6.0)
    torch.save({"a": base, "b": base[:3], "step": 10}, tmp_path / "pytorch_model-00001-of-00002.bin")
    torch.save({"c": torch.ones(2)}, tmp_path / "pytorch_model-00002-of-00002.bin")
    (tmp_path / "pytorch_model.bin.index.json").write_text(
        json.dumps(
            {
                "weight_map": {
                    "a": "pytorch_model-00001-of-00002.bin",
                    "b": "pytorch_model-00001-of-00002.bin",
                    "c": "pytorch_model-00002-of-00002.bin",
                }
            }
        )
    )
    result = convert_folder(
        tmp_path, ["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"]
    )
    assert result.dropped == {"pytorch_model-00001-of-00002.bin": ["step"]}
    shard = load_file(str(tmp_path / "model-00001-of-00002.safetensors"))
    assert torch.equal(shard["a"], base) and torch.equal(shard["b"], base[:3])
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert index["weight_map"]["c"] == "model-00002-of-00002.safetensors"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "model.safetensors.index.json",
    ]


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "MARKER"
    folder = evil_controlnet(tmp_path / "evil", marker)
    with pytest.raises(ModelError) as err:
        load_pickle(folder / "diffusion_pytorch_model.bin")
    message = str(err.value)
    assert (
        "diffusion_pytorch_model.bin" in message and "--trust-pickle" in message and "os.makedirs" in message
    )
    assert "\n" not in message
    assert not marker.exists()


def test_add_and_convert_refuse_it_and_trust_pickle_accepts_it(store, tmp_path):
    marker = tmp_path / "MARKER"
    folder = evil_controlnet(tmp_path / "evil", marker)
    with pytest.raises(
        ModelError, match=r"refusing to unpickle .*diffusion_pytorch_model\.bin.*--trust-pickle"
    ):
        store.add("evil", folder)
    assert store.entries() == [] and not marker.exists()
    store.add("evil", folder, trust_pickle=True)  # recorded as trusted, still nothing unpickled fully
    assert store.get("evil").trust_pickle and not marker.exists()
    with pytest.raises(ModelError, match="--trust-pickle"):
        convert_folder(store.root / "models" / "evil", ["diffusion_pytorch_model.bin"])
    assert not marker.exists()
    with pytest.raises(ModelError, match="--trust-pickle"):
        store.convert("evil")  # trusted at add time, but convert needs the decision again
    assert not marker.exists()
    with pytest.warns(UntrustedPickleWarning, match="--trust-pickle"):
        result = store.convert("evil", trust_pickle=True)
    assert marker.exists()  # full unpickling does run the code: that is what the flag allows
    assert result.dropped == {"diffusion_pytorch_model.bin": ["extra"]}
    got = load_file(str(store.root / "models" / "evil" / "diffusion_pytorch_model.safetensors"))
    assert got.keys() == tiny_state_dict().keys()


def test_linked_pickles_are_kept_and_a_failed_conversion_leaves_nothing(store, make, tmp_path):
    src = make.controlnet(fmt="bin")
    store.add("cn", src, link=True)
    result = store.convert("cn")
    assert result.removed == [] and (src / "diffusion_pytorch_model.bin").exists()
    assert (src / "diffusion_pytorch_model.safetensors").exists() and store.verify("cn").ok

    folder = tmp_path / "two"
    folder.mkdir()
    torch.save(tiny_state_dict(), folder / "a.bin")
    torch.save({"x": Evil(tmp_path / "MARKER")}, folder / "b.bin")
    with pytest.raises(ModelError, match=r"b\.bin"):
        convert_folder(folder, ["a.bin", "b.bin"])
    assert sorted(p.name for p in folder.iterdir()) == ["a.bin", "b.bin"]  # a.safetensors rolled back


def test_convert_refuses_a_tampered_model(store, make):
    entry = store.add("cn", make.controlnet(fmt="bin"))
    (entry.path / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="has changed since it was installed"):
        store.convert("cn")
