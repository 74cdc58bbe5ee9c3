"""One exception tree for fetching; foreign exceptions are translated here, once.

    FetchError                 any reason a source could not be fetched or parsed
     ├── FetchTimeout          connect/read timeout or the hard per-fetch deadline
     ├── ResponseTooLarge      body (or decompressed body) over fetch.max_bytes
     ├── BlockedAddress        netguard refused an address (private network, redirect into intranet)
     ├── RedirectError         too many redirects, a loop, a bad Location header
     ├── ConnectionFailed      DNS failure, refused or reset connection, TLS problems
     ├── DecodingError         broken or unsupported Content-Encoding
     ├── HTTPStatusError       4xx/5xx answers
     │    └── RateLimited      429/503, carrying when the server allows us back
     ├── SourceSetupError      the source's configuration cannot work (missing env var, bad scheme)
     └── ParseError            the body is not what the source kind expects
          └── NotAFeed         HTML, garbage or empty body where a feed was expected

Messages are plain language for support staff and never contain secret values: they
are built here from fixed text plus non-secret facts (status, limits, host names).
"""

from __future__ import annotations

import ssl
import zlib
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import httpx


class FetchError(Exception):
    """A source could not be fetched or parsed; ``str(err)`` is the plain-language message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def reword(self, message: str) -> None:
        """Replace the message (to add where the failure happened) and keep ``args`` in step with it."""
        self.message = message
        self.args = (message,)

    def __str__(self) -> str:
        return self.message


class FetchTimeout(FetchError):
    """The server was too slow: connect/read timeout or total deadline."""


class ResponseTooLarge(FetchError):
    """The body, before or after decompression, exceeded ``max_bytes``."""


class BlockedAddress(FetchError):
    """A resolved address is not one this source may reach."""


class RedirectError(FetchError):
    """Redirects could not be followed safely."""


class ConnectionFailed(FetchError):
    """The server could not be reached."""


class DecodingError(FetchError):
    """The Content-Encoding was broken or unsupported."""


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(HTTPStatusError):
    """The server asked us to come back later (429/503)."""

    def __init__(self, message: str, status: int, retry_after: datetime | None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class SourceSetupError(FetchError, ValueError):
    """The source's own configuration cannot work; fixing config.yaml or the environment helps."""


class ParseError(FetchError, ValueError):
    """The body is not what the source kind expects."""


class NotAFeed(ParseError):
    """HTML, garbage or an empty body where a feed was expected."""


def display_url(url: str) -> str:
    """The URL without user:password and query string, safe for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _seconds(value: float) -> str:
    return f"{value:g} s"


_UNKNOWN_ISSUER = ("unable to get local issuer certificate", "self-signed certificate", "self signed certificate")


def _cert_verification_error(exc: BaseException) -> ConnectionFailed | None:
    """A failed certificate check (httpx wraps ssl's error), with OpenSSL's reason and what to do."""
    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, ssl.SSLCertVerificationError):
        seen = seen.__cause__ or seen.__context__
    if seen is None:
        return None
    reason = (seen.verify_message or "").strip().rstrip(".")
    message = "the server's TLS certificate could not be verified"
    if reason:
        message += f" ({reason})"
    if reason.lower().startswith(_UNKNOWN_ISSUER):
        message += ("; if it is signed by your organisation's own CA, name that CA's PEM file in "
                    "config.yaml as fetch: {ca_bundle: PATH}")
    return ConnectionFailed(message)


def map_httpx_error(exc: Exception, *, timeout: float) -> FetchError:
    """Translate an httpx/ssl/zlib exception into a FetchError with a plain message.

    Only errors caused by the remote side are translated; programming errors are not
    passed in here and propagate as bugs.
    """
    if isinstance(exc, FetchError):
        return exc
    if isinstance(exc, httpx.ConnectTimeout):
        return FetchTimeout(f"could not connect within {_seconds(timeout)}")
    if isinstance(exc, httpx.ReadTimeout):
        return FetchTimeout(f"the server sent nothing for {_seconds(timeout)}")
    if isinstance(exc, httpx.TimeoutException):
        return FetchTimeout(f"the server did not respond within {_seconds(timeout)}")
    verification = _cert_verification_error(exc)
    if verification is not None:
        return verification
    if isinstance(exc, ssl.SSLError):
        return ConnectionFailed("the TLS handshake with the server failed")
    if isinstance(exc, httpx.ProxyError):  # the proxy answered CONNECT with an error status
        reason = str(exc).strip()
        if reason.startswith(("407", "401")):  # tinyproxy answers wrong credentials with 401
            return ConnectionFailed("the proxy asks for credentials (HTTP 407): check fetch.proxy_auth")
        return ConnectionFailed(f"the proxy would not connect us to the site (HTTP {reason})")
    if isinstance(exc, httpx.ConnectError):
        cause = str(exc).lower()
        if "certificate" in cause:
            return ConnectionFailed("the server's TLS certificate could not be verified")
        if "name or service" in cause or "nodename" in cause or "getaddrinfo" in cause:
            return ConnectionFailed("the host name could not be resolved")
        if "refused" in cause:
            return ConnectionFailed("the server refused the connection")
        return ConnectionFailed("could not connect to the server")
    if isinstance(exc, httpx.RemoteProtocolError):
        return ConnectionFailed("the server broke the HTTP protocol or closed the connection early")
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.NetworkError):
        return ConnectionFailed("the connection to the server was lost")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return SourceSetupError("the URL cannot be fetched (only http and https are supported)")
    if isinstance(exc, httpx.DecodingError | zlib.error):
        return DecodingError("the server sent a corrupt compressed body")
    if isinstance(exc, httpx.HTTPError):
        return ConnectionFailed("the HTTP request failed")
    if isinstance(exc, OSError):
        return ConnectionFailed("could not connect to the server")
    raise TypeError(f"not a network error: {exc!r}") from exc


def status_error(status: int, retry_after: datetime | None = None) -> HTTPStatusError:
    """The plain-language error for an HTTP error status."""
    if status in (429, 503):
        when = f"; retry after {retry_after:%Y-%m-%d %H:%M} UTC" if retry_after else ""
        reason = "too many requests" if status == 429 else "service unavailable"
        return RateLimited(f"the server asked us to slow down ({reason}, HTTP {status}){when}", status, retry_after)
    messages = {
        400: "the server rejected the request (HTTP 400)",
        401: "access denied (HTTP 401): check the source's credentials",
        403: "access forbidden (HTTP 403): check the source's credentials or whether it blocks us",
        404: "not found (HTTP 404): check the URL",
        407: "the proxy asks for credentials (HTTP 407): check fetch.proxy_auth",
        410: "gone (HTTP 410): the source was removed; consider disabling it",
    }
    if status in messages:
        return HTTPStatusError(messages[status], status)
    if status >= 500:
        return HTTPStatusError(f"the server had an error (HTTP {status})", status)
    return HTTPStatusError(f"unexpected HTTP status {status}", status)
