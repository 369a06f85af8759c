"""The one outbound HTTP path: shared clients, pinned connections, timeouts, a size-capped
streamed read and Retry-After.

Every connection a client of this module opens (the first request and every redirect hop) goes
through `PinnedBackend`: the host name is resolved once, every address is checked against the
address policy (`outbound.addresses`), and the socket is opened to a checked address. httpx
still sends the original Host header and TLS still uses the original name for SNI and
certificate verification, so pinning changes where we connect, never what we ask for. A DNS
answer that changes between the check and the connect (rebinding) cannot reach a refused
address: there is no second lookup.

Callers describe what they need with a `Profile` (timeouts, redirects, loopback); `client()`
returns the process's client for it (one per profile and process: prefork workers must not
share sockets with their parent). Environment proxies are ignored (`trust_env=False`): a proxy
would do its own lookup and undo the pinning.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpcore
import httpx

from .addresses import BlockedAddressError, UnresolvableHostError, resolve_allowed

# At most this many of a name's addresses are tried, one connect timeout each.
_MAX_ADDRESSES_TRIED = 2


class BlockedAddress(httpx.ConnectError):
    """A connection (first request or redirect hop) to a refused address was not opened."""


@dataclass(frozen=True)
class Profile:
    """How one kind of caller talks to the outside."""

    name: str
    connect_timeout: float
    read_timeout: float
    follow_redirects: bool = False
    max_redirects: int = 5
    allow_loopback: bool = False
    user_agent: str = "Relink/1.0"
    max_connections: int = 20
    max_keepalive_connections: int = 10

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.read_timeout,
            pool=self.connect_timeout,
        )


class PinnedBackend(httpcore.NetworkBackend):
    """httpcore's sync backend, but connecting only to addresses the policy allows, resolved
    once per connection."""

    def __init__(self, *, allow_loopback: bool) -> None:
        self.allow_loopback = allow_loopback
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = resolve_allowed(host, port, allow_loopback=self.allow_loopback)
        except UnresolvableHostError as exc:
            raise httpcore.ConnectError(str(exc)) from None  # DNS may heal: a plain connect error
        except BlockedAddressError as exc:
            raise BlockedAddress(str(exc)) from None
        error: Exception | None = None
        for address in addresses[:_MAX_ADDRESSES_TRIED]:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None):
        raise BlockedAddress("unix sockets are not an outbound destination")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class PinnedTransport(httpx.HTTPTransport):
    """httpx's transport over a `PinnedBackend` (httpx takes no network backend, so its
    connection pool is replaced by an equal one that has it; request handling stays httpx's)."""

    def __init__(self, *, allow_loopback: bool, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=PinnedBackend(allow_loopback=allow_loopback),
        )


_lock = threading.Lock()
_clients: dict[tuple[int, Profile], httpx.Client] = {}


def client(profile: Profile) -> httpx.Client:
    """The process's pooled client for `profile` (threads share it; a forked child builds its own)."""
    key = (os.getpid(), profile)
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(key)
        if found is None:
            limits = httpx.Limits(
                max_connections=profile.max_connections,
                max_keepalive_connections=profile.max_keepalive_connections,
            )
            found = _clients[key] = httpx.Client(
                transport=PinnedTransport(allow_loopback=profile.allow_loopback, limits=limits),
                timeout=profile.timeout(),
                follow_redirects=profile.follow_redirects,
                max_redirects=profile.max_redirects,
                headers={"User-Agent": profile.user_agent},
                trust_env=False,
            )
    return found


@dataclass
class Body:
    """A response body read up to a size cap and a wall-clock deadline."""

    content: bytes
    over_limit: bool = False  # more than `limit` bytes arrived (content holds the first `limit`)
    past_deadline: bool = False  # the deadline passed before the body ended


def read_capped(response: httpx.Response, *, limit: int, deadline: float, decoded: bool = True) -> Body:
    """Read a streamed response until it ends, passes `limit` bytes or `deadline` (a
    time.monotonic() value), whichever comes first. `decoded` counts bytes after
    Content-Encoding (a gzip bomb stops at the cap too); otherwise the bytes on the wire. A
    declared Content-Length over the cap stops before reading. Transport errors and timeouts
    while reading are raised as httpx raises them."""
    declared = response.headers.get("Content-Length", "")
    if decoded and declared.isdigit() and int(declared) > limit:
        return Body(b"", over_limit=True)
    chunks: list[bytes] = []
    size = 0
    # No chunk_size: each piece as it arrives, so the deadline is checked even on a trickle.
    for chunk in response.iter_bytes() if decoded else response.iter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return Body(b"".join(chunks)[:limit], over_limit=True)
        if time.monotonic() > deadline:
            return Body(b"".join(chunks), past_deadline=True)
    return Body(b"".join(chunks))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date; None when
    absent or unreadable. Never negative."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
