"""The processing level (L1C or L2A) of a Sentinel-2 input, and the warning DiffusionSat's SR model needs.

The released SR ControlNet was trained on L1C (top of atmosphere) values; L2A input still runs, flagged.
"""

from __future__ import annotations

from pathlib import Path

from geogen.io.sentinel2 import S2Stack


def source_level(stack: S2Stack) -> str | None:
    """ "L1C" or "L2A" from the product metadata, the product name, or the presence of B10 (L1C only)."""
    if stack.level:
        return stack.level
    name = Path(stack.source).name.upper()
    if "MSIL2A" in name or "_L2A" in name:
        return "L2A"
    if "MSIL1C" in name or "_L1C" in name or "L1C_" in name or "B10" in stack.bands:
        return "L1C"
    return None


def level_warning(stack: S2Stack) -> str | None:
    """A warning for L2A input: the released model saw L1C (top of atmosphere) values."""
    if source_level(stack) != "L2A":
        return None
    return (
        f"{Path(stack.source).name} is L2A (bottom of atmosphere); DiffusionSat's SR model was trained on "
        "L1C "
        "(top of atmosphere) values, so its colours may be off before the consistency step"
    )
