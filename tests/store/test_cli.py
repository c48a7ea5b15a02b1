"""`geogen models ...` through the real command group: exit codes, JSON for the plugin, one-line errors."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner

from geogen.cli.main import cli
from geogen.store import catalog as C


@pytest.fixture
def run(store):
    """Invoke `geogen ...` in the temporary store; returns the click Result."""
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def _error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("geogen: error:")]


def test_add_list_info_verify_remove(run, make, store):
    src = make.sat_unet(fmt="bin")
    r = run("models", "add", "dsat", str(src), "--resolution", "256")
    assert r.exit_code == 0, r.stderr
    assert "installed dsat: DiffusionSat single-image model, 2 file(s)" in r.stdout
    assert "geogen models convert dsat" in r.stdout
    listing = json.loads(run("models", "list", "--json").stdout)
    assert listing["store"] == str(store.root)
    [m] = listing["models"]
    assert (m["name"], m["kind"], m["facts"]["resolution"], m["facts"]["num_metadata"]) == (
        "dsat",
        "diffusionsat",
        256,
        7,
    )
    assert "files" not in m
    assert {a["name"] for a in listing["available"]} >= {"diffusionsat-512", "seg2sat", "sd-2-1-base"}
    info = json.loads(run("models", "info", "dsat", "--json").stdout)
    assert info["weights_path"] == str(store.root / "models" / "dsat")
    assert set(info["files"]) == {"config.json", "diffusion_pytorch_model.bin"}
    assert "dsat" in run("models", "list").stdout
    assert run("models", "verify", "dsat").stdout.strip() == "dsat: OK"

    (store.root / "models" / "dsat" / "config.json").write_text("{}")
    r = run("models", "verify", "dsat")
    assert r.exit_code != 0
    assert _error_lines(r) == ["geogen: error: model 'dsat' is damaged: 1 file(s) changed: config.json"]
    assert "Traceback" not in r.output

    r = run("models", "remove", "dsat")
    assert r.exit_code == 0 and "removed dsat" in r.stdout
    assert json.loads(run("models", "list", "--json").stdout)["models"] == []


def test_convert_command(run, make, store):
    run("models", "add", "cn", str(make.controlnet(fmt="bin")))
    r = run("models", "convert", "cn", "--keep-bin")
    assert r.exit_code == 0, r.stderr
    assert "converted diffusion_pytorch_model.bin -> diffusion_pytorch_model.safetensors" in r.stdout
    assert (store.root / "models" / "cn" / "diffusion_pytorch_model.bin").exists()
    assert run("models", "verify", "cn").exit_code == 0


def test_user_errors_are_one_line(run, make, tmp_path):
    cases = [
        ("models", "info", "nope"),
        ("models", "add", "x", str(tmp_path / "missing")),
        ("models", "add", "bad/name", str(make.controlnet())),
        ("models", "add", "x", str(make.controlnet(name="cn2")), "--kind", "lora"),
        ("models", "pull", "no-such-model"),
        ("models", "remove", "nope"),
    ]
    for args in cases:
        r = run(*args)
        assert r.exit_code == 2, (args, r.output)
        assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("geogen: error: "), (
            args,
            r.stderr,
        )
    assert "is not a LoRA (--kind lora)" in run(*cases[3]).stderr


def test_trust_pickle_flag(run, tmp_path):
    from .test_convert import evil_controlnet

    marker = tmp_path / "MARKER"
    folder = evil_controlnet(tmp_path / "evil", marker)
    r = run("models", "add", "evil", str(folder))
    assert r.exit_code == 2 and "--trust-pickle" in r.stderr and not marker.exists()
    assert run("models", "add", "evil", str(folder), "--trust-pickle").exit_code == 0
    r = run("models", "convert", "evil")  # the trust given at add time is not reused by convert
    assert r.exit_code == 2 and "--trust-pickle" in r.stderr and not marker.exists()
    assert len(r.stderr.strip().splitlines()) == 1
    r = run("models", "convert", "evil", "--trust-pickle")
    assert r.exit_code == 0 and marker.exists()
    assert "warning: unpickling" in r.stderr and "--trust-pickle" in r.stderr


def test_pull_offline_prints_what_to_download(run, monkeypatch, closed_port):
    entry = C.CATALOG["seg2sat"]
    files = tuple(dataclasses.replace(f, url=f"http://127.0.0.1:{closed_port}/{f.path}") for f in entry.files)
    monkeypatch.setitem(C.CATALOG, "seg2sat", dataclasses.replace(entry, files=files))
    r = run("models", "pull", "seg2sat", "--progress", "none")
    assert r.exit_code == 2
    assert f"http://127.0.0.1:{closed_port}/diffusion_pytorch_model.bin" in r.stderr
    assert "geogen models add seg2sat <folder> --kind controlnet" in r.stderr
    assert _error_lines(r)[0].startswith("geogen: error: cannot download 'seg2sat'")


def test_pull_speaks_json_lines_for_the_plugin(run, monkeypatch, closed_port):
    entry = C.CATALOG["geosynth-osm"]
    files = tuple(dataclasses.replace(f, url=f"http://127.0.0.1:{closed_port}/{f.path}") for f in entry.files)
    monkeypatch.setitem(C.CATALOG, "geosynth-osm", dataclasses.replace(entry, files=files))
    r = run("models", "pull", "geosynth-osm", "--progress", "jsonl")
    assert r.exit_code == 2
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert events[-1]["type"] == "error" and events[-1]["message"].startswith(
        "cannot download 'geosynth-osm'"
    )
    assert any(e["type"] == "log" and "geogen models add geosynth-osm" in e["message"] for e in events)


def test_add_a_published_model_by_hand_keeps_catalog_facts(run, make, store):
    r = run("models", "add", "diffusionsat-256", str(make.sat_unet()))
    assert r.exit_code == 0, r.stderr
    entry = store.get("diffusionsat-256")
    assert (entry.facts["resolution"], entry.facts["resolution_source"], entry.catalog) == (
        256,
        "catalog",
        "diffusionsat-256",
    )
    assert "OpenRAIL++-M" in entry.licence


def test_a_published_name_for_another_kind_is_refused(run, make, store):
    r = run("models", "add", "diffusionsat-512", str(make.kohya_lora()))
    assert r.exit_code == 2
    assert "holds a LoRA, but 'diffusionsat-512' is the name of the published" in r.stderr
    assert store.entries() == []


def test_info_on_a_folder(run, make):
    r = run("models", "info", str(make.pipeline()))
    assert r.exit_code == 0
    assert "Stable Diffusion pipeline (sd-pipeline)" in r.stdout and "not installed" in r.stdout
    assert "resolution: 512" in r.stdout
