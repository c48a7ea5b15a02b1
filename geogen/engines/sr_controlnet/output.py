"""From denoised latents to the output GeoTIFF: decode to a scratch array, then the consistency pass.

The VAE's 8-bit RGB is decoded (tile by tile, blended) into a memory-mapped scratch array on the output grid.
With the consistency step on, a second pass maps it to the input's reflectance (scene-wide histogram lookup
tables), corrects each block with a mirrored halo (``geogen.sensors.consistency.tiled``) and writes uint16
reflectance x 10000 (0 = nodata); with it off, the 8-bit RGB is written as it is, with an alpha band.
Memory is one decode tile band plus one block with its halo; the scratch array lives on disk.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rasterio.enums import ColorInterp

from geogen.diffusion.decode import decode_latents
from geogen.diffusion.layout import LatentLayout
from geogen.io.geotiff import GeoTIFFWriter
from geogen.io.sentinel2 import S2Stack
from geogen.sensors import consistency
from geogen.sensors.sentinel2 import RGB_BANDS, to_dn
from tiles import Window

Progress = Callable[[int, int], None]
BLOCK = 512
STRIP_ROWS = 512
DESCRIPTIONS = ["red (B04, synthetic)", "green (B03, synthetic)", "blue (B02, synthetic)"]
COLORS = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]


@contextlib.contextmanager
def scratch_rgb(folder: Path, shape: tuple[int, int]) -> Iterator[np.ndarray]:
    """A (3, rows, cols) uint8 array memory-mapped in a temporary folder in ``folder``, removed afterwards.

    The mapping is closed before the folder is removed (Windows cannot delete a mapped file); callers must not
    keep views of the array past the ``with`` block.
    """
    with tempfile.TemporaryDirectory(prefix=".geogen-sr-", dir=folder, ignore_cleanup_errors=True) as tmp:
        array = np.lib.format.open_memmap(Path(tmp) / "raw.npy", mode="w+", dtype=np.uint8, shape=(3, *shape))
        mapping = getattr(array, "_mmap", None)
        try:
            yield array
        finally:
            del array
            if mapping is not None:
                with contextlib.suppress(BufferError):  # a view still alive: the OS frees it later
                    mapping.close()


@dataclass
class LowRes:
    """The input's red, green, blue reflectance on the 10 m ``window`` of ``stack`` (the output footprint)."""

    stack: S2Stack
    window: Window
    _last: tuple[bytes, tuple[np.ndarray, np.ndarray]] | None = field(default=None, init=False, repr=False)

    def read(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(3, n_rows, n_cols) reflectance and (n_rows, n_cols) valid mask at window-relative indices.

        The last read is kept: the consistency pass asks for the values and the mask of one block in turn.
        """
        key = rows.tobytes() + b"|" + cols.tobytes()
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        r0, c0 = int(rows.min()), int(cols.min())
        box = Window(
            self.window.col_off + c0,
            self.window.row_off + r0,
            int(cols.max()) - c0 + 1,
            int(rows.max()) - r0 + 1,
        )
        values, valid = [], np.ones((box.height, box.width), bool)
        for band in RGB_BANDS:
            v, ok = self.stack.read(band, box)
            values.append(v)
            valid &= ok
        ri, ci = np.ix_(rows - r0, cols - c0)
        result = np.stack(values)[:, ri, ci], valid[ri, ci]
        self._last = (key, result)
        return result

    def histogram(self) -> tuple[np.ndarray, int]:
        """Per-band histograms of the valid pixels (``consistency.reflectance_histogram``), valid count."""
        total, n = None, 0
        for r0 in range(0, self.window.height, STRIP_ROWS):
            h = min(STRIP_ROWS, self.window.height - r0)
            values, valid = self.read(np.arange(r0, r0 + h), np.arange(self.window.width))
            counts = consistency.reflectance_histogram(values, valid)
            total = counts if total is None else total + counts
            n += int(valid.sum())
        return total, n  # type: ignore[return-value]


def decode_to(
    raw: np.ndarray,
    vae: torch.nn.Module,
    latents: torch.Tensor,
    layout: LatentLayout,
    *,
    tile: int,
    device: torch.device,
    dtype: torch.dtype,
    progress: Progress | None = None,
) -> None:
    """Decode ``latents`` and keep the output grid's part in ``raw`` (3, rows, cols) uint8."""

    def sink(window: Window, array: np.ndarray) -> None:
        part = layout.output_part(window)
        if part is not None:
            src, dst = part
            raw[:, dst.slices[0], dst.slices[1]] = array[:, src.slices[0], src.slices[1]]

    decode_latents(
        vae, latents, sink, tile=tile, overlap=tile // 4, device=device, dtype=dtype, progress=progress
    )


def fine_valid(low: LowRes, window: Window, scale: int) -> np.ndarray:
    """Output pixels of ``window`` (fine grid, aligned to ``scale``) whose 10 m pixel is valid in R, G, B."""
    rows = np.arange(window.row_off // scale, -(-window.row_end // scale))
    cols = np.arange(window.col_off // scale, -(-window.col_end // scale))
    _, valid = low.read(rows, cols)
    full = np.repeat(np.repeat(valid, scale, axis=0), scale, axis=1)
    r, c = window.row_off % scale, window.col_off % scale
    return full[r : r + window.height, c : c + window.width]


def histogram_luts(raw: np.ndarray, low: LowRes, scale: int) -> np.ndarray:
    """Lookup tables taking the scratch RGB levels to the input's reflectance distribution, band by band."""
    rows, cols = raw.shape[1:]
    counts = np.zeros((3, 256), np.int64)
    for w in consistency.blocks((rows, cols), BLOCK):
        valid = fine_valid(low, w, scale)
        counts += consistency.level_histogram(raw[:, w.slices[0], w.slices[1]], valid)
    target, _ = low.histogram()
    return consistency.histogram_luts(counts, target)


def write_raw(
    path: Path,
    raw: np.ndarray,
    low: LowRes,
    scale: int,
    grid,
    tags: dict[str, str],
    *,
    overwrite: bool,
    progress: Progress | None = None,
) -> None:
    """The model's own 8-bit RGB, with an alpha band marking pixels whose input is valid."""
    blocks = consistency.blocks(raw.shape[1:], BLOCK)
    with GeoTIFFWriter(
        path,
        grid,
        3,
        "uint8",
        alpha=True,
        band_descriptions=DESCRIPTIONS,
        colorinterp=COLORS,
        tags=tags,
        overwrite=overwrite,
    ) as writer:
        for i, w in enumerate(blocks):
            writer.write(w, raw[:, w.slices[0], w.slices[1]], fine_valid(low, w, scale))
            if progress is not None:
                progress(i + 1, len(blocks))


def write_consistent(
    path: Path,
    raw: np.ndarray,
    low: LowRes,
    scale: int,
    method: str,
    grid,
    tags: dict[str, str],
    *,
    overwrite: bool,
    progress: Progress | None = None,
) -> np.ndarray:
    """The corrected output as uint16 reflectance x 10000 (0 = nodata); returns the lookup tables."""
    luts = histogram_luts(raw, low, scale)

    def fetch_sr(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        r0, c0 = int(rows.min()), int(cols.min())
        block = np.asarray(raw[:, r0 : int(rows.max()) + 1, c0 : int(cols.max()) + 1])
        return consistency.apply_luts(block[:, rows - r0][:, :, cols - c0], luts)

    blocks = consistency.blocks(raw.shape[1:], BLOCK)
    done = 0
    with GeoTIFFWriter(
        path,
        grid,
        3,
        "uint16",
        nodata=0,
        band_descriptions=DESCRIPTIONS,
        colorinterp=COLORS,
        tags=tags,
        overwrite=overwrite,
    ) as writer:
        for w, block in consistency.tiled(
            method,
            fetch_sr,
            lambda r, c: low.read(r, c)[0],
            raw.shape[1:],
            scale,
            block=BLOCK,
            fetch_lr_valid=lambda r, c: low.read(r, c)[1],
        ):
            writer.write(w, to_dn(block, fine_valid(low, w, scale)))
            done += 1
            if progress is not None:
                progress(done, len(blocks))
    return luts
