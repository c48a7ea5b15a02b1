"""``geogen models pull NAME``: download a published model into the store, or say how to get it by hand.

Files land in a staging folder inside the store (same drive, so installing is a rename); archives are unpacked
there (into a temporary folder first, whose files are then moved into place); the result must be detected as
the catalog's kind before it is installed.

A pull that is cut off (lost connection, Ctrl-C, kill -9) leaves its folder ``models/.pull-<name>-<hex>``
with the partial downloads; the next ``pull`` of the same model takes that folder over and resumes (HTTP
Range, see ``geogen.store.download``). The files found complete there are checked again (size, and checksum
when the catalog has one) and fetched again when they do not match; an archive counts as unpacked only once
its marker ``.<archive>.unpacked`` exists, so an unpacking that was cut off is done again from the archive.
Other store commands remove such a folder once it has been left alone for a day (``geogen.store.staging``).
"""

from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
from pathlib import Path
from urllib.parse import quote

from geogen.errors import CancelledError, ModelError
from geogen.progress import NullReporter, Reporter
from geogen.store import catalog as C
from geogen.store.download import OfflineError, discard_partial, download, fetch_json, file_matches
from geogen.store.entry import ModelEntry
from geogen.store.staging import PULL_PREFIX, adopt, discard, new_staging_dir
from geogen.store.store import Store

_ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz")


class PullOfflineError(OfflineError):
    """The source is unreachable; ``instructions`` says what to download and the ``add`` command to run."""

    def __init__(self, message: str, instructions: str) -> None:
        super().__init__(message)
        self.instructions = instructions


def zenodo_files(entry: C.CatalogEntry, timeout: float) -> tuple[C.CatalogFile, ...]:
    """The files of a Zenodo record, from Zenodo's records API (names, sizes, md5).

    Raises:
        OfflineError: Zenodo unreachable. ModelError: the record lists no files.
    """
    data = fetch_json(f"{C.ZENODO_API}{entry.zenodo_record}", timeout=timeout)
    raw = data.get("files") if isinstance(data, dict) else None
    if isinstance(raw, dict):  # InvenioRDM style: {"entries": {...} or [...]}
        raw = raw.get("entries")
    if isinstance(raw, dict):
        raw = list(raw.values())
    out = []
    for f in raw or []:
        key = f.get("key") or f.get("filename")
        if not key:
            continue
        links = f.get("links") or {}
        url = (
            links.get("self")
            or links.get("content")
            or links.get("download")
            or (f"{C.ZENODO_PAGE}{entry.zenodo_record}/files/{quote(key)}?download=1")
        )
        out.append(C.CatalogFile(key, url, f.get("size") or f.get("filesize"), f.get("checksum")))
    if not out:
        raise ModelError(f"Zenodo record {entry.zenodo_record} lists no files ({entry.page})")
    return tuple(out)


def _auth_headers(entry: C.CatalogEntry, url: str) -> dict[str, str]:
    """An HF token (from HF_TOKEN only) for huggingface.co URLs of Hugging Face entries; nothing otherwise."""
    token = os.environ.get("HF_TOKEN", "").strip()
    if entry.hf_repo and token and url.startswith(C.HF_BASE):
        return {"Authorization": f"Bearer {token}"}
    return {}


def _inside(dest: Path, member: str) -> bool:
    target = (dest / member).resolve()
    return target == dest or dest in target.parents


def extract_archive(archive: Path, dest: Path) -> None:
    """Unpack a .zip/.tar(.gz) into ``dest``, refusing members that would land outside it.

    Raises:
        ModelError: a damaged archive or a member with an absolute or '..' path.
    """
    dest = dest.resolve()
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as z:
                bad = [n for n in z.namelist() if not _inside(dest, n)]
                if bad:
                    raise ModelError(f"refusing {archive.name}: member {bad[0]!r} points outside the folder")
                z.extractall(dest)
        else:
            with tarfile.open(archive) as t:
                members = t.getmembers()
                bad = [
                    m.name
                    for m in members
                    if not _inside(dest, m.name) or m.issym() or m.islnk() or not (m.isfile() or m.isdir())
                ]
                if bad:
                    raise ModelError(
                        f"refusing {archive.name}: member {bad[0]!r} is a link, a device or "
                        "points outside the folder"
                    )
                if hasattr(tarfile, "data_filter"):
                    t.extractall(dest, members=members, filter="data")
                else:
                    t.extractall(dest, members=members)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise ModelError(f"cannot unpack {archive.name} ({exc})") from None


def offline_instructions(entry: C.CatalogEntry) -> str:
    """What to download by hand, and the command that installs it afterwards."""
    lines = [f"Download {entry.name!r} ({entry.title}) on a machine that is online:"]
    if entry.zenodo_record:
        lines += [
            f"  record page:      {entry.page}",
            f"  all files (zip):  {C.ZENODO_API}{entry.zenodo_record}/files-archive",
            "Unpack every file of the record (and any archive inside) into one folder, then run:",
        ]
    else:
        lines += [f"  {f.url}  ->  <folder>/{f.path}" for f in entry.files]
        lines.append("keeping the sub-folders as shown, then run:")
    resolution = entry.facts.get("resolution")
    extra = f" --resolution {resolution}" if resolution and entry.kind.startswith("diffusionsat") else ""
    lines.append(f"  geogen models add {entry.name} <folder> --kind {entry.kind}{extra}")
    lines.append(f"Licence: {entry.licence}" + (f" ({entry.licence_url})" if entry.licence_url else ""))
    return "\n".join(lines)


