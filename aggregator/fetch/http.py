"""The HTTP edge: one guarded httpx client, manual redirects, capped streaming bodies.

httpx never decompresses for us: we ask for ``gzip, deflate`` (and ``br`` when the
brotli package is installed) and decode the raw stream ourselves with an output cap,
so a small compressed "bomb" is cut off at ``max_bytes`` of *decompressed* data.
Redirects are followed by hand so netguard sees every hop, and credentials are sent
only to the origin written in the source's URL.
"""

from __future__ import annotations

import ssl
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from aggregator.fetch.errors import (
    DecodingError,
    FetchError,
    RedirectError,
    ResponseTooLarge,
    SourceSetupError,
    display_url,
    map_httpx_error,
)
from aggregator.fetch.netguard import GuardedBackend, HopPolicy, IPNetwork, ProxyBackend, current_policy, resolve
from aggregator.fetch.pool import LeanPool, ProxyRoute

try:  # optional: only advertise br when we can decode it with a bounded output buffer
    import brotli

    _HAVE_BROTLI = hasattr(brotli.Decompressor(), "can_accept_more_data")
except ImportError:  # pragma: no cover - depends on the environment
    _HAVE_BROTLI = False

ACCEPT_ENCODING = "gzip, deflate, br" if _HAVE_BROTLI else "gzip, deflate"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, text/csv;q=0.8, "
    "text/html;q=0.7, */*;q=0.5"
)
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECT_CODES = frozenset({301, 308})
MAX_ENCODINGS = 3


def user_agent(contact: str) -> str:
    """``funnelfeed/<version> (+contact)``: tells site owners who we are and how to reach us."""
    try:
        version = metadata.version("funnelfeed")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        version = "0"
    return f"funnelfeed/{version} (+{contact})"


class _Decoder(Protocol):
    def decode(self, data: bytes, limit: int) -> bytes: ...
    def finish(self) -> None: ...


def _too_large(limit: int) -> ResponseTooLarge:
    return ResponseTooLarge(f"the response is larger than the {limit:,} byte limit once decompressed")


class _Identity:
    def decode(self, data: bytes, limit: int) -> bytes:
        if len(data) > limit:
            raise ResponseTooLarge("the response is larger than the limit")
        return data

    def finish(self) -> None:
        return None


