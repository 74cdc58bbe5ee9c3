"""Which network addresses a source may reach (SSRF and internal/external separation).

The rule, checked on every resolved address of every hop (the first request and each
redirect) and again when the socket is opened, so DNS cannot swap the address in between:

1. Public (globally routable, unicast) addresses are always allowed.
2. Private, loopback, link-local, reserved, multicast and unspecified addresses are
   refused unless they lie in ``fetch.allow_networks``.
3. An *external* source may reach an allowed private network only at the host that
   support staff wrote in its URL. A redirect that takes an external source to any
   other host on a private network is refused, so intranet content can never arrive
   labelled "external" because some outside server pointed at it. Internal sources
   may follow redirects anywhere rules 1-2 allow.

When a name resolves to several addresses, every one must pass (a name mixing public
and private addresses is refused), and the connection is made to a checked address.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpcore

from aggregator.fetch.errors import BlockedAddress, ConnectionFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """``allow_networks`` strings as network objects (already validated by the config schema)."""
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def _unmap(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_public(ip: IPAddress) -> bool:
    """True for globally routable unicast addresses."""
    ip = _unmap(ip)
    return ip.is_global and not ip.is_multicast and not ip.is_unspecified


def refusal(
    ip: IPAddress,
    *,
    allowed: Sequence[IPNetwork],
    external: bool,
    configured_host: bool,
) -> str | None:
    """Why ``ip`` may not be reached, or None when it may (pure; see the module rule)."""
    ip = _unmap(ip)
    if is_public(ip):
        return None
    if not any(ip in net for net in allowed):
        return (
            f"refused to connect to {ip}: a private, loopback or link-local address "
            "(add its network to fetch.allow_networks if this is an intranet source)"
        )
    if external and not configured_host:
        return (
            f"refused: an external source was redirected into a private network ({ip}); "
            "intranet content may not be fetched as external"
        )
    return None


@dataclass(frozen=True)
class HopPolicy:
    """What the current request may reach; set per hop by the HTTP layer."""

    allowed: tuple[IPNetwork, ...]
    external: bool
    configured_host: str  # the host written in the source's URL (lowercase)

    def check(self, host: str, addresses: Sequence[IPAddress]) -> None:
        """Raise BlockedAddress unless every address of ``host`` may be reached."""
        if not addresses:
            raise ConnectionFailed("the host name could not be resolved")
        same = host.lower().strip("[]") == self.configured_host
        for ip in addresses:
            reason = refusal(ip, allowed=self.allowed, external=self.external, configured_host=same)
            if reason:
                raise BlockedAddress(reason)


# The policy of the request being sent in this task; read by GuardedBackend.connect_tcp.
current_policy: contextvars.ContextVar[HopPolicy | None] = contextvars.ContextVar("funnelfeed_hop_policy", default=None)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """All addresses of ``host`` (an IP literal resolves to itself)."""
    host = host.strip("[]")
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConnectionFailed("the host name could not be resolved") from exc
    seen: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if ip not in seen:
            seen.append(ip)
    return seen


class _TcpOnlyBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that dials TCP through anyio and never a unix socket."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedBackend(_TcpOnlyBackend):
    """httpcore network backend that resolves, checks and then dials a checked address.

    Without a policy in context (someone using the client directly) it applies the
    strictest policy: external, no configured host.
    """

    def __init__(self, allowed: tuple[IPNetwork, ...]) -> None:
        super().__init__()
        self._allowed = allowed

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        policy = current_policy.get() or HopPolicy(self._allowed, True, "")
        addresses = await resolve(host, port)
        policy.check(host, addresses)
        return await self._inner.connect_tcp(
            str(addresses[0]),
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )


class ProxyBackend(_TcpOnlyBackend):
    """Dials the configured proxy and nothing else.

    Support staff named the proxy in config.yaml, so it may sit on a private network
    without being in ``allow_networks``; what external sources ask it to reach is
    checked hop by hop in ``http.get`` before each request.
    """

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self.host, self.port = host, port

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if (host.strip("[]").lower(), port) != (self.host, self.port):
            raise BlockedAddress(f"refused to dial {host}:{port} through the proxy backend")
        where = f"{self.host}:{self.port}"
        try:
            return await self._inner.connect_tcp(host, port, timeout=timeout, local_address=local_address,
                                                  socket_options=socket_options)
        except httpcore.ConnectTimeout as exc:
            within = f" within {timeout:g} s" if timeout else ""
            raise ConnectionFailed(f"could not connect to the proxy at {where}{within}") from exc
        except (httpcore.ConnectError, OSError) as exc:
            raise ConnectionFailed(f"could not connect to the proxy at {where} (check fetch.proxy)") from exc
