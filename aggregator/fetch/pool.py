"""A small keep-alive connection pool for httpx, keyed by origin *and* network policy.

httpcore's own pool re-examines every pooled connection (a ``getpeername`` and a
``poll`` each) whenever a request starts or ends, so with a few dozen keep-alive
connections a pass of 304s spent most of its time in the pool (measured: 3-4 s of
CPU for 300 requests, against under 1 s with no keep-alive at all). Here idle
connections sit in one list per key and only the one about to be reused is checked.

Concurrency is not limited here: the Fetcher's global and per-host slots already do
that. The key includes the network policy the connection was dialled under (external
or internal, and whether the host was the one written in the source), so a connection
opened for an intranet source is never reused by an external one.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpcore
from httpcore._async.http_proxy import AsyncForwardHTTPConnection, AsyncTunnelHTTPConnection

from aggregator.fetch.netguard import GuardedBackend, ProxyBackend, current_policy

#: what a reused keep-alive connection raises when the server had already closed it
_STALE = (httpcore.RemoteProtocolError, httpcore.ReadError, httpcore.WriteError)
#: (scheme, host, port, external, configured host) of the connections in one idle list.
PoolKey = tuple[bytes, bytes, int | None, bool, bool]
Connection = httpcore.AsyncConnectionInterface


@dataclass(frozen=True)
class ProxyRoute:
    """The HTTP proxy external sources go through: CONNECT tunnels for https, absolute URLs for http."""

    origin: httpcore.Origin
    headers: list[tuple[bytes, bytes]]  # Proxy-Authorization, when the proxy needs credentials
    backend: ProxyBackend


class LeanPool:
    """Implements the part of httpcore's pool interface that httpx's transport uses."""

    def __init__(self, *, ssl_context: ssl.SSLContext, network_backend: GuardedBackend, max_idle: int,
                 keepalive_expiry: float | None, proxy: ProxyRoute | None = None) -> None:
        self._ssl_context = ssl_context
        self._backend = network_backend
        self._proxy = proxy
        self._max_idle = max_idle
        self._expiry = keepalive_expiry
        self._idle: dict[PoolKey, list[Connection]] = {}
        self._idle_count = 0
        self._orphans: list[Connection] = []
        self._closed = False

    def _key(self, origin: httpcore.Origin) -> PoolKey:
        policy = current_policy.get()
        host = origin.host.decode("ascii", "replace").lower()
        external = policy.external if policy else True
        same_host = policy is not None and host.strip("[]") == policy.configured_host
        return (origin.scheme, origin.host, origin.port, external, same_host)

    def _take(self, key: PoolKey) -> Connection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if connection.is_idle() and not connection.has_expired():
                return connection
            self._discard(connection)
        return None

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        if self._closed:
            raise httpcore.ConnectError("the connection pool is closed")
        origin = request.url.origin
        key = self._key(origin)
        connection = self._take(key)
        if connection is not None:
            try:
                response = await connection.handle_async_request(request)
            except _STALE:
                if request.method != b"GET":
                    await connection.aclose()
                    raise
                # The server closed the idle connection just as we reused it: GET is
                # idempotent, so try once more on a new connection.
                await connection.aclose()
                connection = None
            except BaseException:
                await connection.aclose()
                raise
        if connection is None:
            connection = self._connect(origin, external=key[3])
            try:
                response = await connection.handle_async_request(request)
            except BaseException:
                await connection.aclose()
                raise
        stream = _ReleasingStream(response.stream, self, key, connection)  # type: ignore[arg-type]
        return httpcore.Response(status=response.status, headers=response.headers, content=stream,
                                 extensions=response.extensions)

    def _connect(self, origin: httpcore.Origin, *, external: bool) -> Connection:
        """A new connection to ``origin``: through the proxy for external sources when there is one."""
        proxy = self._proxy if external else None
        if proxy is None:
            return httpcore.AsyncHTTPConnection(
                origin=origin, ssl_context=self._ssl_context, keepalive_expiry=self._expiry,
                http1=True, http2=False, network_backend=self._backend)
        if origin.scheme == b"https":
            return AsyncTunnelHTTPConnection(
                proxy_origin=proxy.origin, remote_origin=origin, ssl_context=self._ssl_context,
                proxy_headers=proxy.headers, keepalive_expiry=self._expiry, network_backend=proxy.backend)
        return AsyncForwardHTTPConnection(
            proxy_origin=proxy.origin, remote_origin=origin, proxy_headers=proxy.headers,
            keepalive_expiry=self._expiry, network_backend=proxy.backend)

    async def _release(self, key: PoolKey, connection: Connection) -> None:
        """Keep a connection whose exchange finished cleanly; close any other."""
        if not self._closed and connection.is_idle() and self._idle_count < self._max_idle:
            self._idle.setdefault(key, []).append(connection)
            self._idle_count += 1
        else:
            await connection.aclose()

    def _discard(self, connection: Connection) -> None:
        # Closing needs an await that _take cannot do: closed at the next release or aclose().
        self._orphans.append(connection)

    async def _close_orphans(self) -> None:
        orphans, self._orphans = self._orphans, []
        for connection in orphans:
            await connection.aclose()

    async def aclose(self) -> None:
        self._closed = True
        connections = [c for idle in self._idle.values() for c in idle]
        self._idle.clear()
        self._idle_count = 0
        for connection in connections:
            await connection.aclose()
        await self._close_orphans()

    async def __aenter__(self) -> LeanPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _ReleasingStream:
    """The response body; closing it hands the connection back to the pool."""

    def __init__(self, stream: Any, pool: LeanPool, key: PoolKey, connection: Connection) -> None:
        self._stream = stream
        self._pool = pool
        self._key = key
        self._connection = connection
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        if self._released:
            return
        self._released = True
        try:
            if hasattr(self._stream, "aclose"):
                await self._stream.aclose()
        finally:
            await self._pool._close_orphans()
            await self._pool._release(self._key, self._connection)
