"""Small, dependency-free downloads: stream to a temporary file, check size and checksum, rename atomically.

Connection failures raise ``OfflineError`` so that ``geogen models pull`` can tell the user what to download
by hand; an HTTP error from a reachable server is a ``ModelError`` naming the URL and status.

An interrupted download keeps its partial file (``<dest>.part``) and, beside it, ``<dest>.part.json``: the URL,
the server's validators (ETag, Last-Modified) and the full size. The next download to the same ``dest`` asks
for the rest with an HTTP Range request plus ``If-Range`` (the strong ETag, else Last-Modified), and appends
only when the server answers 206 with the matching range; a 200 means the file changed (or the server ignores
ranges) and the download starts again from byte 0, as it does when the URL or the size differs from the
recorded ones. Without a validator (the server sent neither header, or a ``.part`` without its record) the
bytes so far are reused only when a checksum is known, since the checksum then catches a mix of two versions;
otherwise the download starts again from byte 0. The checksum covers the whole file either way. Redirects are
followed to http(s) URLs only, and never from https down to http.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from geogen import __version__
from geogen.errors import CancelledError, GeogenError, ModelError

CHUNK = 1 << 20
TIMEOUT_S = 30.0
Progress = Callable[[int, int | None], None]  # (bytes done, total bytes or None)


class OfflineError(ModelError):
    """The source could not be reached (no network, DNS failure, refused or timed-out connection)."""


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http(s) only (urllib also follows ftp://), and never from https to http."""

    @staticmethod
    def _check(req, fp, newurl):
        old, new = req.full_url.split(":", 1)[0].lower(), newurl.split(":", 1)[0].lower()
        if new not in ("http", "https") or (old == "https" and new == "http"):
            fp.close()
            raise ModelError(
                f"refusing the redirect from {req.full_url} to {newurl}: "
                + ("only http(s) is allowed" if new not in ("http", "https") else "it drops https for http")
            )

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        self._check(req, fp, newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)

    def http_error_302(self, req, fp, code, msg, headers):
        # urllib refuses some schemes itself before redirect_request, with a message that reads as an HTTP error
        location = headers.get("location") or headers.get("uri")
        if location:
            self._check(req, fp, urljoin(req.full_url, location))
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


_OPENER = urllib.request.build_opener(_SafeRedirects)


def _request(
    url: str, headers: Mapping[str, str] | None, extra: Mapping[str, str] | None = None
) -> urllib.request.Request:
    req = urllib.request.Request(url, headers={"User-Agent": f"geogen/{__version__}", **(extra or {})})
    for key, value in (headers or {}).items():
        # Unredirected: a token for huggingface.co must not follow a redirect to a CDN or another host.
        req.add_unredirected_header(key, value)
    return req


def _open(
    url: str, headers: Mapping[str, str] | None, timeout: float, extra: Mapping[str, str] | None = None
):
    """Raises OfflineError (unreachable) or ModelError (HTTP error, refused redirect)."""
    try:
        return _OPENER.open(_request(url, headers, extra), timeout=timeout)
    except urllib.error.HTTPError as exc:
        hint = "; it may need an access token (set HF_TOKEN)" if exc.code in (401, 403) else ""
        raise ModelError(f"download failed: {url} answered HTTP {exc.code} {exc.reason}{hint}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise OfflineError(f"cannot reach {url} ({reason})") from None


def check_url(url: str) -> str:
    """``url`` if it is http(s) (urllib would also open file:// and ftp://).

    Raises:
        ModelError: another scheme.
    """
    if not url.lower().startswith(("https://", "http://")):
        raise ModelError(f"refusing to download from {url!r}: only http(s) URLs are allowed")
    return url


def fetch_json(url: str, *, headers: Mapping[str, str] | None = None, timeout: float = TIMEOUT_S) -> Any:
    """GET ``url`` and parse it as JSON.

    Raises:
        OfflineError: unreachable. ModelError: HTTP error or not JSON.
    """
    with _open(check_url(url), headers, timeout) as resp:
        raw = resp.read()
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ModelError(f"{url} did not return JSON") from None


def _parse_checksum(checksum: str | None) -> tuple[str, str] | None:
    if not checksum:
        return None
    algo, _, digest = checksum.partition(":")
    if algo not in ("sha256", "md5") or not digest:
        raise ModelError(f"unsupported checksum {checksum!r} (expected 'sha256:<hex>' or 'md5:<hex>')")
    return algo, digest.lower()


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.IGNORECASE)


