"""Recreate the NAIP crops in tests/data/naip_nd_timeseries/ from the original frames.

The original frames (934 x 724 px, 2.5 MB each) come from opengeos/data (see PROVENANCE.md there). Only the
frames the tests use are cropped: each crop keeps the file name (the date is in it), the CRS, nodata and the
pixel values of its window; its transform is the original transform moved to the window's corner.

    python tests/data/make_naip_crops.py /path/to/naip_nd_timeseries

This is a maintenance script, not run by the tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

import rasterio
from rasterio.windows import Window

OUT = Path(__file__).resolve().parent / "naip_nd_timeseries"
# file name -> window (col_off, row_off, width, height) in the original frame
CROPS = {
    # 64 x 64 px around the 32 x 28 px window (400, 300) that tests/temporal/conftest.py uses
    "m_4709963_se_14_1_20090818.tif": Window(384, 284, 64, 64),
}


def crop(src_path: Path, window: Window, out_path: Path) -> None:
    with rasterio.open(src_path) as src:
        data = src.read(window=window)
        profile = src.profile | {
            "width": window.width,
            "height": window.height,
            "transform": src.window_transform(window),
            "tiled": True,
            "blockxsize": 16,
            "blockysize": 16,
            "compress": "deflate",
        }
        tags = src.tags()
    with rasterio.open(out_path, "w", **profile) as dst:
        dst.write(data)
        dst.update_tags(**{k: v for k, v in tags.items() if k == "AREA_OR_POINT"})


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    originals = Path(argv[1])
    OUT.mkdir(parents=True, exist_ok=True)
    for name, window in CROPS.items():
        crop(originals / name, window, OUT / name)
        print(f"{OUT / name}: window {window}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