class _Zlib:
    """gzip (possibly multi-member) or deflate (zlib-wrapped or, as some servers send, raw)."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._wbits = 31 if gzip else 15
        self._d = zlib.decompressobj(self._wbits)
        self._started = False

    def decode(self, data: bytes, limit: int) -> bytes:
        out = bytearray()
        while data:
            try:
                chunk = self._d.decompress(data, limit - len(out) + 1)
            except zlib.error:
                if self._gzip or self._started:
                    raise
                self._wbits = -15  # raw deflate without the zlib header
                self._d = zlib.decompressobj(self._wbits)
                chunk = self._d.decompress(data, limit - len(out) + 1)
            self._started = True
            out += chunk
            if len(out) > limit:
                raise ResponseTooLarge("decompressed body over the limit")
            if self._d.eof:
                data = self._d.unused_data
                if not (self._gzip and data.startswith(b"\x1f\x8b")):
                    break  # trailing junk after the stream is ignored, as browsers do
                self._d = zlib.decompressobj(self._wbits)
            else:
                data = self._d.unconsumed_tail
        return bytes(out)

    def finish(self) -> None:
        if self._started and not self._d.eof:
            raise DecodingError("the compressed body was cut short")


class _Brotli:
    def __init__(self) -> None:
        self._d = brotli.Decompressor()

    def decode(self, data: bytes, limit: int) -> bytes:
        out = bytearray(self._d.process(data, output_buffer_limit=limit + 1))
        while len(out) <= limit and not self._d.can_accept_more_data():
            out += self._d.process(b"", output_buffer_limit=limit - len(out) + 1)
        if len(out) > limit:
            raise ResponseTooLarge("decompressed body over the limit")
        return bytes(out)

    def finish(self) -> None:
        if not self._d.is_finished():
            raise DecodingError("the compressed body was cut short")


def _decoders(content_encoding: str | None) -> list[_Decoder]:
    """Decoders in the order they must be applied (reverse of the header's order)."""
    names = [n.strip().lower() for n in (content_encoding or "").split(",") if n.strip()]
    names = [n for n in names if n != "identity"]
    if len(names) > MAX_ENCODINGS:
        raise DecodingError("the response is compressed too many times over")
    decoders: list[_Decoder] = []
    for name in reversed(names):
        if name in ("gzip", "x-gzip"):
            decoders.append(_Zlib(gzip=True))
        elif name == "deflate":
            decoders.append(_Zlib(gzip=False))
        elif name == "br" and _HAVE_BROTLI:
            decoders.append(_Brotli())
        else:
            raise DecodingError(f"the server used a compression we do not support ({name[:20]!r})")
    return decoders or [_Identity()]


@dataclass(frozen=True)
class Response:
    """A finished HTTP exchange: the final status, headers, decoded body and URL."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: str
    moved_to: str | None = None  # the final URL, when every redirect on the way was permanent (301/308)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx transport whose connections are opened through netguard's GuardedBackend."""

    def __init__(self, allowed: tuple[IPNetwork, ...], limits: httpx.Limits, ca_bundle: str | None,
                 proxy: ProxyRoute | None) -> None:
        super().__init__(limits=limits, trust_env=False)
        # httpx has no public hook for the pool or the network backend, so its pool is
        # replaced by ours (see aggregator.fetch.pool for why not httpcore's).
        self._pool = LeanPool(  # type: ignore[assignment]
            ssl_context=ssl_context(ca_bundle),
            network_backend=GuardedBackend(allowed),
            max_idle=limits.max_keepalive_connections or 0,
            keepalive_expiry=limits.keepalive_expiry,
            proxy=proxy,
        )


def proxy_route(proxy: str | None, authorization: str | None = None) -> ProxyRoute | None:
    """The route through ``fetch.proxy`` (``http://host:port``), with its Proxy-Authorization value if any."""
    if not proxy:
        return None
    parts = urlsplit(proxy)
    host, port = (parts.hostname or "").lower(), parts.port or 80
    headers = [(b"Proxy-Authorization", authorization.encode("latin-1"))] if authorization else []
    return ProxyRoute(httpcore.Origin(b"http", host.encode("idna"), port), headers, ProxyBackend(host, port))


def ssl_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """The public CAs httpx trusts (certifi's), plus those in ``ca_bundle`` (an intranet's own CA).

    Environment variables such as SSL_CERT_FILE are ignored on purpose: what is trusted
    is written in config.yaml, where support staff can see it.
    """
    context = httpx.create_ssl_context(trust_env=False)
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


def build_client(
    *, allowed: tuple[IPNetwork, ...], timeout: float, concurrency: int, contact: str, ca_bundle: str | None = None,
    proxy: ProxyRoute | None = None,
) -> httpx.AsyncClient:
    """The one AsyncClient a Fetcher owns: no env proxies (only ``fetch.proxy``), no auto-redirects, our timeouts."""
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(
        transport=_GuardedTransport(allowed, limits, ca_bundle, proxy),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": user_agent(contact), "Accept-Encoding": ACCEPT_ENCODING, "Accept": ACCEPT},
    )


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return (parts.scheme, (parts.hostname or "").lower(), parts.port)


async def read_body(response: httpx.Response, max_bytes: int) -> bytes:
    """Stream the body, decompressing it ourselves, refusing anything over ``max_bytes``."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(f"the response is larger than the {max_bytes:,} byte limit")
    decoders = _decoders(response.headers.get("content-encoding"))
    body = bytearray()
    received = 0
    try:
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if received > max_bytes:
                raise ResponseTooLarge(f"the response is larger than the {max_bytes:,} byte limit")
            for decoder in decoders:
                chunk = decoder.decode(chunk, max_bytes - len(body))
            body += chunk
        for decoder in decoders:
            decoder.finish()
    except ResponseTooLarge:
        raise _too_large(max_bytes) from None
    except zlib.error as exc:
        raise DecodingError("the server sent a corrupt compressed body") from exc
    except Exception as exc:  # brotli.error has no importable base when brotli is absent
        if _HAVE_BROTLI and isinstance(exc, brotli.error):
            raise DecodingError("the server sent a corrupt compressed body") from exc
        raise
    return _unwrap_stray_gzip(bytes(body), max_bytes)


_GZIP_MAGIC = b"\x1f\x8b\x08"  # gzip, deflate method: no text format we read starts with these bytes


def _unwrap_stray_gzip(body: bytes, max_bytes: int) -> bytes:
    """A body still gzipped after its declared encodings (a .gz file served as XML, or gzipped twice), unwrapped.

    Bounded like every decompression; a body that only looks like gzip is returned as it came, and the
    parser then says what it is.
    """
    if not body.startswith(_GZIP_MAGIC):
        return body
    decoder = _Zlib(gzip=True)
    try:
        plain = decoder.decode(body, max_bytes)
        decoder.finish()
    except ResponseTooLarge:
        raise _too_large(max_bytes) from None
    except (zlib.error, DecodingError):
        return body
    return plain


async def get(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: Mapping[str, str],
    secret_headers: Mapping[str, str],
    policy: HopPolicy,
    max_bytes: int,
    max_redirects: int,
    timeout: float,
    before_request: Callable[[str], Awaitable[None]] | None = None,
) -> Response:
    """GET ``url`` following at most ``max_redirects`` redirects, each hop checked by netguard.

    ``secret_headers`` (auth) go only to the origin of ``url``. Bodies of error
    statuses and of 304 are not read. Raises a FetchError subclass on any failure.
    """
    origin = _origin(url)
    seen = {url}
    hops = 0
    all_permanent = True
    while True:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourceSetupError(f"cannot fetch {display_url(url)}: only http and https URLs are supported")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        policy.check(parts.hostname, await resolve(parts.hostname, port))
        if before_request is not None:
            await before_request(parts.hostname.lower())
        hop_headers = dict(headers)
        if _origin(url) == origin:
            hop_headers.update(secret_headers)
        token = current_policy.set(policy)
        try:
            request = client.build_request("GET", url, headers=hop_headers)
            response = await client.send(request, stream=True)
        except (httpx.HTTPError, OSError) as exc:
            raise map_httpx_error(exc, timeout=timeout) from exc
        finally:
            current_policy.reset(token)
        try:
            location = response.headers.get("location")
            if response.status_code in REDIRECT_CODES and location:
                hops += 1
                all_permanent = all_permanent and response.status_code in PERMANENT_REDIRECT_CODES
                if hops > max_redirects:
                    raise RedirectError(f"gave up after {max_redirects} redirects")
                try:
                    target = urljoin(url, location.strip())
                except ValueError as exc:
                    raise RedirectError("the server redirected to an invalid address") from exc
                if urlsplit(target).scheme not in ("http", "https"):
                    raise RedirectError("the server redirected to a non-web address")
                if target in seen:
                    raise RedirectError(f"redirect loop: {display_url(target)} was already visited")
                seen.add(target)
                url = target
                await _drain(response)
                continue
            body = b""
            if response.status_code < 300 and response.status_code != 204:
                try:
                    body = await read_body(response, max_bytes)
                except FetchError:
                    raise
                except (httpx.HTTPError, OSError) as exc:
                    raise map_httpx_error(exc, timeout=timeout) from exc
            else:
                await _drain(response)
            moved_to = url if hops and all_permanent else None
            return Response(response.status_code, response.headers, body, url, moved_to)
        finally:
            await response.aclose()


DRAIN_BYTES = 64_000


async def _drain(response: httpx.Response) -> None:
    """Read (and drop) a small unused body, so the connection goes back to the pool.

    httpcore closes a connection whose response was not read to its end; a 304 pass
    would otherwise open and close one connection per source. A large or broken body
    is not worth it: the connection is simply closed.
    """
    received = 0
    try:
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if received > DRAIN_BYTES:
                return
    except (httpx.HTTPError, OSError):
        return