def _progress_in_mib(reporter: Reporter, stage: str):
    def progress(done: int, total: int | None) -> None:
        if total:
            total_mib = -(-total >> 20)  # ceil: a small file still counts as 1 MiB, and ends at 1/1
            reporter.progress(total_mib if done >= total else done >> 20, total_mib, stage)

    return progress


def _unpacked_marker(archive: Path) -> Path:
    return archive.with_name(f".{archive.name}.unpacked")


def _unpacking_dir(archive: Path) -> Path:
    return archive.with_name(f".{archive.name}.unpacking")


def _move_into(src: Path, dest: Path) -> None:
    """Move the tree ``src`` into ``dest`` file by file (merging folders, replacing files), then remove it."""
    for dirpath, _dirs, files in os.walk(src):
        target = dest / Path(dirpath).relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            os.replace(os.path.join(dirpath, name), target / name)
    shutil.rmtree(src)


def _unpack(archive: Path, reporter: Reporter) -> None:
    """Unpack ``archive`` next to itself, all or nothing per file: into a temporary folder first, whose files
    are then moved into place (each one whole); the marker says it is done. Redone in full when cut off.

    Raises:
        ModelError: see ``extract_archive``; a file that cannot be moved into place.
    """
    reporter.log(f"unpacking {archive.name}")
    tmp = _unpacking_dir(archive)
    shutil.rmtree(tmp, ignore_errors=True)  # what an unpacking that was cut off left
    tmp.mkdir()
    extract_archive(archive, tmp)
    try:
        _move_into(tmp, archive.parent)
    except OSError as exc:
        raise ModelError(f"cannot unpack {archive.name} ({exc})") from None
    _unpacked_marker(archive).touch()
    archive.unlink()  # the marker stands for it from now on (a resumed pull neither fetches nor unpacks it again)


def _fetch_all(entry: C.CatalogEntry, staging: Path, reporter: Reporter, timeout: float) -> None:
    files = zenodo_files(entry, timeout) if entry.zenodo_record else entry.files
    for f in files:
        dest = staging / f.path
        if not _inside(staging.resolve(), f.path):
            raise ModelError(f"refusing catalog file name {f.path!r} (outside the model folder)")
        archive = dest.name.lower().endswith(_ARCHIVES)
        if archive and _unpacked_marker(dest).is_file():  # unpacked by the pull this folder was resumed from
            continue
        if dest.exists() and file_matches(dest, size=f.size, checksum=f.checksum):
            discard_partial(dest)  # downloaded by the pull this folder was resumed from
        else:
            if dest.is_dir():
                shutil.rmtree(dest)
            else:
                dest.unlink(missing_ok=True)  # not (or no longer) the catalog's file
            part = dest.with_name(dest.name + ".part")
            resuming = part.is_file() and part.stat().st_size > 0
            reporter.log(f"{'resuming' if resuming else 'downloading'} {f.url}")
            download(
                f.url,
                dest,
                size=f.size,
                checksum=f.checksum,
                headers=_auth_headers(entry, f.url),
                progress=_progress_in_mib(reporter, Path(f.path).name),
                timeout=timeout,
            )
        if archive:
            _unpack(dest, reporter)
    for f in files:
        if f.path.lower().endswith(_ARCHIVES):
            (staging / f.path).unlink(missing_ok=True)
            _unpacked_marker(staging / f.path).unlink(missing_ok=True)


def pull(
    name: str, *, store: Store | None = None, reporter: Reporter | None = None, timeout: float = 30.0
) -> tuple[ModelEntry, bool]:
    """Install the published model ``name``; returns (entry, whether it was downloaded now).

    An already-installed model of that name is returned as is.

    Raises:
        PullOfflineError: the source is unreachable (its ``instructions`` say what to do by hand).
        ModelError: unknown name, HTTP error, checksum mismatch, or files that are not the expected kind.
    """
    entry = C.catalog_entry(name)
    store = store or Store()
    reporter = reporter or NullReporter()
    existing = store.find(name)
    if existing is not None:
        return existing, False
    store.models_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"{PULL_PREFIX}{name}-"
    staging = adopt(store.models_dir, prefix)
    if staging is not None:
        reporter.log(f"resuming the interrupted download of {name!r} in {staging}")
    else:
        staging = new_staging_dir(store.models_dir, prefix)
    keep = False
    try:
        _fetch_all(entry, staging, reporter, timeout)
        installed = store.add(
            name,
            staging,
            kind=entry.kind,
            move=True,
            source=entry.page,
            licence=entry.licence,
            catalog=entry.name,
            facts=dict(entry.facts),
            reporter=reporter,
        )
    except OfflineError as exc:
        keep = _has_partial(staging)
        again = "; run the same command again to resume" if keep else ""
        raise PullOfflineError(
            f"cannot download {name!r}: {exc}{again}; see the instructions above", offline_instructions(entry)
        ) from None
    except (KeyboardInterrupt, CancelledError):
        keep = _has_partial(staging)
        raise
    finally:
        if not keep:  # else the folder waits for the next pull to resume it
            discard(staging)
    return installed, True


def _has_partial(folder: Path) -> bool:
    """Whether ``folder`` holds downloaded bytes worth resuming."""
    try:
        return any(p.is_file() and p.stat().st_size > 0 for p in folder.rglob("*"))
    except OSError:
        return False
