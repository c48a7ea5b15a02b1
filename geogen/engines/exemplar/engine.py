"""The exemplar ("texture-by-numbers") engine: a class map in, a realistic image following it out.

One window at a time: classes the exemplars lack are replaced by their closest class (with a warning),
the window is quilted (``quilt``), pixels left with the wrong class are refilled (``refill``), and a slow
colour modulation in map coordinates is applied (``colour``). Nodata (class 0) pixels come out as zeros;
the writer turns them into alpha/nodata.

Deterministic: the random generator is seeded by (seed, *tile_index), and everything else depends only on
the inputs, so the same call gives the same pixels on any machine.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from geogen.engines.exemplar.bank import Exemplar, ExemplarBank
from geogen.engines.exemplar.colour import colour_field
from geogen.engines.exemplar.params import QuiltParams
from geogen.engines.exemplar.quilt import Quilter, new_canvas
from geogen.engines.exemplar.refill import refill
from geogen.errors import EngineError, RasterError
from geogen.landcover.fallback import substitutions
from geogen.landcover.vocab import FLAIR19, NODATA, Vocabulary


def _class_map(class_map: np.ndarray) -> np.ndarray:
    arr = np.asarray(class_map)
    if arr.ndim != 2 or arr.dtype.kind not in "iu" or arr.size == 0:
        raise RasterError(f"the class map must be a non-empty 2-D integer array, got {arr.dtype} {arr.shape}")
    if arr.min() < 0 or arr.max() > 255:
        raise RasterError(f"class codes must lie in 0..255, got {arr.min()}..{arr.max()}")
    return arr.astype(np.uint8)


def _seed_key(seed: int, tile_index: int | Sequence[int]) -> list[int]:
    try:
        key = [operator.index(seed)]
        key += (
            [operator.index(tile_index)]
            if not isinstance(tile_index, Sequence)
            else [operator.index(i) for i in tile_index]
        )
    except TypeError:
        raise EngineError(
            f"seed and tile_index must be integers, got seed={seed!r}, tile_index={tile_index!r}"
        ) from None
    if min(key) < 0:
        raise EngineError(f"seed and tile_index must be >= 0, got seed={seed!r}, tile_index={tile_index!r}")
    return key


def make_bank(exemplars: Sequence[Exemplar] | ExemplarBank, params: QuiltParams) -> ExemplarBank:
    """``exemplars`` indexed for ``params`` (an existing bank is checked and returned as is).

    Raises:
        RasterError: invalid exemplars.
        EngineError: a bank built for another patch size.
    """
    if isinstance(exemplars, ExemplarBank):
        if exemplars.patch != params.patch:
            raise EngineError(
                f"the exemplar bank was built for {exemplars.patch} px patches, not {params.patch}"
            )
        return exemplars
    return ExemplarBank.build(
        exemplars, patch=params.patch, stride=params.stride, max_positions=params.max_positions
    )


def synthesize_window(
    class_map: np.ndarray,
    exemplars: Sequence[Exemplar] | ExemplarBank,
    *,
    seed: int,
    tile_index: int | Sequence[int] = 0,
    origin: tuple[int, int] = (0, 0),
    known: tuple[np.ndarray, np.ndarray] | None = None,
    usage: list[np.ndarray] | None = None,
    params: QuiltParams | None = None,
    vocab: Vocabulary = FLAIR19,
) -> tuple[np.ndarray, list[str]]:
    """Synthesise one window of a (possibly larger) map.

    Args:
        class_map: (H, W) integer engine class codes of the window; 0 = nodata.
        exemplars: (image (3, h, w) uint8, class map (h, w)) pairs, or an :class:`ExemplarBank` of them
            (build it once and reuse it across windows).
        seed: job seed; the window's random stream is seeded by ``(seed, *tile_index)``.
        tile_index: the window's index in the plan, e.g. ``Tile.index`` (row, col).
        origin: (row, col) of the window's upper-left pixel in the whole map, so that the colour modulation
            continues across windows.
        known: (rgb (3, H, W) uint8, mask (H, W) bool) pixels already produced by earlier windows; they are
            matched against and kept, except inside the seam strips where the new texture may cut in.
        usage: reuse counters carried between windows (``bank.new_usage()``), updated in place.
        params: engine settings (default :class:`QuiltParams`).
        vocab: the vocabulary the codes belong to (for the fallback rule and class names in warnings).

    Returns:
        ((3, H, W) uint8 RGB with zeros where the class map is 0, warnings as plain sentences).

    Raises:
        RasterError: invalid class map, exemplars or ``known`` arrays.
        EngineError: invalid settings, seed or tile index.
        ClassMappingError: the exemplars hold no class at all.
    """
    p = params or QuiltParams()
    p.check()
    target = _class_map(class_map)
    key = _seed_key(seed, tile_index)
    bank = make_bank(exemplars, p)
    h, w = target.shape
    if known is not None:
        rgb_known, mask_known = np.asarray(known[0]), np.asarray(known[1], dtype=bool)
        if rgb_known.shape != (3, h, w) or mask_known.shape != (h, w):
            raise RasterError(
                f"known pixels must be (3, {h}, {w}) with a ({h}, {w}) mask, "
                f"got {rgb_known.shape}, {mask_known.shape}"
            )

    subs, warnings = substitutions(
        np.unique(target).tolist(), bank.class_pixels, vocab, min_pixels=2 * p.patch**2
    )
    if subs:
        lut = np.arange(256, dtype=np.uint8)
        for code, sub in subs.items():
            lut[code] = sub
        target = lut[target]

    field = colour_field(key[0], (h, w), origin, p.colour_scale, p.colour_amplitude)
    known_hwc = None
    if known is not None:
        known_hwc = (np.moveaxis(rgb_known, 0, -1).astype(np.float32) / field, mask_known)
    canvas, ys, xs = new_canvas(target, known_hwc, p, pad=max(p.refill_sizes))
    rng = np.random.default_rng(np.random.SeedSequence(key))
    quilter = Quilter(bank, p, rng, usage if usage is not None else bank.new_usage(), vocab)
    quilter.run(canvas, ys, xs)
    accepted = {code: acc for code, (_, acc) in quilter.pools.items()}
    refill(canvas.pixels, canvas.source, canvas.target, bank, rng, p.refill_sizes, accepted)
    warnings += quilter.warnings

    out = canvas.pixels[:h, :w] * field
    if known is not None:
        keep = mask_known & ~canvas.fresh[:h, :w]
        out[keep] = np.moveaxis(rgb_known, 0, -1)[keep]
    out[target == NODATA] = 0
    rgb = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.moveaxis(rgb, -1, 0)), warnings


def synthesize(
    class_map: np.ndarray,
    exemplars: Sequence[Exemplar] | ExemplarBank,
    *,
    seed: int,
    patch: int = 32,
    overlap: int = 8,
    params: QuiltParams | None = None,
    vocab: Vocabulary = FLAIR19,
) -> tuple[np.ndarray, list[str]]:
    """Synthesise an image following ``class_map`` (H, W; 0 = nodata) from exemplar (image, class map) pairs.

    For maps that fit in memory (one window). Large areas: :func:`geogen.engines.exemplar.synthesize_tiled`.
    ``patch``/``overlap`` override those of ``params``.

    Returns:
        ((3, H, W) uint8 RGB with zeros where the class map is 0, warnings as plain sentences).

    Raises:
        RasterError: invalid class map or exemplars.
        EngineError: invalid settings or seed.
    """
    p = replace(params or QuiltParams(), patch=patch, overlap=overlap)
    return synthesize_window(class_map, exemplars, seed=seed, params=p, vocab=vocab)
