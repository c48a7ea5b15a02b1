"""Streaming mosaic: crops of an image blend back into it, bands stream out once, memory follows the band."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiles import IncompleteMosaicError, StreamingMosaic, Window, plan, stream_order


@st.composite
def plans(draw: st.DrawFn) -> tuple[tuple[int, int], tuple[int, int], int]:
    """Small (shape, tile, overlap) with 0 <= overlap < min(tile)."""
    shape = (draw(st.integers(1, 40)), draw(st.integers(1, 40)))
    tile = (draw(st.integers(1, 12)), draw(st.integers(1, 12)))
    return shape, tile, draw(st.integers(0, min(tile) - 1))


class Collect:
    """A sink keeping every (window, array) it receives, plus the image they paint."""

    def __init__(self, shape: tuple[int, int], count: int) -> None:
        self.calls: list[tuple[Window, np.ndarray]] = []
        self.image = np.full((count, *shape), np.nan)
        self.hits = np.zeros(shape, dtype=int)

    def __call__(self, window: Window, array: np.ndarray) -> None:
        """Record one band."""
        self.calls.append((window, array))
        self.image[(slice(None), *window.slices)] = array
        self.hits[window.slices] += 1


def crops(image: np.ndarray, tiles):
    """(tile, crop) pairs: a perfect model that returns its input window."""
    return [(t, image[(slice(None), *t.window.slices)].copy()) for t in tiles]


@settings(max_examples=50, deadline=None)
@given(
    plans(),
    st.sampled_from(["cosine", "linear", "constant"]),
    st.one_of(st.none(), st.integers(1, 16)),
    st.one_of(st.none(), st.integers(1, 16)),
    st.randoms(use_true_random=False),
)
def test_crops_reassemble_the_image_in_any_order(args, kind, block_rows, block_cols, rnd):
    shape, tile, overlap = args
    image = np.random.default_rng(rnd.randrange(2**32)).random((2, *shape)).astype(np.float32)
    tiles = plan(shape, tile, overlap)
    sink = Collect(shape, 2)
    order = crops(image, tiles)
    rnd.shuffle(order)
    blocks = {"block_rows": block_rows, "block_cols": block_cols}
    with StreamingMosaic(shape, 2, tiles, sink, weight_kind=kind, **blocks) as mosaic:
        for t, crop in order:
            mosaic.add(t, crop)
    np.testing.assert_allclose(sink.image, image, rtol=0, atol=1e-5)
    # Disjoint windows covering every pixel exactly once, in float32, full width or aligned to blocks.
    np.testing.assert_array_equal(sink.hits, 1)
    assert all(a.dtype == np.float32 and a.shape == (2, w.height, w.width) for w, a in sink.calls)
    if block_rows is not None:
        assert all(
            w.row_off % block_rows == 0 and w.height == min(block_rows, shape[0] - w.row_off)
            for w, _ in sink.calls
        )
    if block_cols is None:
        assert all(w.col_off == 0 and w.width == shape[1] for w, _ in sink.calls)
    else:
        assert all(
            w.col_off % block_cols == 0 and w.width == min(block_cols, shape[1] - w.col_off)
            for w, _ in sink.calls
        )
    assert mosaic.buffered_rows == 0 and mosaic.done


@settings(max_examples=50, deadline=None)
@given(plans(), st.one_of(st.none(), st.integers(1, 16)))
def test_row_major_order_buffers_one_tile_band(args, block_rows):
    shape, tile, overlap = args
    tiles = plan(shape, tile, overlap)
    mosaic = StreamingMosaic(shape, 2, tiles, lambda w, a: None, dtype=np.uint8, block_rows=block_rows)
    for t, crop in crops(np.ones((2, *shape)), tiles):
        mosaic.add(t, crop)
    mosaic.close()
    band = min(tile[0], shape[0])
    # One tile band, plus the parts of the blocks straddling its top and bottom edges.
    slack = 0 if block_rows is None else 2 * (block_rows - 1)
    assert mosaic.peak_buffered_rows <= band + slack
    # At most that band in float32 accumulators and in uint8 output rows, 2 channels.
    assert mosaic.peak_buffer_bytes <= (band * 4 + band + slack) * shape[1] * 2


def test_float_accumulators_hold_an_overlap_strip_not_the_band():
    shape = (100, 2000)
    tiles = plan(shape, 64, 16)  # tile rows [0, 64) and [36, 100): they share rows [36, 64)
    mosaic = StreamingMosaic(shape, 1, tiles, lambda w, a: None, dtype=np.uint8)
    for t, crop in crops(np.ones((1, *shape)), tiles):
        mosaic.add(t, crop)
        if t.index == (0, 41):  # end of the first tile row: only the shared strip is still accumulating
            assert mosaic.buffered_rows == 28
    strip, band_u8, one_tile = 28 * 2000 * 4, 64 * 2000, 64 * 64 * 4
    assert mosaic.peak_buffer_bytes <= strip + band_u8 + one_tile
    assert mosaic.peak_buffer_bytes < 64 * 2000 * 4  # less than one float32 tile band


def test_single_blocks_go_out_as_soon_as_finished_and_halve_the_staging():
    shape = (300, 2048)
    tiles = plan(shape, 128, 16)  # tile rows [0, 128), [112, 240), [172, 300); blocks of 64 rows
    peaks = {}
    for block_cols in (None, 64):
        sink = Collect(shape, 1)
        mosaic = StreamingMosaic(shape, 1, tiles, sink, dtype=np.uint8, block_rows=64, block_cols=block_cols)
        for t, crop in crops(np.full((1, *shape), 7.0), stream_order(tiles)):
            mosaic.add(t, crop)
        mosaic.close()
        np.testing.assert_array_equal(sink.image, 7)
        peaks[block_cols] = mosaic.peak_buffer_bytes
    assert {(w.height, w.width) for w, _ in sink.calls} == {(64, 64), (44, 64)}
    assert len(sink.calls) == 5 * 32
    assert peaks[64] < 0.75 * peaks[None]


def test_stream_order_interleaves_the_last_two_tile_rows():
    tiles = plan((300, 200), 128, 16)  # 3 x 2 tiles
    assert [t.index for t in stream_order(tiles)] == [(0, 0), (0, 1), (1, 0), (2, 0), (1, 1), (2, 1)]
    assert stream_order(plan((50, 300), 128, 16)) == plan((50, 300), 128, 16)


def test_stream_order_keeps_the_shifted_strip_from_spanning_the_width():
    shape = (300, 2048)
    tiles = plan(shape, 128, 16)  # the last tile row shares 68 rows with the one before
    peaks = []
    for order in (tiles, stream_order(tiles)):
        mosaic = StreamingMosaic(shape, 1, tiles, lambda w, a: None, dtype=np.uint8)
        for t, crop in crops(np.ones((1, *shape)), order):
            mosaic.add(t, crop)
        peaks.append(mosaic.peak_buffer_bytes)
    assert peaks[0] >= 68 * 2048 * 4  # row-major: the whole shared strip in float32
    assert peaks[1] < 0.7 * peaks[0]  # the output-dtype rows of both last tile rows are held instead


def test_blocks_wait_for_their_last_rows():
    shape = (100, 230)
    tiles = plan(shape, 64, 16)  # tile rows [0, 64) and [36, 100)
    sink = Collect(shape, 1)
    mosaic = StreamingMosaic(shape, 1, tiles, sink, block_rows=32)
    for t, crop in crops(np.ones((1, *shape)), [t for t in tiles if t.index[0] == 0]):
        mosaic.add(t, crop)
    # Rows [0, 36) are final, but only the block [0, 32) is whole: rows [32, 36) wait in block [32, 64)
    # while rows [36, 64) still accumulate.
    assert [w for w, _ in sink.calls] == [Window(0, 0, 230, 32)]
    assert mosaic.buffered_rows == 32
    for t, crop in crops(np.ones((1, *shape)), [t for t in tiles if t.index[0] == 1]):
        mosaic.add(t, crop)
    assert [w.row_off for w, _ in sink.calls] == [0, 32, 64, 96]
    assert [w.height for w, _ in sink.calls] == [32, 32, 32, 4]
    np.testing.assert_allclose(sink.image, 1.0, atol=1e-6)


def test_bands_are_handed_over_as_soon_as_no_pending_tile_touches_them():
    shape = (100, 230)
    tiles = plan(shape, 64, 16)  # tile rows [0, 64) and [36, 100)
    sink = Collect(shape, 1)
    mosaic = StreamingMosaic(shape, 1, tiles, sink)
    assert mosaic.buffered_rows == 0  # nothing allocated before the first tile
    first_row = [t for t in tiles if t.index[0] == 0]
    for t, crop in crops(np.ones((1, *shape)), first_row):
        mosaic.add(t, crop)
    assert [w for w, _ in sink.calls] == [Window(0, 0, 230, 36)]
    assert mosaic.buffered_rows == 28
    mosaic.add((1, 0), np.ones((1, 64, 64)))
    assert mosaic.buffered_rows == 64 and mosaic.peak_buffered_rows == 64


def test_integer_output_is_rounded_and_clipped():
    shape = (10, 10)
    tiles = plan(shape, 10, 0)
    sink = Collect(shape, 1)
    with StreamingMosaic(shape, 1, tiles, sink, dtype=np.uint8) as mosaic:
        mosaic.add(0, np.array([[-3.0, 0.4, 0.6, 2.5, 254.7, 300.0, 7, 7, 7, 7]] * 10)[None])
    ((_window, out),) = sink.calls
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 0], [0, 0, 1, 2, 255, 255, 7, 7, 7, 7])


def test_latent_plan_mosaic_keeps_the_image_at_latent_resolution():
    pixel_shape = (96, 160)
    latent_shape = (pixel_shape[0] // 8, pixel_shape[1] // 8)
    latent_tiles = plan(latent_shape, 64 // 8, 16 // 8)
    latent = np.random.default_rng(0).standard_normal((4, *latent_shape)).astype(np.float32)
    sink = Collect(latent_shape, 4)
    with StreamingMosaic(latent_shape, 4, latent_tiles, sink) as mosaic:
        for t, crop in crops(latent, latent_tiles):
            mosaic.add(t, crop)
    np.testing.assert_allclose(sink.image, latent, atol=1e-5)
    assert [t.scaled(8) for t in latent_tiles] == plan(pixel_shape, 64, 16)


def test_close_with_missing_tiles_raises_naming_them():
    shape = (100, 230)
    tiles = plan(shape, 64, 16)
    sink = Collect(shape, 1)
    mosaic = StreamingMosaic(shape, 1, tiles, sink)
    for t, crop in crops(np.ones((1, *shape)), tiles[:-1]):
        mosaic.add(t, crop)
    with pytest.raises(IncompleteMosaicError, match=r"1 of 10 tiles were never added, e.g. \[\(1, 4\)\]"):
        mosaic.close()
    assert sink.hits[36:].max() == 0  # the rows of the missing tile's band were never written
    with pytest.raises(ValueError, match="closed"):
        mosaic.add(tiles[-1], np.ones((1, 64, 64)))


def test_context_exit_on_error_does_not_mask_it():
    tiles = plan((20, 20), 10, 2)
    with (
        pytest.raises(KeyError, match="boom"),
        StreamingMosaic((20, 20), 1, tiles, lambda w, a: None) as mosaic,
    ):
        mosaic.add(0, np.ones((1, 10, 10)))
        raise KeyError("boom")
    assert mosaic.buffered_rows == 0


def test_bad_adds_are_refused():
    tiles = plan((20, 20), 10, 2)
    mosaic = StreamingMosaic((20, 20), 3, tiles, lambda w, a: None)
    with pytest.raises(ValueError, match=r"shape \(3, 10, 10\), got \(10, 10\)"):
        mosaic.add(0, np.ones((10, 10)))
    mosaic.add((0, 0), np.ones((3, 10, 10)))
    with pytest.raises(ValueError, match=r"tile \(0, 0\) was already added"):
        mosaic.add(tiles[0], np.ones((3, 10, 10)))
    with pytest.raises(ValueError, match=r"\(7, 7\)"):
        mosaic.add((7, 7), np.ones((3, 10, 10)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"count": 0}, "count must be positive, got 0"),
        ({"dtype": bool}, "dtype must be an integer or float type, got bool"),
        ({"block_rows": 0}, "block_rows must be positive or None, got 0"),
        ({"block_cols": -2}, "block_cols must be positive or None, got -2"),
        ({"shape": (40, 20)}, "do not cover the image's 40 rows"),
        ({"shape": (10, 20)}, r"outside the image of shape \(10, 20\)"),
    ],
)
def test_bad_mosaic_arguments_raise_naming_the_value(kwargs, match):
    args = {"shape": (20, 20), "count": 1, "tiles": plan((20, 20), 10, 2), "sink": lambda w, a: None} | kwargs
    with pytest.raises(ValueError, match=match):
        StreamingMosaic(**args)
