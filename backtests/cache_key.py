"""The secret that signs forecast cache entries: ``BT_CACHE_KEY``, else a key file made for the user.

An entry of the forecast cache carries an HMAC-SHA256 of its header (which holds each table's
sha256), so a process that can write the cache folder but does not hold the key cannot plant
forecasts there: its entries are misses. The key is ``$BT_CACHE_KEY`` when set, else the file
``$XDG_CONFIG_HOME/bt-lstm/cache.key`` (default ``~/.config/bt-lstm/cache.key``), made on first use
from ``os.urandom`` with mode 0600. A key file that is a symbolic link, not a regular file, another
user's, or readable by group or others is refused in one line. The key is never logged or written
into a run folder; ``CacheKey``'s repr hides it.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
import secrets
import stat
import tempfile
from pathlib import Path

from reports.safe_read import NotRegularFile, open_regular

from .errors import ConfigError

ENV = "BT_CACHE_KEY"
MIN_LENGTH = 16
_MAX_FILE = 4096
_HINT = f"or set {ENV} to a secret of {MIN_LENGTH} characters or more"


class CacheKey:
    """A secret that signs and verifies cache entries (HMAC-SHA256); picklable, so workers can be given it."""

    __slots__ = ("secret",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_LENGTH:
            raise ConfigError(f"a forecast cache key must be at least {MIN_LENGTH} bytes. Got {len(secret)}.")
        self.secret = bytes(secret)

    def __repr__(self) -> str:
        return "CacheKey(<hidden>)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CacheKey) and hmac.compare_digest(self.secret, other.secret)

    def __hash__(self) -> int:
        return hash(hashlib.sha256(self.secret).digest())

    def sign(self, message: bytes) -> str:
        """The hex HMAC-SHA256 of ``message``."""
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def verifies(self, message: bytes, signature: object) -> bool:
        """Whether ``signature`` is this key's HMAC of ``message`` (compared in constant time)."""
        return isinstance(signature, str) and hmac.compare_digest(self.sign(message), signature)


def key_file() -> Path:
    """Where the user's key lives: ``$XDG_CONFIG_HOME/bt-lstm/cache.key``, else ``~/.config/bt-lstm/cache.key``."""
    xdg = Path(os.environ.get("XDG_CONFIG_HOME", ""))
    return (xdg if xdg.is_absolute() else Path.home() / ".config") / "bt-lstm" / "cache.key"


def cache_key() -> CacheKey:
    """The user's cache key: ``$BT_CACHE_KEY``, else the key file (made now if missing); one-line ConfigError."""
    value = os.environ.get(ENV)
    if value is not None:
        secret = value.strip().encode("utf-8")
        if len(secret) < MIN_LENGTH:
            raise ConfigError(f"{ENV} must be a secret of {MIN_LENGTH} characters or more (got {len(secret)}); "
                              f"unset it to use {key_file()}")  # fmt: skip
        return CacheKey(secret)
    path = key_file()
    try:
        return CacheKey(_read_key_file(path))
    except FileNotFoundError:
        _create_key_file(path)
        return CacheKey(_read_key_file(path))


def _read_key_file(path: Path) -> bytes:
    """The key file's secret, checked: a regular file of this user's, readable by no one else.

    Opened through ``reports.safe_read`` without following a link or blocking on a FIFO.
    """
    try:
        with open_regular(path, follow_links=False) as handle:
            _check_private(path, os.fstat(handle.fileno()))
            data = handle.read(_MAX_FILE + 1)
    except (FileNotFoundError, ConfigError):
        raise
    except NotRegularFile:
        raise ConfigError(f"forecast cache key {path} is not a regular file; remove it (a new key is made) "
                          f"{_HINT}") from None  # fmt: skip
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(f"forecast cache key {path} is a symbolic link; bt reads only a regular file there: "
                              f"remove the link (a new key is made) {_HINT}") from None  # fmt: skip
        raise ConfigError(f"forecast cache key {path} cannot be read ({exc.strerror}); fix it {_HINT}") from None
    secret = data.strip()
    if len(data) > _MAX_FILE or len(secret) < MIN_LENGTH:
        raise ConfigError(f"forecast cache key {path} does not hold a key of {MIN_LENGTH} to {_MAX_FILE} bytes; "
                          f"remove it (a new key is made) {_HINT}")  # fmt: skip
    return secret


def _check_private(path: Path, info: os.stat_result) -> None:
    """ConfigError unless the key file ``info`` describes is this user's and readable by no one else."""
    if info.st_uid != os.getuid():
        raise ConfigError(f"forecast cache key {path} belongs to another user; remove it (a new key is made) "
                          f"{_HINT}")  # fmt: skip
    if info.st_mode & 0o077:
        raise ConfigError(f"forecast cache key {path} can be read by other users (mode "
                          f"{stat.S_IMODE(info.st_mode):04o}); run `chmod 600 {path}` {_HINT}")  # fmt: skip


def _create_key_file(path: Path) -> None:
    """A new random key at ``path`` (0600), complete before it appears; a key another process made first wins."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".cache.key.", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(32) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    except OSError as exc:
        raise ConfigError(f"forecast cache key {path} cannot be created ({exc.strerror}); make its folder writable "
                          f"{_HINT}, or pass --no-cache") from None  # fmt: skip
