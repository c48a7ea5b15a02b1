"""A pipeline's finished image on disk: the RGB + alpha GeoTIFF of the generators, and the warp of a finished
file onto the CRS the job asked for.

Generation works on a metric grid; when the job wants another CRS the image is written next to the final name
first and warped onto it at the end (bilinear), the intermediate file removed whatever happens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from rasterio.enums import ColorInterp
from rasterio.warp import Resampling

from geogen.io.aoi import check_output_crs, parse_crs
from geogen.io.geotiff import GeoTIFFWriter, prepare_output, reproject_file, temp_sibling
from geogen.io.raster import read_grid
from tiles import Grid

RGBA_BANDS = ["red", "green", "blue", "alpha"]
"""Band names of an RGB + alpha output, as its ``OutputRecord`` lists them."""

Progress = Callable[[int, int], None]


def warp_output(src: Path, dst: Path, crs: str, *, overwrite: bool, progress: Progress) -> Grid:
    """Reproject the finished ``src`` onto ``crs`` as ``dst`` (bilinear), delete ``src`` even on failure, and
    return ``dst``'s grid (what the output record describes).

    The warp runs strip by strip (``geogen.io.geotiff.reproject_file``), reporting ``progress(done, total)``
    after each: a job's reporter checks for a cancel there, and the commit checks again, so a cancelled warp
    leaves nothing under ``dst``.

    Raises:
        OutputError: ``dst`` exists and ``overwrite`` is False, or cannot be written.
        CancelledError: the job was cancelled during the warp.
    """
    progress(0, 1)
    try:
        reproject_file(src, dst, crs, resampling=Resampling.bilinear, overwrite=overwrite, progress=progress)
    finally:
        src.unlink(missing_ok=True)
    return read_grid(dst)


class RGBAOutput:
    """A uint8 RGB + alpha GeoTIFF on ``grid`` that ends up at ``final``, warped to ``crs`` if that differs.

    Used as ``with RGBAOutput(...) as writer``. Without a warp the writer writes ``final`` itself; with one it
    writes a temporary sibling, warped onto ``final`` once the ``with`` block ends cleanly (``progress``
    reports the warp). The writer is created (and the output checked) at construction, before any work.

    Raises:
        OutputError: the output cannot be written, or exists and ``overwrite`` is False.
    """

    def __init__(
        self,
        final: Path,
        grid: Grid,
        tags: dict[str, str],
        *,
        crs: str | None,
        overwrite: bool,
        progress: Progress,
    ) -> None:
        prepare_output(final, overwrite=overwrite)  # "output exists" before any work, not after it
        self.final = final
        self.crs = crs if crs and parse_crs(crs) != parse_crs(grid.crs) else None
        check_output_crs(
            grid, self.crs
        )  # a warp across the antimeridian would wrap the image around the globe
        self.path = temp_sibling(final, "utm") if self.crs else final
        self.overwrite = overwrite
        self.progress = progress
        self.writer = GeoTIFFWriter(
            self.path,
            grid,
            3,
            "uint8",
            alpha=True,
            band_descriptions=RGBA_BANDS[:3],
            colorinterp=[ColorInterp.red, ColorInterp.green, ColorInterp.blue],
            tags=tags,
            overwrite=overwrite or self.path != final,
        )

    def __enter__(self) -> GeoTIFFWriter:
        return self.writer.__enter__()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.writer.__exit__(exc_type, exc, tb)
        if exc_type is None and self.crs:
            warp_output(self.path, self.final, self.crs, overwrite=self.overwrite, progress=self.progress)


@dataclass(frozen=True)
class NativeOutput:
    """Where a pipeline writes an image on its native grid so that it ends up at ``final`` in the job's CRS.

    Without a warp ``path`` is ``final``; with one it is a temporary sibling, written even over a stale one
    (``write_overwrite``) and warped onto ``final`` by ``finish``. Made by ``native_output``.
    """

    final: Path
    path: Path
    crs: str | None  # the CRS ``finish`` warps to; None: the native grid's CRS is the output's
    overwrite: bool  # whether an existing ``final`` may be replaced (the job's output.overwrite)

    @property
    def warp(self) -> bool:
        """Whether the image is warped onto another CRS at the end."""
        return self.crs is not None

    @property
    def write_overwrite(self) -> bool:
        """Whether writing ``path`` may replace a file there (always, for the temporary sibling of a warp)."""
        return self.overwrite or self.warp

    def finish(self, progress: Progress) -> Grid | None:
        """Warp the written ``path`` onto ``final`` and return ``final``'s grid; None when there is no warp.

        Raises:
            OutputError: see ``warp_output``.
        """
        if self.crs is None:
            return None
        return warp_output(self.path, self.final, self.crs, overwrite=self.overwrite, progress=progress)


def native_output(final: Path, crs: str | None, native_crs: str, *, overwrite: bool) -> NativeOutput:
    """How to write ``final`` from an image on a grid in ``native_crs`` when the job asks for ``crs``.

    A warp is needed when ``crs`` is given and is not ``native_crs``.
    """
    warp = crs is not None and parse_crs(crs) != parse_crs(native_crs)
    return NativeOutput(
        final, temp_sibling(final, "native") if warp else final, crs if warp else None, overwrite
    )