def _hash_prefix(part: Path, hashes: list[Any]) -> int:
    """Feed the bytes already in ``part`` to ``hashes``; their count."""
    done = 0
    with open(part, "rb") as f:
        while chunk := f.read(CHUNK):
            for h in hashes:
                h.update(chunk)
            done += len(chunk)
    return done


def _resumed_total(resp: Any, offset: int) -> int | None:
    """The full size when ``resp`` is a 206 continuing at ``offset``; None when it is not one."""
    if getattr(resp, "status", 200) != 206:
        return None
    m = _CONTENT_RANGE.fullmatch((resp.headers.get("Content-Range") or "").strip())
    if not m or int(m.group(1)) != offset:
        return None
    return int(m.group(3)) if m.group(3) != "*" else int(m.group(2)) + 1


def partial_files(dest: Path) -> tuple[Path, Path]:
    """The partial file of a download to ``dest`` and its record (URL, validators, size)."""
    part = Path(dest).with_name(Path(dest).name + ".part")
    return part, part.with_name(part.name + ".json")


def discard_partial(dest: Path) -> None:
    """Delete what an interrupted download to ``dest`` left (partial file and its record)."""
    for path in partial_files(dest):
        path.unlink(missing_ok=True)


def file_matches(path: Path, *, size: int | None = None, checksum: str | None = None) -> bool:
    """Whether ``path`` is a file of ``size`` bytes with ``checksum`` (each checked when given)."""
    expected = _parse_checksum(checksum)
    try:
        if not path.is_file() or (size is not None and path.stat().st_size != size):
            return False
        if expected is None:
            return True
        h = hashlib.new(expected[0])
        _hash_prefix(path, [h])
    except OSError:
        return False
    return h.hexdigest() == expected[1]


