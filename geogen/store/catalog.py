"""Published weights ``geogen models pull`` knows: where they are, what they are, and under which licence.

Zenodo records are listed through Zenodo's API at pull time (file names, sizes and md5 come from there);
Hugging Face repositories list the files geogen needs explicitly (a repository often holds several formats).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from geogen.errors import ModelError
from geogen.store import kinds as K

ZENODO_API = "https://zenodo.org/api/records/"
ZENODO_PAGE = "https://zenodo.org/records/"
HF_BASE = "https://huggingface.co/"

OPENRAIL_PP = "CreativeML OpenRAIL++-M"
OPENRAIL_PP_URL = "https://github.com/Stability-AI/stablediffusion/blob/main/LICENSE-MODEL"
_DIFFUSIONSAT_LICENCE = (
    f"see the Zenodo record; the weights derive from Stable Diffusion 2.1, so the "
    f"{OPENRAIL_PP} use restrictions apply"
)


@dataclass(frozen=True)
class CatalogFile:
    """One file to fetch: where it goes in the model folder, its URL, and its size/checksum when known."""

    path: str
    url: str
    size: int | None = None
    checksum: str | None = None  # "sha256:<hex>" or "md5:<hex>"


@dataclass(frozen=True)
class CatalogEntry:
    """A published model: the kind it must be once installed, its sources, licence and known facts."""

    name: str
    kind: str
    title: str
    page: str
    licence: str
    licence_url: str | None = None
    files: tuple[CatalogFile, ...] = ()
    zenodo_record: str | None = None
    hf_repo: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "label": K.label(self.kind),
            "title": self.title,
            "page": self.page,
            "licence": self.licence,
            "licence_url": self.licence_url,
            "source": "zenodo" if self.zenodo_record else ("huggingface" if self.hf_repo else "url"),
            "files": [f.path for f in self.files],
            "facts": dict(self.facts),
            "notes": self.notes,
        }


def hf_files(repo: str, paths: tuple[str, ...]) -> tuple[CatalogFile, ...]:
    return tuple(CatalogFile(p, f"{HF_BASE}{repo}/resolve/main/{p}") for p in paths)


def _zenodo(
    name: str, kind: str, title: str, record: str, facts: dict[str, Any], notes: str = ""
) -> CatalogEntry:
    return CatalogEntry(
        name,
        kind,
        title,
        f"{ZENODO_PAGE}{record}",
        _DIFFUSIONSAT_LICENCE,
        OPENRAIL_PP_URL,
        zenodo_record=record,
        facts=facts,
        notes=notes,
    )


def _hf(
    name: str,
    kind: str,
    title: str,
    repo: str,
    paths: tuple[str, ...],
    licence: str,
    licence_url: str | None,
    facts: dict[str, Any],
    notes: str = "",
) -> CatalogEntry:
    return CatalogEntry(
        name,
        kind,
        title,
        f"{HF_BASE}{repo}",
        licence,
        licence_url,
        hf_files(repo, paths),
        hf_repo=repo,
        facts=facts,
        notes=notes,
    )


_SD21_BASE_FILES = (
    "model_index.json",
    "feature_extractor/preprocessor_config.json",
    "scheduler/scheduler_config.json",
    "text_encoder/config.json",
    "text_encoder/model.safetensors",
    "tokenizer/merges.txt",
    "tokenizer/special_tokens_map.json",
    "tokenizer/tokenizer_config.json",
    "tokenizer/vocab.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
)

CATALOG: dict[str, CatalogEntry] = {
    e.name: e
    for e in (
        _zenodo(
            "diffusionsat-512",
            K.DIFFUSIONSAT,
            "DiffusionSat single-image model, 512 px",
            "13751498",
            {"resolution": 512},
            "pickle weights (.bin): run `geogen models convert` after pulling",
        ),
        _zenodo(
            "diffusionsat-256",
            K.DIFFUSIONSAT,
            "DiffusionSat single-image model, 256 px",
            "13756199",
            {"resolution": 256},
            "pickle weights (.bin): run `geogen models convert` after pulling",
        ),
        _zenodo(
            "diffusionsat-texas-3d",
            K.DIFFUSIONSAT_3D,
            "DiffusionSat 3-D ControlNet, Texas housing (NAIP + Sentinel RGB, 3 frames, 256 px)",
            "13756211",
            {"resolution": 256},
            "needs a DiffusionSat single-image model as its base",
        ),
        _zenodo(
            "diffusionsat-sr",
            K.DIFFUSIONSAT_SR,
            "DiffusionSat 2-D ControlNet, fMoW Sentinel-2 -> RGB super-resolution (256 px -> 512 px)",
            "13756246",
            {"resolution": 512},
            "needs diffusionsat-512 as its base",
        ),
        _hf(
            "seg2sat",
            K.CONTROLNET,
            "Seg2Sat: FLAIR land-cover map -> 0.2 m aerial image ControlNet",
            "rgres/Seg2Sat-sd-controlnet",
            ("config.json", "diffusion_pytorch_model.bin"),
            "CreativeML OpenRAIL-M",
            "https://huggingface.co/spaces/CompVis/stable-diffusion-license",
            {"resolution": 512},
            "needs sd-2-1-base; pickle weights (.bin): run `geogen models convert` after pulling",
        ),
        _hf(
            "sd-2-1-base",
            K.SD_PIPELINE,
            "Stable Diffusion 2.1 base (512 px), diffusers layout",
            "stabilityai/stable-diffusion-2-1-base",
            _SD21_BASE_FILES,
            OPENRAIL_PP,
            OPENRAIL_PP_URL,
            {},
        ),
        _hf(
            "geosynth-osm",
            K.CONTROLNET,
            "GeoSynth-OSM: OpenStreetMap render -> satellite image ControlNet",
            "MVRL/GeoSynth-OSM",
            ("config.json", "diffusion_pytorch_model.safetensors"),
            f"see the model card; derived from Stable Diffusion 2.1: {OPENRAIL_PP} use restrictions apply",
            OPENRAIL_PP_URL,
            {"resolution": 512},
            "needs sd-2-1-base",
        ),
    )
}


def catalog_entry(name: str) -> CatalogEntry:
    """The published model ``name``.

    Raises:
        ModelError: not in the catalog (the message lists what is).
    """
    try:
        return CATALOG[name]
    except KeyError:
        raise ModelError(f"no published model named {name!r}; known: {', '.join(CATALOG)}") from None
