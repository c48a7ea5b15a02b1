"""Sentinel-2 .SAFE products (folder or .zip): where each band's JP2 is and how its DN become reflectance.

Only the product metadata (``MTD_MSIL1C.xml`` / ``MTD_MSIL2A.xml``) and file names are read here; pixels are
read later through GDAL, zip members via ``/vsizip/`` without extracting anything.

Radiometry, per the product metadata: reflectance = (DN + offset) / quantification, with the offset from
``RADIO_ADD_OFFSET`` (L1C) or ``BOA_ADD_OFFSET`` (L2A) for processing baseline 04.00 and later, and 0 before.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from geogen.errors import InputFileError, RasterError
from geogen.io.raster import path_exists
from geogen.sensors.sentinel2 import NATIVE_RES, OFFSET_BASELINE, REFLECTANCE_SCALE, S2_BANDS, normalise_band

# S2_BANDS is also the band_id order of the offset lists when the metadata does not spell out the mapping
_IMG = re.compile(
    r"(?:^|/)GRANULE/(?P<granule>[^/]+)/IMG_DATA/(?:(?P<res>R\d+m)/)?[^/]*_(?P<band>B\d\d|B8A)(?:_\d+m)?\.jp2$",
    re.IGNORECASE,
)
MAX_METADATA_BYTES = 64 << 20
"""Largest product metadata XML read (real ones are well under 1 MiB)."""
_MTD = re.compile(r"(?:^|/)MTD_MSIL(1C|2A)\.xml$", re.IGNORECASE)


@dataclass(frozen=True)
class SafeProduct:
    """What the pipeline needs from a .SAFE: band files (GDAL paths) and radiometric conversion."""

    path: str
    level: str  # "L1C" or "L2A"
    baseline: str | None
    quantification: float
    offsets: dict[str, float]
    band_paths: dict[str, str]
    warnings: list[str] = field(default_factory=list)


def is_safe(path: Path) -> bool:
    """True for a ``.SAFE`` folder, a folder holding ``MTD_MSIL1C/2A.xml``, or a ``.zip`` file."""
    if path.is_file():
        return path.suffix.lower() == ".zip"
    return path.suffix.upper() == ".SAFE" or any(path.glob("MTD_MSIL*.xml"))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def baseline_at_least(baseline: str | None, major: int) -> bool:
    """Whether a processing baseline such as "04.00" or "N0509" is ``major``.00 or later."""
    if not baseline:
        return False
    m = re.search(r"(\d{2})\.?(\d{2})", baseline)
    return m is not None and int(m.group(1)) >= major


def parse_metadata(
    xml_bytes: bytes, level: str, source: str
) -> tuple[str | None, float, dict[str, float], list[str]]:
    """(baseline, quantification, offsets per band, warnings) from a product metadata document.

    Raises:
        RasterError: the XML cannot be parsed or the quantification value is not a positive number.
    """
    try:
        root = ET.fromstring(xml_bytes)
    except ET.ParseError as exc:
        raise RasterError(f"cannot parse Sentinel-2 metadata {source}: {exc}") from None
    baseline = None
    quant_text = None
    raw_offsets: dict[int, float] = {}
    id_to_band: dict[int, str] = {}
    quant_tag = "QUANTIFICATION_VALUE" if level == "L1C" else "BOA_QUANTIFICATION_VALUE"
    offset_tag = "RADIO_ADD_OFFSET" if level == "L1C" else "BOA_ADD_OFFSET"
    for el in root.iter():
        tag = _local(el.tag)
        if tag == "PROCESSING_BASELINE" and el.text:
            baseline = el.text.strip()
        elif tag == quant_tag and el.text:
            quant_text = el.text.strip()
        elif tag == offset_tag and (id_text := el.get("band_id")) is not None and el.text:
            raw_offsets[int(id_text)] = float(el.text)
        elif tag == "Spectral_Information" and (id_text := el.get("bandId")) is not None:
            band = normalise_band(el.get("physicalBand", ""))
            if band:
                id_to_band[int(id_text)] = band
    warnings: list[str] = []
    if quant_text is None:
        warnings.append(f"{source}: no {quant_tag}; assuming {REFLECTANCE_SCALE}")
        quant = float(REFLECTANCE_SCALE)
    else:
        try:
            quant = float(quant_text)
        except ValueError:
            quant = -1.0
        if not quant > 0:
            raise RasterError(f"{source}: {quant_tag} must be a positive number, got {quant_text!r}")
    offsets: dict[str, float] = {}
    if baseline_at_least(baseline, OFFSET_BASELINE):
        for band_id, value in raw_offsets.items():
            band = id_to_band.get(band_id) or (S2_BANDS[band_id] if band_id < len(S2_BANDS) else None)
            if band:
                offsets[band] = value
        if not offsets:
            warnings.append(
                f"{source}: processing baseline {baseline} but no {offset_tag} values; assuming offset 0"
            )
    return baseline, quant, offsets, warnings


def _pick_native(found: dict[str, list[tuple[str | None, str]]], level: str, source: str) -> dict[str, str]:
    """One file per band: the one in the band's native-resolution folder (L2A has resampled copies)."""
    picked: dict[str, str] = {}
    for band, candidates in found.items():
        if len(candidates) == 1:
            picked[band] = candidates[0][1]
            continue
        native = [p for res, p in candidates if res and res.upper() == f"R{NATIVE_RES[band]}M"]
        if len(native) != 1:
            raise RasterError(
                f"{source}: {len(candidates)} files for band {band} in the {level} product, "
                f"none unambiguously at native resolution"
            )
        picked[band] = native[0]
    return picked