def _read_record(record: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_record(record: Path, url: str, resp: Any, total: int | None, old: dict[str, Any] | None) -> None:
    old = old or {}
    data = {
        "url": url,
        "etag": resp.headers.get("ETag") or old.get("etag"),
        "last_modified": resp.headers.get("Last-Modified") or old.get("last_modified"),
        "size": total,
    }
    tmp = record.with_name(record.name + ".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, record)


def _if_range(record: dict[str, Any]) -> str | None:
    """The ``If-Range`` validator: the strong ETag (a weak one is not allowed there), else Last-Modified."""
    etag = record.get("etag")
    if isinstance(etag, str) and etag.startswith('"'):
        return etag
    modified = record.get("last_modified")
    return modified if isinstance(modified, str) and modified else None


def _resume_offset(
    url: str, part: Path, record: dict[str, Any] | None, size: int | None, checksum_known: bool
) -> tuple[int, str | None]:
    """(bytes of ``part`` to keep, If-Range validator): 0 when they may not belong to the current file."""
    offset = part.stat().st_size if part.is_file() else 0
    if not offset or (size is not None and offset > size):
        return 0, None
    if record is not None:
        if record.get("url") != url:  # the catalog now points elsewhere: another file
            return 0, None
        known = record.get("size")
        if size is not None and isinstance(known, int) and known != size:  # the catalog's size changed
            return 0, None
    validator = _if_range(record) if record is not None else None
    if validator is None and not checksum_known:
        return 0, None  # nothing could tell old bytes from new ones: start again
    return offset, validator


def _continues(resp: Any, offset: int, record: dict[str, Any] | None) -> bool:
    """Whether ``resp`` is a 206 continuing at ``offset`` the same file as the one recorded."""
    total = _resumed_total(resp, offset)
    if total is None:
        return False
    record = record or {}
    known, etag = record.get("size"), record.get("etag")
    if isinstance(known, int) and known != total:
        return False
    got = resp.headers.get("ETag")
    return not (got and isinstance(etag, str) and got != etag)


def download(
    url: str,
    dest: Path,
    *,
    size: int | None = None,
    checksum: str | None = None,
    headers: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    timeout: float = TIMEOUT_S,
) -> str:
    """Download ``url`` to ``dest`` and return its sha256 (hex).

    The bytes go to ``dest`` + ".part" first; ``dest`` appears only once size and checksum
    (``"sha256:<hex>"`` or ``"md5:<hex>"``, as Zenodo gives) match. A ``.part`` left by an interrupted
    download is resumed with a Range request where the server supports it. The ``.part`` is kept when the
    connection is lost or the download is interrupted (so that it can resume), and deleted on any other
    failure (HTTP error, wrong size or checksum).

    Raises:
        OfflineError: the server cannot be reached. ModelError: HTTP error, refused redirect, size or
            checksum mismatch.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    check_url(url)
    expected = _parse_checksum(checksum)
    part, record_path = partial_files(dest)
    record = _read_record(record_path) if part.is_file() else None
    offset, validator = _resume_offset(url, part, record, size, expected is not None)
    keep_part = False
    try:
        resp = None
        if offset:
            extra = {"Range": f"bytes={offset}-"}
            if validator:
                extra["If-Range"] = validator  # a changed file comes back whole (200), not as a range
            try:
                resp = _open(url, headers, timeout, extra)
            except ModelError as exc:
                if isinstance(exc, OfflineError) or "HTTP 416" not in str(exc):
                    keep_part = isinstance(exc, OfflineError)
                    raise
                resp = None  # 416: the range does not fit this file: start again
            if resp is not None and not _continues(resp, offset, record):
                # a 206 of another range or file: ask for all of it
                if getattr(resp, "status", 200) == 206:
                    resp.close()
                    resp = None
                offset = 0  # else: changed, or no Range support: the server sends the whole file (200)
            elif resp is None:
                offset = 0
        if resp is None:
            resp = _open(url, headers, timeout)
        with resp:
            sha = hashlib.sha256()
            other = hashlib.new(expected[0]) if expected and expected[0] != "sha256" else None
            hashes = [h for h in (sha, other) if h is not None]
            if offset:
                _hash_prefix(part, hashes)
            else:
                record_path.unlink(missing_ok=True)  # no record may outlive the bytes it describes
            length = resp.headers.get("Content-Length")
            # what the server says this response brings the file to (a 206's length is the rest only)
            announced = offset + int(length) if length and length.isdigit() else None
            if offset and announced is None:
                announced = _resumed_total(resp, offset)
            total = size if size is not None else announced
            done = offset
            with open(part, "ab" if offset else "wb") as out:
                # written once the part holds (only) bytes of this response's file
                _write_record(record_path, url, resp, total, record if offset else None)
                if progress:
                    progress(done, total)
                while True:
                    try:
                        chunk = resp.read(CHUNK)
                    except (
                        TimeoutError,
                        ConnectionError,
                        urllib.error.URLError,
                        http.client.HTTPException,
                    ) as exc:
                        keep_part = True
                        raise OfflineError(f"connection lost while downloading {url} ({exc!r})") from None
                    if not chunk:
                        break
                    out.write(chunk)
                    for h in hashes:
                        h.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
        if announced is not None and done < announced:  # the connection closed early
            keep_part = True
            raise OfflineError(f"connection lost while downloading {url}: {done} of {announced} bytes")
        if total is not None and done != total:
            raise ModelError(f"download of {url} is incomplete or wrong: {done} bytes, expected {total}")
        if expected:
            # other is the second hash exactly when the expected checksum is not sha256
            got = other.hexdigest() if other is not None else sha.hexdigest()
            if got != expected[1]:
                raise ModelError(f"checksum mismatch for {url}: {expected[0]} {got}, expected {expected[1]}")
        os.replace(part, dest)
        record_path.unlink(missing_ok=True)
    except (KeyboardInterrupt, GeogenError) as exc:
        # Interrupted or cut off: keep the bytes so far for the next try; anything else: they are wrong.
        if not (keep_part or isinstance(exc, (KeyboardInterrupt, CancelledError))):
            discard_partial(dest)
        raise
    except BaseException:
        discard_partial(dest)
        raise
    return sha.hexdigest()
