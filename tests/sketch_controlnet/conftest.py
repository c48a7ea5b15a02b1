"""Fixtures: tiny SD / DiffusionSat pipelines, ControlNets and LoRAs on disk (built once), a real FLAIR mask
crop, a small polygon layer, and an empty model store per test."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window as RioWindow

from tests.sketch_controlnet.lora_files import lora_tensors, write_kohya_lora, write_peft_lora
from tests.store_fixture import _empty_store  # noqa: F401 (autouse fixture)
from tests.tiny_models import build_tiny_controlnet, build_tiny_diffusionsat, build_tiny_sd

os.environ.setdefault("HF_HUB_OFFLINE", "1")

FLAIR_MASK = "flair1_aerial_masks/MSK_067998.tif"
CROP = RioWindow(416, 64, 64, 64)  # 64 x 64 px (12.8 m) of the mask: classes 1, 2, 3, 7, 10
HOLE = (slice(0, 12), slice(0, 12))  # set to nodata in the crop: the output must be transparent there


@pytest.fixture(scope="session")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cn_models")


@pytest.fixture(scope="session")
def sd_dir(models_root: Path) -> Path:
    return build_tiny_sd(models_root / "tiny-sd")


@pytest.fixture(scope="session")
def controlnet_dir(models_root: Path) -> Path:
    return build_tiny_controlnet(models_root / "tiny-landcover-controlnet")


@pytest.fixture(scope="session")
def wide_controlnet_dir(models_root: Path) -> Path:
    """A ControlNet for another base family: it attends to 48-wide text embeddings (the tiny bases: 32)."""
    return build_tiny_controlnet(models_root / "tiny-controlnet-48", cross_attention_dim=48)


@pytest.fixture(scope="session")
def coarse_controlnet_dir(models_root: Path) -> Path:
    """A ControlNet whose condition encoder shrinks 8x (stock default) while the tiny VAE's factor is 2."""
    return build_tiny_controlnet(models_root / "tiny-controlnet-8x", conditioning_channels=(16, 32, 96, 256))


@pytest.fixture(scope="session")
def diffusionsat_dir(models_root: Path) -> Path:
    return build_tiny_diffusionsat(models_root / "tiny-diffusionsat")


@pytest.fixture(scope="session")
def lora_pairs(sd_dir: Path):
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextModel

    unet = UNet2DConditionModel.from_pretrained(sd_dir / "unet")
    text = CLIPTextModel.from_pretrained(sd_dir / "text_encoder")
    return lora_tensors(unet, text)


@pytest.fixture(scope="session")
def kohya_lora(models_root: Path, lora_pairs) -> Path:
    return write_kohya_lora(models_root / "loras" / "style_kohya.safetensors", lora_pairs, alpha=2.0)


@pytest.fixture(scope="session")
def peft_lora(models_root: Path, lora_pairs) -> Path:
    return write_peft_lora(models_root / "loras_peft" / "pytorch_lora_weights.safetensors", lora_pairs)


@pytest.fixture(scope="session")
def flair_crop(test_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 x 64 px of a real FLAIR-1 mask at 0.2 m (EPSG:2154), with a 12 px nodata corner."""
    out = tmp_path_factory.mktemp("flair") / "msk_crop.tif"
    with rasterio.open(test_data / FLAIR_MASK) as src:
        data = src.read(1, window=CROP)
        profile = {
            **src.profile,
            "width": CROP.width,
            "height": CROP.height,
            "transform": src.window_transform(CROP),
            "nodata": 0,
            "blockysize": 16,
        }
    data[HOLE] = 0
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data, 1)
    return out


@pytest.fixture(scope="session")
def polygons(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three land-cover polygons (FLAIR class names in field "lc") in EPSG:2154 over a 24 x 16 m area."""
    import fiona
    from shapely.geometry import box, mapping

    out = tmp_path_factory.mktemp("poly") / "sketch.gpkg"
    x0, y0 = 1025660.0, 6747300.0
    features = [
        (box(x0, y0, x0 + 12, y0 + 16), "building"),
        (box(x0 + 12, y0, x0 + 24, y0 + 8), "water"),
        (box(x0 + 12, y0 + 8, x0 + 20, y0 + 16), "deciduous"),  # leaves x0+20..24 of the top half undrawn
    ]
    schema = {"geometry": "Polygon", "properties": {"lc": "str"}}
    with fiona.open(out, "w", driver="GPKG", crs="EPSG:2154", schema=schema) as dst:
        for geom, name in features:
            dst.write({"geometry": mapping(geom), "properties": {"lc": name}})
    return out


def crop_codes(flair_crop: Path) -> np.ndarray:
    with rasterio.open(flair_crop) as ds:
        return ds.read(1)


@pytest.fixture(scope="session")
def sd_models(sd_dir: Path, controlnet_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """Tiny SD + ControlNet loaded on the CPU in float32 through the store and ``load_sketch_models``."""
    from geogen.diffusion.options import DiffusionOptions
    from geogen.engines.sketch_controlnet.models import load_sketch_models
    from geogen.store import Store, resolve

    store = Store(tmp_path_factory.mktemp("unused_store"))
    return load_sketch_models(
        resolve(str(sd_dir), store=store),
        resolve(str(controlnet_dir), store=store),
        device="cpu",
        options=DiffusionOptions(dtype="fp32"),
    )
