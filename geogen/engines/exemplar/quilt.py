"""Image quilting by class map: patch by patch in raster order, the best-fitting exemplar patch is cut in.

For each ``patch`` x ``patch`` window of the target class map (stepping by ``patch - overlap``):

1. candidates: for a window of one class, a random draw among exemplar patches made of that class (mixed
   with its closest class when the exemplars hold too little of it); otherwise the exemplar patches, in
   all 8 orientations, whose coarse class layout best matches the window's (after requiring the window's
   classes to be present);
2. each candidate is scored by its squared difference with the pixels already placed in the overlap, the
   share of its pixels whose class disagrees with the window, and how often its source region was used;
3. one candidate is drawn among those within ``tolerance`` of the best score and joined along
   minimum-error cuts through the overlap strips.

Pixels already known (from neighbouring windows of a tiled run) are matched against, cut into, and
otherwise kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from geogen.engines.exemplar.bank import CELL, USAGE_CELL, ExemplarBank, majority
from geogen.engines.exemplar.orient import ORIENTATIONS
from geogen.engines.exemplar.params import QuiltParams
from geogen.engines.exemplar.seams import take_new
from geogen.landcover.fallback import similar_available
from geogen.landcover.vocab import Vocabulary


@dataclass
class Canvas:
    """Work arrays of one window, padded to whole patches: pixels, their source class, and what is set."""

    pixels: np.ndarray
    """(H', W', 3) float32, before the colour modulation."""
    source: np.ndarray
    """(H', W') uint8: class of the exemplar pixel each pixel came from (target class for known pixels)."""
    filled: np.ndarray
    """(H', W') bool: pixels set so far (known or pasted)."""
    fresh: np.ndarray
    """(H', W') bool: pixels written by this window (not kept from the known ones)."""
    target: np.ndarray
    """(H', W') uint8: target classes, 0 for nodata and padding."""


def _positions(n: int, lead: int, p: QuiltParams) -> list[int]:
    """Patch offsets along an axis of ``n`` pixels whose first ``lead`` are known (aligned so the first
    patch's overlap strip lies on the last known pixels)."""
    start = max(lead - p.overlap, 0) if lead > 0 else 0
    count = max(1, math.ceil((n - start - p.overlap) / p.step))
    return [start + k * p.step for k in range(count)]


def _lead(known: np.ndarray, axis: int) -> int:
    """Number of leading rows (axis 1: all columns known) or columns (axis 0) entirely known."""
    full = np.asarray(known.all(axis=axis))
    return int(np.argmin(full)) if not full.all() else int(full.size)


def new_canvas(
    target: np.ndarray, known: tuple[np.ndarray, np.ndarray] | None, p: QuiltParams, pad: int
) -> tuple[Canvas, list[int], list[int]]:
    """The padded canvas of a window and its patch rows and columns."""
    h, w = target.shape
    known_mask = np.zeros((h, w), dtype=bool) if known is None else known[1]
    ys = _positions(h, _lead(known_mask, 1), p)
    xs = _positions(w, _lead(known_mask, 0), p)
    hp = -(-max(ys[-1] + p.patch, h) // pad) * pad
    wp = -(-max(xs[-1] + p.patch, w) // pad) * pad
    canvas = Canvas(
        pixels=np.zeros((hp, wp, 3), dtype=np.float32),
        source=np.zeros((hp, wp), dtype=np.uint8),
        filled=np.zeros((hp, wp), dtype=bool),
        fresh=np.zeros((hp, wp), dtype=bool),
        target=np.zeros((hp, wp), dtype=np.uint8),
    )
    canvas.target[:h, :w] = target
    if known is not None:
        canvas.pixels[:h, :w][known_mask] = known[0][known_mask]
        canvas.source[:h, :w][known_mask] = target[known_mask]
        canvas.filled[:h, :w] = known_mask
    return canvas, ys, xs


class Quilter:
    """Quilts one window; holds the per-class source pools and the reuse counts while it runs."""

    def __init__(
        self,
        bank: ExemplarBank,
        params: QuiltParams,
        rng: np.random.Generator,
        usage: list[np.ndarray],
        vocab: Vocabulary,
    ):
        self.bank, self.p, self.rng, self.usage, self.vocab = bank, params, rng, usage, vocab
        self.pools: dict[int, tuple[np.ndarray, frozenset[int]]] = {}
        self.warnings: list[str] = []

    def plan_pools(self, demand: dict[int, int]) -> None:
        """Pure-source pools per class, borrowing the closest class's sources where a class is scarce."""
        b, p = self.bank, self.p
        spread = (p.patch / b.stride) ** 2  # positions that overlap one another per distinct source region
        for code, patches in sorted(demand.items()):
            pool = b.pure_positions(code, p.purity)
            accepted = {code}
            distinct = len(pool) / spread
            if distinct * p.reuse_limit < patches:
                label = f"{self.vocab.label(code)} ({b.class_pixels.get(code, 0)} px)"
                sub = similar_available(code, b.class_pixels, self.vocab, min_pixels=2 * p.patch**2)
                extra = b.pure_positions(sub, p.purity) if sub is not None else pool[:0]
                if sub is not None and len(extra):
                    pool = np.concatenate([pool, extra])
                    accepted.add(sub)
                    self.warnings.append(
                        f"the exemplars hold little {label} for this map: mixing in {self.vocab.label(sub)} "
                        "to avoid visible repetition; add an exemplar with more of it"
                    )
                else:
                    self.warnings.append(
                        f"the exemplars hold little {label} for this map and no similar class to mix in: "
                        "its texture may repeat visibly; add an exemplar with more of it"
                    )
            self.pools[code] = (pool, frozenset(accepted))

    def _layout_candidates(self, window: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Candidates (position * 8 + orientation) whose coarse class layout best matches ``window``."""
        b, k = self.bank, self.p.candidates
        cols = [b.code_index(int(c)) for c in classes]
        ok = b.pos_valid & b.pos_present[:, [c for c in cols if c is not None]].all(axis=1)
        pos = np.flatnonzero(ok)
        if len(pos) * ORIENTATIONS < k:
            pos = np.flatnonzero(b.pos_valid) if b.pos_valid.any() else np.arange(b.n_positions)
        cand = (pos[:, None] * ORIENTATIONS + np.arange(ORIENTATIONS)[None, :]).ravel()
        coarse = majority(window, CELL, classes.astype(np.uint8)).ravel()
        cells = coarse != 0
        score = (b.layouts[cand][:, cells] != coarse[cells]).sum(axis=1) + self.rng.random(len(cand)) * 0.9
        if len(cand) > k:
            cand = cand[np.argpartition(score, k)[:k]]
        return cand

    def _usage_penalty(self, pos: np.ndarray) -> np.ndarray:
        b, size = self.bank, self.p.patch
        out = np.empty(len(pos), dtype=np.float32)
        for i, k in enumerate(pos.tolist()):
            e, y, x = int(b.pos_e[k]), int(b.pos_y[k]) // USAGE_CELL, int(b.pos_x[k]) // USAGE_CELL
            n = -(-size // USAGE_CELL)
            out[i] = self.usage[e][y : y + n, x : x + n].mean()
        return out

    def _use(self, k: int) -> None:
        b = self.bank
        n = -(-self.p.patch // USAGE_CELL)
        e, y, x = int(b.pos_e[k]), int(b.pos_y[k]) // USAGE_CELL, int(b.pos_x[k]) // USAGE_CELL
        self.usage[e][y : y + n, x : x + n] += 1.0

    def place(self, canvas: Canvas, y: int, x: int) -> None:
        """Choose and cut in the patch at (y, x) of ``canvas``."""
        p, b, rng = self.p, self.bank, self.rng
        size = p.patch
        window = canvas.target[y : y + size, x : x + size]
        filled = canvas.filled[y : y + size, x : x + size]
        classes = np.unique(window)
        classes = classes[classes != 0]
        accepted: frozenset[int] = frozenset(int(c) for c in classes)
        cand = None
        if len(classes) == 1:
            code = int(classes[0])
            if code not in self.pools:
                self.pools[code] = (b.pure_positions(code, p.purity), accepted)
            pool, acc = self.pools[code]
            if len(pool) >= p.min_pool:
                pos = pool[rng.choice(len(pool), size=min(p.candidates, len(pool)), replace=False)]
                cand = pos * ORIENTATIONS + rng.integers(0, ORIENTATIONS, size=len(pos))
                accepted = acc
        if cand is None:
            cand = self._layout_candidates(window, classes)
        pos, o = cand // ORIENTATIONS, cand % ORIENTATIONS
        imgs, masks = b.patches(pos, o)
        old = canvas.pixels[y : y + size, x : x + size]
        if filled.any():
            err = ((imgs[:, filled] - old[filled]) ** 2).mean(axis=(1, 2))
        else:
            err = np.zeros(len(cand), dtype=np.float32)
        valid = window != 0
        ok_class = np.isin(masks[:, valid], list(accepted))
        mismatch = 1.0 - ok_class.mean(axis=1) if valid.any() else np.zeros(len(cand))
        cost = err / p.error_scale + p.class_weight * mismatch + p.reuse_weight * self._usage_penalty(pos)
        best = float(cost.min())
        near = np.flatnonzero(cost <= best * (1 + p.tolerance) + 1e-6)
        i = int(near[rng.integers(0, len(near))])
        new = imgs[i]
        new_src = masks[i].copy()
        if len(accepted) > len(classes) and len(classes) == 1:
            new_src[np.isin(new_src, list(accepted))] = classes[0]
        take = take_new(old, new, filled, p.overlap)
        old[take] = new[take]
        canvas.source[y : y + size, x : x + size][take] = new_src[take]
        canvas.filled[y : y + size, x : x + size] |= take
        canvas.fresh[y : y + size, x : x + size] |= take
        self._use(int(pos[i]))

    def run(self, canvas: Canvas, ys: list[int], xs: list[int]) -> None:
        """Quilt every patch of the window that has target pixels and unset pixels."""
        size = self.p.patch
        todo = []
        demand: dict[int, int] = {}
        for y in ys:
            for x in xs:
                window = canvas.target[y : y + size, x : x + size]
                if not window.any() or canvas.filled[y : y + size, x : x + size].all():
                    continue
                todo.append((y, x))
                lo = int(window[window != 0].min())
                if lo == int(window.max()) and (window != 0).all():
                    demand[lo] = demand.get(lo, 0) + 1
        self.plan_pools(demand)
        for y, x in todo:
            self.place(canvas, y, x)
