"""Small, dependency-free downloads: stream to a temporary file, check size and checksum, rename atomically.

Connection failures raise ``OfflineError`` so that ``geogen models pull`` can tell the user what to download
by hand; an HTTP error from a reachable server is a ``ModelError`` naming the URL and status.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from geogen import __version__
from geogen.errors import ModelError

CHUNK = 1 << 20
TIMEOUT_S = 30.0
Progress = Callable[[int, int | None], None]  # (bytes done, total bytes or None)


class OfflineError(ModelError):
    """The source could not be reached (no network, DNS failure, refused or timed-out connection)."""


def _request(url: str, headers: Mapping[str, str] | None) -> urllib.request.Request:
    req = urllib.request.Request(url, headers={"User-Agent": f"geogen/{__version__}"})
    for key, value in (headers or {}).items():
        # Unredirected: a token for huggingface.co must not follow a redirect to a CDN or another host.
        req.add_unredirected_header(key, value)
    return req


def _open(url: str, headers: Mapping[str, str] | None, timeout: float):
    """Raises OfflineError (unreachable) or ModelError (HTTP error)."""
    try:
        return urllib.request.urlopen(_request(url, headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        hint = "; it may need an access token (set HF_TOKEN)" if exc.code in (401, 403) else ""
        raise ModelError(f"download failed: {url} answered HTTP {exc.code} {exc.reason}{hint}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
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
    (``"sha256:<hex>"`` or ``"md5:<hex>"``, as Zenodo gives) match.

    Raises:
        OfflineError: the server cannot be reached. ModelError: HTTP error, size or checksum mismatch.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    expected = _parse_checksum(checksum)
    sha = hashlib.sha256()
    other = hashlib.new(expected[0]) if expected and expected[0] != "sha256" else None
    part = dest.with_name(dest.name + ".part")
    done = 0
    try:
        with _open(check_url(url), headers, timeout) as resp, open(part, "wb") as out:
            length = resp.headers.get("Content-Length")
            total = size if size is not None else (int(length) if length and length.isdigit() else None)
            if progress:
                progress(0, total)
            while True:
                try:
                    chunk = resp.read(CHUNK)
                except (TimeoutError, ConnectionError, urllib.error.URLError) as exc:
                    raise OfflineError(f"connection lost while downloading {url} ({exc})") from None
                if not chunk:
                    break
                out.write(chunk)
                sha.update(chunk)
                if other:
                    other.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
        if total is not None and done != total:
            raise ModelError(f"download of {url} is incomplete or wrong: {done} bytes, expected {total}")
        if expected:
            # other is the second hash exactly when the expected checksum is not sha256
            got = other.hexdigest() if other is not None else sha.hexdigest()
            if got != expected[1]:
                raise ModelError(f"checksum mismatch for {url}: {expected[0]} {got}, expected {expected[1]}")
        os.replace(part, dest)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return sha.hexdigest()
