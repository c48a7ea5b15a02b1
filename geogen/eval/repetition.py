"""Repetition score: how much of an image's texture re-appears elsewhere in it (the "kaleidoscope" trap).

Definition (lower is better; real FLAIR aerial images at 0.2 m score 0.00-0.09 with the defaults, close to the
0.02-0.14 reported for real aerial imagery): the share of *textured* ``patch`` x ``patch`` patches, on a grid,
that have a *near-duplicate* somewhere else in the image, in any of the 8 orientations (4 rotations x mirror).

- textured: the patch's luminance, averaged over 2 x 2 pixels, has a standard deviation >= ``min_std`` (flat
  roofs, water and shadow match anything and are not counted);
- near-duplicate: a window, at any pixel offset, not overlapping the patch, whose high-pass luminance
  (luminance minus its Gaussian blur, sigma 1.5 px) has a normalised cross-correlation >= ``threshold``
  with the patch's. High-pass NCC ignores brightness, contrast and slow colour shifts, so recoloured
  copies still count.

Search: every window at half resolution is ranked by NCC (a matrix product) in the patch's best orientation
for it; the best ``topk`` per patch (if their NCC there is >= 0.6) are then checked at full resolution at
+-1 px. Patches are a seeded random sample of at most
``max_patches``, so the score is an estimate (standard error about sqrt(s (1 - s) / max_patches)).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

_ORIENTATIONS = 8
_COARSE_GATE = 0.6
"""Half-resolution NCC below which a match is not checked at full resolution (true copies score ~0.9+)."""


def _orient(a: np.ndarray, o: int) -> np.ndarray:
    """Orientation ``o`` of (..., h, w) patches: rot90 by o // 2, mirrored when o is odd."""
    r = np.rot90(a, o // 2, axes=(-2, -1))
    return r[..., ::-1] if o % 2 else r


def _unit(v: np.ndarray) -> np.ndarray:
    v = v - v.mean(axis=-1, keepdims=True)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-6)


def _luminance(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 3 or img.shape[0] not in (1, 3):
        raise ValueError(f"expected a (3, H, W) or (1, H, W) image, got {img.shape}")
    if img.shape[0] == 1:
        return img[0]
    return 0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2]


def repetition_score(
    image: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    patch: int = 16,
    threshold: float = 0.9,
    min_std: float = 4.0,
    max_patches: int = 600,
    topk: int = 16,
    seed: int = 0,
) -> float:
    """Share (0..1) of textured patches of ``image`` (3, H, W) with a near-duplicate elsewhere (module doc).

    ``valid`` (H, W) bool restricts patches and matches to fully valid windows (e.g. class map != 0).
    Returns 0.0 when the image has no textured patch.

    Raises:
        ValueError: wrong shapes, or ``patch`` not an even size of at least 4.
    """
    if patch < 4 or patch % 2:
        raise ValueError(f"patch must be an even size >= 4, got {patch}")
    lum = _luminance(image)
    h, w = lum.shape
    q = patch // 2
    if h < 2 * patch or w < 2 * patch:
        raise ValueError(f"image of {w} x {h} px is too small for {patch} px patches")
    highpass = lum - ndimage.gaussian_filter(lum, 1.5)
    half = lum[: h // 2 * 2, : w // 2 * 2].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    db = sliding_window_view(half, (q, q))
    ny, nx = db.shape[:2]
    db = db.reshape(ny * nx, q * q)
    ok = db.std(axis=1) >= min_std
    if valid is not None:
        v = np.asarray(valid, dtype=bool)
        if v.shape != (h, w):
            raise ValueError(f"valid mask {v.shape} does not match the image {(h, w)}")
        v_half = v[: h // 2 * 2, : w // 2 * 2].reshape(h // 2, 2, w // 2, 2).all(axis=(1, 3))
        ok &= sliding_window_view(v_half, (q, q)).all(axis=(2, 3)).ravel()
    db = _unit(db).astype(np.float32)
    db[~ok] = 0.0
    db_y, db_x = np.divmod(np.arange(ny * nx), nx)

    gy, gx = np.meshgrid(np.arange(0, ny, q), np.arange(0, nx, q), indexing="ij")
    qy, qx = gy.ravel(), gx.ravel()
    textured = ok[qy * nx + qx]
    qy, qx = qy[textured], qx[textured]
    if len(qy) == 0:
        return 0.0
    rng = np.random.default_rng(seed)
    if len(qy) > max_patches:
        pick = np.sort(rng.choice(len(qy), max_patches, replace=False))
        qy, qx = qy[pick], qx[pick]
    n = len(qy)

    # Coarse: half-resolution matches above the gate (in any orientation), best ``topk`` per patch.
    coarse = np.stack([half[y : y + q, x : x + q] for y, x in zip(qy, qx, strict=True)])
    off = np.arange(-q + 1, q)
    by = (qy[:, None, None] + off[None, :, None]).repeat(len(off), axis=2).reshape(n, -1)
    bx = (qx[:, None, None] + off[None, None, :]).repeat(len(off), axis=1).reshape(n, -1)
    inside = (by >= 0) & (by < ny) & (bx >= 0) & (bx < nx)
    queries = np.stack([_unit(_orient(coarse, o).reshape(n, q * q)) for o in range(_ORIENTATIONS)], axis=1)
    queries = queries.astype(np.float32)
    db_t = np.ascontiguousarray(db.T)
    hits_q, hits_c = [], []
    chunk = 32
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        s = queries[a:b, 0] @ db_t
        for o in range(1, _ORIENTATIONS):
            np.maximum(s, queries[a:b, o] @ db_t, out=s)
        rows = np.broadcast_to(np.arange(b - a)[:, None], by[a:b].shape)
        sel = inside[a:b]
        s[rows[sel], (by[a:b] * nx + bx[a:b])[sel]] = -1.0
        r, c = np.nonzero(s >= _COARSE_GATE)
        order = np.lexsort((-s[r, c], r))
        r, c = r[order], c[order]
        keep = np.arange(len(r)) - np.searchsorted(r, r) < topk
        hits_q.append(r[keep] + a)
        hits_c.append(c[keep])
    qi, hit = np.concatenate(hits_q), np.concatenate(hits_c)

    # Fine: full-resolution high-pass NCC at +-1 px around each coarse match, best orientation.
    fine_q = np.stack(
        [highpass[2 * y : 2 * y + patch, 2 * x : 2 * x + patch] for y, x in zip(qy, qx, strict=True)]
    )
    fine_q = np.stack([_unit(_orient(fine_q, o).reshape(n, -1)) for o in range(_ORIENTATIONS)], axis=1)
    windows = sliding_window_view(highpass, (patch, patch))
    best = np.full(n, -1.0)
    cy, cx = 2 * db_y[hit], 2 * db_x[hit]
    for sy in (-1, 0, 1):
        for sx in (-1, 0, 1):
            y = np.clip(cy + sy, 0, h - patch)
            x = np.clip(cx + sx, 0, w - patch)
            far = (np.abs(y - 2 * qy[qi]) >= patch) | (np.abs(x - 2 * qx[qi]) >= patch)
            for a in range(0, len(y), 20000):
                sl = slice(a, a + 20000)
                f = far[sl]
                win = _unit(windows[y[sl][f], x[sl][f]].reshape(int(f.sum()), -1))
                ncc = np.einsum("mp,mop->mo", win, fine_q[qi[sl][f]]).max(axis=1)
                np.maximum.at(best, qi[sl][f], ncc)
    return float((best >= threshold).mean())
