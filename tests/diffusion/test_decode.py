"""Tiled VAE decoding into the streaming mosaic: same pixels as a whole decode, memory held to a tile band."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geogen.diffusion.decode import decode_latents
from geogen.errors import EngineError
from tests.diffusion.standins import PointwiseVAE
from tiles import Window


class Canvas:
    """A sink that paints bands into one array and checks they arrive once each."""

    def __init__(self, shape: tuple[int, int]) -> None:
        self.image = np.zeros((3, *shape), np.uint8)
        self.hits = np.zeros(shape, np.int32)

    def __call__(self, window: Window, array: np.ndarray) -> None:
        rows, cols = window.slices
        self.image[:, rows, cols] = array
        self.hits[rows, cols] += 1


def latents(rows: int, cols: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(4, rows, cols, generator=torch.Generator().manual_seed(seed)) * 0.5


def test_tiled_decode_equals_whole_decode_for_a_pointwise_decoder() -> None:
    z = latents(40, 56)
    tiled, whole = Canvas((80, 112)), Canvas((80, 112))
    stats = decode_latents(PointwiseVAE(), z, tiled, tile=16, overlap=4)
    decode_latents(PointwiseVAE(), z, whole, tile=64, overlap=0)
    assert stats.tiles == 3 * 5  # rows: 0, 12, 24; columns: 0, 12, 24, 36, 40
    assert (tiled.hits == 1).all() and (whole.hits == 1).all()
    np.testing.assert_array_equal(tiled.image, whole.image)
    assert tiled.image.std() > 20


def test_decode_tiles_keep_their_size_and_memory_follows_the_band() -> None:
    vae = PointwiseVAE()
    sink = Canvas((400, 64))
    stats = decode_latents(vae, latents(200, 32), sink, tile=16, overlap=4)
    assert set(vae.decoded) == {(1, 4, 16, 16)}
    assert stats.peak_buffered_rows <= 3 * 16 * 2  # a few tile rows of pixels, not the 400-row image
    assert (sink.hits == 1).all()


def test_real_vae_overlap_blending_hides_tile_edges(tiny_components) -> None:
    """Tiny VAE (GroupNorm statistics differ per tile): blended overlaps beat abutting tiles' seams.

    Blended overlaps come much closer to a whole decode than abutting tiles, whose edges show as seams.
    """
    vae = tiny_components.vae
    z = latents(32, 32, seed=2)
    whole = Canvas((64, 64))
    decode_latents(vae, z, whole, tile=32, overlap=0)
    diffs = {}
    for overlap in (0, 4):
        tiled = Canvas((64, 64))
        decode_latents(vae, z, tiled, tile=16, overlap=overlap)
        diffs[overlap] = np.abs(tiled.image.astype(int) - whole.image.astype(int))
    assert diffs[4].mean() < 0.6 * diffs[0].mean(), (diffs[4].mean(), diffs[0].mean())
    assert diffs[4].max() < 0.5 * diffs[0].max(), (diffs[4].max(), diffs[0].max())


def test_bad_latents_are_refused() -> None:
    with pytest.raises(EngineError, match="channels, rows, cols"):
        decode_latents(PointwiseVAE(), torch.zeros(1, 4, 8, 8), Canvas((16, 16)))
