"""Is a Dask scheduler listening at ``--scheduler``? Checked with a plain socket before Dask's client connects.

Dask's own connect has a timeout for the TCP connection but none for the handshake that follows,
so a listener that accepts and never answers (Dask's dashboard, an HTTP server, a stuck process)
hangs it, and an HTTP reply read as a Dask frame length asks for exabytes. A Dask server sends its
handshake first, at once: its first 16 bytes are the message's length and its number of frames.
The probe reads those within a few seconds; when nothing comes, it sends an HTTP request to say what
is listening. Every outcome but a Dask handshake is a one-line ``ConfigError`` naming the address.
This module imports no Dask: ``backtests.parallel`` checks addresses with it before any cluster.
"""

from __future__ import annotations

import re
import socket
import ssl
import struct
import time

from .errors import ConfigError

FORMS = "sync, local, tcp://HOST:PORT or tls://HOST:PORT"
PROBE_SECONDS = 5.0
_ADDRESS = re.compile(r"(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})")
_HTTP_REQUEST = b"GET / HTTP/1.0\r\nHost: bt\r\n\r\n"


def split_address(address: str) -> tuple[str, str, int]:
    """``tcp://HOST:PORT`` or ``tls://HOST:PORT`` as (scheme, host, port); ConfigError for any other form."""
    match = _ADDRESS.fullmatch(address.strip())
    port = int(match.group(3)) if match else 0
    if match is None or not 1 <= port <= 65535:
        hint = ""
        if re.match(r"(https?|wss?)://", address):
            hint = " (Dask's own protocol, not the dashboard's http:// or ws://; the scheduler's port is usually 8786)"
        raise ConfigError(f"--scheduler {address!r} is not a scheduler address; use {FORMS}{hint}.")
    return match.group(1), match.group(2).strip("[]"), port


def _read(sock: socket.socket, size: int, seconds: float) -> tuple[bytes, str]:
    """Up to ``size`` bytes within ``seconds``, and why reading stopped: "full", "closed" or "silent"."""
    data, deadline = b"", time.monotonic() + seconds
    while len(data) < size:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, "silent"
        sock.settimeout(left)
        try:
            chunk = sock.recv(size - len(data))
        except TimeoutError:
            return data, "silent"
        except ssl.SSLError as exc:
            raise _refused_tls(exc) from None
        except OSError:
            return data, "closed"
        if not chunk:
            return data, "closed"
        data += chunk
    return data, "full"


def _is_dask_handshake(first: bytes) -> bool:
    """Dask's frames: a total length, then a count of frames (both little-endian 64-bit), both small."""
    if len(first) < 16:
        return False
    total, frames = struct.unpack("<QQ", first[:16])
    return 16 <= total <= 1 << 24 and 1 <= frames <= 64


def _shown(data: bytes) -> str:
    text = data[:40].decode("ascii", "replace").split("\r")[0].split("\n")[0]
    return repr("".join(c if c.isprintable() else "?" for c in text))


def _refused_tls(exc: ssl.SSLError | OSError) -> ConfigError:
    why = " ".join(str(exc).split())[:120]
    return ConfigError(f"TLS handshake failed ({type(exc).__name__}: {why}); check --tls-ca-file, --tls-cert "
                       "and --tls-key, or that the scheduler speaks TLS")  # fmt: skip


def _what_answered(sock: socket.socket, first: bytes, why: str, port: int, seconds: float) -> str:
    """What the listener is, in words, when it did not send Dask's handshake."""
    if why == "full":
        first += _read(sock, 48, min(seconds, 1.0))[0]  # the rest of its first line, to show it
    if first.startswith(b"HTTP/"):
        return f"an HTTP server answered ({_shown(first)})"
    if first:
        return f"it answered {_shown(first)}, which is not Dask's handshake"
    if why == "closed":
        return "it closed the connection without Dask's handshake (a TLS scheduler? use tls:// with --tls-*)"
    try:
        sock.sendall(_HTTP_REQUEST)
        reply, _ = _read(sock, 64, seconds)
    except (OSError, ConfigError):
        reply = b""
    if reply.startswith(b"HTTP/"):
        dashboard = f" (is {port} the dashboard? the scheduler's own port is usually 8786)" if port != 8786 else ""
        return f"an HTTP server answered ({_shown(reply)}){dashboard}"
    return f"it accepted the connection but sent no Dask handshake within {seconds:g} s"


def probe_scheduler(address: str, ssl_context: ssl.SSLContext | None = None,
                    seconds: float = PROBE_SECONDS) -> None:  # fmt: skip
    """Return when a Dask scheduler (or another Dask server) answers at ``address``; else a one-line ConfigError.

    Bounded: at most ``seconds`` to connect (and for TLS, to shake hands), ``seconds`` for the
    handshake, and ``seconds`` more for an HTTP reply when nothing came.
    """
    scheme, host, port = split_address(address)
    try:
        raw = socket.create_connection((host, port), timeout=seconds)
    except OSError as exc:
        why = " ".join(str(exc).split())[:160]
        raise ConfigError(f"scheduler {address} cannot be reached ({type(exc).__name__}: {why}); "
                          "start it or check --scheduler") from None  # fmt: skip
    with raw:
        sock = raw
        if scheme == "tls" and ssl_context is not None:
            try:
                sock = ssl_context.wrap_socket(raw, server_hostname=None)
            except (ssl.SSLError, OSError) as exc:
                raise ConfigError(f"scheduler {address}: {_refused_tls(exc)}") from None
        try:
            first, why = _read(sock, 16, seconds)
        except ConfigError as exc:
            raise ConfigError(f"scheduler {address}: {exc}") from None
        if _is_dask_handshake(first):
            return
        what = _what_answered(sock, first, why, port, seconds)
    raise ConfigError(f"scheduler {address} did not answer as a Dask scheduler: {what}; check --scheduler")