def _scan(names: list[str], source: str) -> tuple[str, str, dict[str, list[tuple[str | None, str]]]]:
    """(metadata member, level, band candidates) from member/file names relative to the product."""
    mtd = [n for n in names if _MTD.search(n) and n.count("/") <= 1]
    if not mtd:
        raise InputFileError(
            f"{source} is not a Sentinel-2 L1C/L2A product: no MTD_MSIL1C.xml or MTD_MSIL2A.xml"
        )
    mtd.sort(key=lambda n: n.count("/"))
    first = _MTD.search(mtd[0])
    assert first is not None  # invariant: mtd holds only names _MTD matched
    level = "L" + first.group(1).upper()
    found: dict[str, list[tuple[str | None, str]]] = {}
    granules: set[str] = set()
    for n in names:
        m = _IMG.search(n)
        if m:
            granules.add(m.group("granule"))
            found.setdefault(m.group("band").upper(), []).append((m.group("res"), n))
    if len(granules) > 1:
        raise RasterError(
            f"{source} holds {len(granules)} granules ({', '.join(sorted(granules))}); "
            "geogen reads single-tile products: pass one granule's IMG_DATA folder instead"
        )
    if not found:
        raise InputFileError(f"{source} has no band images (GRANULE/*/IMG_DATA/*_B??.jp2)")
    return mtd[0], level, found


def read_safe(path: str | Path) -> SafeProduct:
    """Locate the band images and radiometric parameters of a .SAFE folder or .zip.

    Raises:
        InputFileError: the path is missing, not a zip/folder, or holds no metadata/band images.
        RasterError: unreadable metadata, several granules, or ambiguous band files.
    """
    p = Path(path)
    if not path_exists(p):
        raise InputFileError(f"Sentinel-2 product not found: {p}")
    if p.is_file():
        try:
            with zipfile.ZipFile(p) as zf:
                names = [n for n in zf.namelist() if not n.endswith("/")]
                mtd, level, found = _scan(names, str(p))
                size = zf.getinfo(mtd).file_size
                if size > MAX_METADATA_BYTES:  # from the zip's directory, before inflating anything
                    raise InputFileError(
                        f"{p}: {mtd} declares {size / 2**20:.0f} MiB, far more than product metadata holds "
                        f"(at most {MAX_METADATA_BYTES >> 20} MiB); the zip is corrupt or hostile"
                    )
                xml_bytes = zf.read(mtd)
        except zipfile.BadZipFile:
            raise InputFileError(
                f"{p} is not a zip file (expected a Sentinel-2 .SAFE folder or its .zip)"
            ) from None
        except (zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error) as exc:
            raise InputFileError(f"cannot read the zip file {p}: {exc} (truncated or corrupt?)") from None
        prefix = "/vsizip/" + p.resolve().as_posix() + "/"
        resolve = lambda member: prefix + member  # noqa: E731
    else:
        names = [f.relative_to(p).as_posix() for f in p.rglob("*") if f.is_file()]
        mtd, level, found = _scan(names, str(p))
        mtd_path = p / PurePosixPath(mtd)
        if mtd_path.stat().st_size > MAX_METADATA_BYTES:
            raise InputFileError(
                f"{mtd_path} is {mtd_path.stat().st_size / 2**20:.0f} MiB, far more than product metadata "
                f"holds (at most {MAX_METADATA_BYTES >> 20} MiB)"
            )
        xml_bytes = mtd_path.read_bytes()
        resolve = lambda member: str(p / PurePosixPath(member))  # noqa: E731
    baseline, quant, offsets, warnings = parse_metadata(xml_bytes, level, f"{p.name}/{mtd}")
    members = _pick_native(found, level, str(p))
    return SafeProduct(
        path=str(p),
        level=level,
        baseline=baseline,
        quantification=quant,
        offsets=offsets,
        band_paths={b: resolve(m) for b, m in members.items()},
        warnings=warnings,
    )
