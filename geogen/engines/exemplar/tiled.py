"""Exemplar synthesis of any size: windows of a tile plan in row-major order, seams cut like patch seams.

Each window is quilted knowing the pixels its upper and left neighbours already produced in the overlap,
and its first patches are cut into them along minimum-error seams, so tile borders look like any other
patch border. Because a window may so rewrite a few pixels of its neighbours' overlap, windows are stitched
"last one wins" here (not blended) and rows are handed to ``sink`` once no later window can touch them:
memory is about one tile height of full-width rows (plus the exemplar bank), whatever the area.

Windows depend on their predecessors, so they run one after another; the result is still deterministic
(same map, seed, tile and overlap: same pixels).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import groupby

import numpy as np

from geogen.engines.exemplar.bank import Exemplar, ExemplarBank
from geogen.engines.exemplar.engine import make_bank, synthesize_window
from geogen.engines.exemplar.params import QuiltParams
from geogen.errors import EngineError, RasterError
from geogen.landcover.vocab import FLAIR19, Vocabulary
from tiles.plan import plan
from tiles.window import Window

ClassReader = Callable[[Window], np.ndarray]
Sink = Callable[[Window, np.ndarray], object]
Progress = Callable[[int, int], object]


def synthesize_tiled(
    read_classes: ClassReader,
    shape: tuple[int, int],
    exemplars: Sequence[Exemplar] | ExemplarBank,
    *,
    seed: int,
    sink: Sink,
    tile: int = 512,
    overlap: int = 32,
    params: QuiltParams | None = None,
    vocab: Vocabulary = FLAIR19,
    progress: Progress | None = None,
) -> list[str]:
    """Synthesise a ``shape`` = (rows, cols) map window by window, streaming finished rows to ``sink``.

    Args:
        read_classes: returns the (h, w) integer class codes (0 = nodata) of a pixel window of the map.
        shape: the whole map's (rows, cols).
        exemplars: (image, class map) pairs or a prebuilt :class:`ExemplarBank`.
        seed: job seed; window ``(i, j)`` of the plan draws from ``(seed, i, j)``.
        sink: called as ``sink(window, rgb)`` with full-width, disjoint row bands in top-to-bottom order that
            cover the map exactly once; ``rgb`` is (3, h, W) uint8, zeros where the class is 0.
        tile: window side (``tiles.plan`` edge policy: full-size windows, the last one shifted inwards).
        overlap: pixels shared by neighbouring windows; best a multiple of the patch step plus the patch
            overlap (32 with the defaults), and at least the patch overlap (8) so seams can be cut.
        params: engine settings.
        vocab: vocabulary of the codes.
        progress: called as ``progress(done, total)`` after each window (may raise to cancel).

    Returns:
        The warnings of all windows, each sentence once, in first-seen order.

    Raises:
        EngineError: invalid tile/overlap or settings.
        RasterError: ``read_classes`` returned an array of the wrong shape, or invalid exemplars.
    """
    p = params or QuiltParams()
    p.check()
    if tile < p.patch:
        raise EngineError(f"tile ({tile} px) must be at least one patch ({p.patch} px)")
    try:
        tiles = plan(shape, tile, overlap)
    except ValueError as exc:
        raise EngineError(f"cannot tile the map for the exemplar engine: {exc}") from exc
    bank = make_bank(exemplars, p)
    usage = bank.new_usage()
    rows, cols = int(shape[0]), int(shape[1])
    buf = np.zeros((3, 0, cols), dtype=np.uint8)
    have = np.zeros((0, cols), dtype=bool)
    top = 0  # map row of buf's first row
    warnings: dict[str, None] = {}
    done = 0

    def emit(until: int) -> None:
        nonlocal buf, have, top
        if until > top:
            sink(Window(0, top, cols, until - top), np.ascontiguousarray(buf[:, : until - top]))
            buf, have, top = buf[:, until - top :], have[until - top :], until

    for _, row_group in groupby(tiles, key=lambda t: t.index[0]):
        row_tiles = list(row_group)
        first = row_tiles[0].window
        emit(first.row_off)
        grow = first.row_end - (top + buf.shape[1])
        if grow > 0:
            buf = np.concatenate([buf, np.zeros((3, grow, cols), dtype=np.uint8)], axis=1)
            have = np.concatenate([have, np.zeros((grow, cols), dtype=bool)], axis=0)
        for t in row_tiles:
            win = t.window
            rs, cs = slice(win.row_off - top, win.row_end - top), slice(win.col_off, win.col_end)
            classes = np.asarray(read_classes(win))
            if classes.shape != (win.height, win.width):
                raise RasterError(
                    f"read_classes returned {classes.shape} for window {win}, "
                    f"expected {(win.height, win.width)}"
                )
            mask = have[rs, cs]
            known = (buf[:, rs, cs], mask) if mask.any() else None
            rgb, warns = synthesize_window(
                classes,
                bank,
                seed=seed,
                tile_index=t.index,
                origin=(win.row_off, win.col_off),
                known=known,
                usage=usage,
                params=p,
                vocab=vocab,
            )
            buf[:, rs, cs] = rgb
            have[rs, cs] = True
            warnings.update(dict.fromkeys(warns))
            for u in usage:
                u *= p.usage_decay
            done += 1
            if progress is not None:
                progress(done, len(tiles))
    emit(rows)
    return list(warnings)
