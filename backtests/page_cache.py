"""On-disk cache of drawn tearsheets, signed like the forecast cache, so an unchanged run is not drawn again.

The quantstats tearsheet is the slowest part of a sweep job whose forecasts are cached. It is a pure
function of the returns it shows, its title, and the code and library versions that draw it
(``reports.tearsheet.tearsheet_key`` hashes all of them), and the same inputs give the same bytes, so a
rerun of a sweep with every forecast cached takes its pages from here.

An entry is ``KEY.html`` and ``KEY.json`` (the key, the page's sha256 and an HMAC of both with the user's
cache key, ``backtests.cache_key``), the header written last. A page is served only when the header is
this key's, its HMAC verifies and the page matches its checksum; anything else (missing, foreign, altered,
a link, a FIFO, too large) is a miss and the page is drawn. A page is HTML text for the user's browser,
never executed here; a writer without the key cannot plant one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from reports.files import atomic_write_bytes
from reports.safe_read import read_capped

from .cache_key import CacheKey, cache_key

_HEADER_CAP = 4096
_PAGE_CAP = 64 * 1024 * 1024  # a five-year tearsheet is about 2 MB


def _signed(key: str, digest: str) -> bytes:
    return json.dumps({"key": key, "sha256": digest}, sort_keys=True).encode()


class PageCache:
    """A folder of drawn pages (``reports.build.PageStore``): ``get`` a verified page or None, ``put`` one.

    ``key``: the signing key (default: ``cache_key.cache_key()``); ``notify`` hears of a page that could not
    be stored (the run goes on without caching it).
    """

    def __init__(self, folder: Path, key: CacheKey | None = None, notify: Callable[[str], None] | None = None) -> None:
        self.folder = Path(folder)
        self.key = key if key is not None else cache_key()
        self.notify = notify or (lambda _: None)

    def _paths(self, key: str) -> tuple[Path, Path]:
        if len(key) != 32 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"not a page key: {key!r}")
        return self.folder / f"{key}.html", self.folder / f"{key}.json"

    def get(self, key: str) -> str | None:
        """The page stored under ``key`` if its header is signed with this cache's key and it matches it."""
        page, header_path = self._paths(key)
        try:
            header = json.loads(read_capped(header_path, _HEADER_CAP, follow_links=False))
            if not isinstance(header, dict) or header.get("key") != key:
                return None
            digest = header.get("sha256")
            if not isinstance(digest, str) or not self.key.verifies(_signed(key, digest), header.get("hmac")):
                return None
            body = read_capped(page, _PAGE_CAP, follow_links=False)
            if hashlib.sha256(body).hexdigest() != digest:
                return None
            return body.decode("utf-8")
        except (OSError, ValueError, RecursionError):  # NotRegularFile and FileTooLarge are OSErrors
            return None

    def put(self, key: str, text: str) -> None:
        """Store ``text`` under ``key``: the page atomically, then the signed header that vouches for it."""
        page, header_path = self._paths(key)
        body = text.encode("utf-8")
        digest = hashlib.sha256(body).hexdigest()
        header = {"key": key, "sha256": digest, "hmac": self.key.sign(_signed(key, digest))}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(page, body)
            atomic_write_bytes(header_path, json.dumps(header).encode("utf-8"))
        except OSError as exc:
            self.notify(f"could not store the drawn page {page} ({exc.strerror or exc}); it is not cached")
