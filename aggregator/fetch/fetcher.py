"""The Fetcher: one source in, one FetchResult out, never an exception for a bad source."""

from __future__ import annotations

import asyncio
import base64
import logging
import multiprocessing
import os
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from urllib.parse import urlsplit
from urllib.request import url2pathname

from aggregator.config.schema import FetchSettings
from aggregator.fetch import http
from aggregator.fetch.errors import (
    BlockedAddress,
    FetchError,
    ParseError,
    RateLimited,
    SourceSetupError,
    display_url,
    status_error,
)
from aggregator.fetch.netguard import HopPolicy, parse_networks
from aggregator.fetch.parse import ParsedDocument, parse_document
from aggregator.fetch.politeness import (
    ROBOTS_RETRY,
    ROBOTS_TTL,
    Clock,
    Politeness,
    RobotsEntry,
    parse_retry_after,
    parse_robots,
    robots_verdict,
    utc_now,
)
from aggregator.types import FetchResult, SourceSpec

logger = logging.getLogger(__name__)

ROBOTS_AGENT = "funnelfeed"
ROBOTS_MAX_BYTES = 500_000


class _Deferred(Exception):
    """The host's request budget is spent (or it asked us to wait) until ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__(until.isoformat())
        self.until = until


@dataclass(frozen=True)
class _Request:
    """Everything about one source's request that does not change between hops."""

    headers: dict[str, str]
    secret_headers: dict[str, str]
    secrets: tuple[str, ...]
    policy: HopPolicy
    proxied: bool = False  # through fetch.proxy (an external source when a proxy is set)


def _politeness_after(previous: Fetcher | None, settings: FetchSettings, clock: Clock) -> Politeness:
    """Politeness state for new settings: the previous Fetcher's, kept whole while its limits still hold.

    Otherwise a reload of config.yaml would hand every host a fresh request budget; with
    new limits only the robots.txt cache carries over.
    """
    limits = {"concurrency": settings.concurrency, "per_host": settings.per_host,
              "per_host_per_minute": settings.per_host_per_minute}
    if previous is not None and previous._politeness.limits == limits:
        return previous._politeness
    politeness = Politeness(**limits, clock=clock)
    if previous is not None:
        politeness.robots = previous._politeness.robots
    return politeness


class Fetcher:
    """Fetches sources politely and safely; owns one httpx.AsyncClient.

    ``clock`` (aware UTC ``now``) drives budgets, robots.txt expiry, Retry-After and
    date checks; ``env`` is where auth secrets are read (default ``os.environ``).
    ``previous``: the Fetcher this one replaces after a settings change; its per-host
    budgets and robots.txt cache carry over.
    Use ``async with Fetcher(settings) as f`` or call :meth:`aclose`.

    ``parse_workers``: parse and sanitise in that many worker processes (CPU work off the
    event loop and off the GIL; the pool starts at the first parse, or :meth:`start_workers`,
    and stops in :meth:`aclose`). 0 (the default) parses in a thread of this process.
    """

    def __init__(
        self,
        settings: FetchSettings,
        *,
        clock: Clock = utc_now,
        env: Mapping[str, str] | None = None,
        parse_workers: int = 0,
        previous: Fetcher | None = None,
    ) -> None:
        self._settings = settings
        self._parse_workers = parse_workers
        self._pool: ProcessPoolExecutor | None = None
        self._clock = clock
        self._env = os.environ if env is None else env
        self._allowed = parse_networks(settings.allow_networks)
        self._timeout = settings.timeout.total_seconds()
        proxy_authorization, self._proxy_secrets, self._proxy_problem = self._proxy_credentials()
        self._client = http.build_client(
            allowed=self._allowed,
            timeout=self._timeout,
            concurrency=settings.concurrency,
            contact=settings.contact,
            ca_bundle=settings.ca_bundle,
            proxy=http.proxy_route(settings.proxy, proxy_authorization),
        )
        self._politeness = _politeness_after(previous, settings, clock)

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client and its connections, and stop the parse workers."""
        await self._client.aclose()
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    def start_workers(self) -> None:
        """Start the parse worker processes now (they import the parsers once) and wait for them."""
        pool = self._parse_pool()
        if pool is not None:
            for future in [pool.submit(_warm) for _ in range(self._parse_workers)]:
                future.result()

    def _parse_pool(self) -> ProcessPoolExecutor | None:
        if self._parse_workers <= 0:
            return None
        if self._pool is None:
            # spawn, not fork: this process runs an event loop and threads.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self._parse_workers, mp_context=context)
        return self._pool

    async def fetch(
        self,
        spec: SourceSpec,
        *,
        etag: str | None,
        last_modified: str | None,
        previous_hash: str | None = None,
    ) -> FetchResult:
        """Fetch and parse one source; every failure is a ``status="error"`` result.

        ``etag``/``last_modified`` come from the last successful fetch (conditional GET:
        an unchanged source gives ``not_modified``). ``previous_hash`` is the content hash
        of a page watched as one item; an unchanged page also gives ``not_modified``.
        A spent per-host budget gives ``deferred`` with ``retry_after`` set.
        """
        started = time.monotonic()
        deadline = self._settings.deadline.total_seconds()
        secrets: tuple[str, ...] = ()
        try:
            request = self._request(spec, etag, last_modified)
            secrets = request.secrets
            async with asyncio.timeout(deadline):
                result = await self._fetch(spec, request, previous_hash)
        except _Deferred as deferred:
            result = FetchResult(spec.id, "deferred", retry_after=deferred.until)
        except TimeoutError:
            result = FetchResult(
                spec.id, "error", error=f"gave up: the fetch took longer than the {deadline:g} s deadline"
            )
        except RateLimited as exc:
            result = FetchResult(spec.id, "error", http_status=exc.status, error=str(exc), retry_after=exc.retry_after)
        except FetchError as exc:
            status = getattr(exc, "status", None)
            result = FetchResult(spec.id, "error", http_status=status, error=str(exc))
        if result.error:
            result = replace(result, error=_redact(result.error, secrets))
            logger.info("source %s failed: %s", spec.id, result.error)
        return replace(result, elapsed=time.monotonic() - started)

    def _request(self, spec: SourceSpec, etag: str | None, last_modified: str | None) -> _Request:
        headers = dict(spec.headers)
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        secret_headers, secrets = self._auth(spec)
        proxied = spec.visibility == "external" and bool(self._settings.proxy)  # external sources use the proxy
        if proxied:
            if self._proxy_problem:
                raise SourceSetupError(self._proxy_problem)
            secrets += self._proxy_secrets
        host = (urlsplit(spec.url).hostname or "").lower()
        policy = HopPolicy(self._allowed, spec.visibility == "external", host)
        return _Request(headers, secret_headers, secrets, policy, proxied)

    def _proxy_credentials(self) -> tuple[str | None, tuple[str, ...], str | None]:
        """(Proxy-Authorization value, secrets to redact, what is wrong) from ``fetch.proxy_auth``."""
        auth = self._settings.proxy_auth
        if auth is None or not self._settings.proxy:
            return None, (), None
        password = self._env.get(auth.password_env)
        if not password:
            return None, (), f"environment variable {auth.password_env} is not set (proxy password)"
        token = base64.b64encode(f"{auth.username}:{password}".encode()).decode()
        return f"Basic {token}", (password, token), None

    def _auth(self, spec: SourceSpec) -> tuple[dict[str, str], tuple[str, ...]]:
        """Auth headers from environment variables named in config; never the values in errors."""
        auth = spec.auth
        if auth is None:
            return {}, ()
        if auth.basic is not None:
            password = self._env.get(auth.basic.password_env)
            if not password:
                raise SourceSetupError(f"environment variable {auth.basic.password_env} is not set (source password)")
            token = base64.b64encode(f"{auth.basic.username}:{password}".encode()).decode()
            return {"Authorization": f"Basic {token}"}, (password, token)
        if auth.env:
            value = self._env.get(auth.env)
            if not value:
                raise SourceSetupError(f"environment variable {auth.env} is not set (source credential)")
            return {auth.header: f"{auth.prefix}{value}"}, (value,)
        raise SourceSetupError("auth needs either 'env' or 'basic' in config.yaml")

    async def _fetch(self, spec: SourceSpec, request: _Request, previous_hash: str | None) -> FetchResult:
        scheme = urlsplit(spec.url).scheme.lower()
        if scheme == "file":
            body = await asyncio.to_thread(self._read_file, spec)
            parsed = await self._parse(body, spec.url, None, spec)
            return self._ok(spec, parsed, spec.url, None, None, 200)
        host = (urlsplit(spec.url).hostname or "").lower()
        if spec.kind == "page" and spec.robots and not await self._robots_allow(spec.url, request.policy):
            entry = self._politeness.robots.get(_site(spec.url))
            if entry is not None and entry.reason:
                raise FetchError(f"{entry.reason}; the page is not fetched until robots.txt can be read "
                                 "(robots: false overrides, with permission)")
            raise FetchError("robots.txt asks robots not to fetch this page (robots: false overrides, with permission)")
        async with self._politeness.global_slots, self._politeness.host_slots(host):
            response = await self._get(spec.url, request, request.headers)
            if response.status == 304:
                return FetchResult(
                    spec.id,
                    "not_modified",
                    http_status=304,
                    etag=response.headers.get("etag") or request.headers.get("If-None-Match"),
                    last_modified=response.headers.get("last-modified") or request.headers.get("If-Modified-Since"),
                    final_url=response.url,
                )
            self._check_status(response, proxied=request.proxied)
            content_type = response.headers.get("content-type")
            parsed = await self._parse(response.body, response.url, content_type, spec)
            if parsed.feed_url:
                return await self._discovered(spec, request, parsed.feed_url)
        if previous_hash and len(parsed.items) == 1 and parsed.items[0].content_hash == previous_hash:
            return FetchResult(spec.id, "not_modified", http_status=response.status, final_url=response.url)
        if response.moved_to:
            note = f"moved permanently to {display_url(response.moved_to)}: update the source's url in config.yaml"
            parsed = replace(parsed, notes=(note, *parsed.notes))
        return self._ok(
            spec,
            parsed,
            response.url,
            response.headers.get("etag"),
            response.headers.get("last-modified"),
            response.status,
        )

    async def _discovered(self, spec: SourceSpec, request: _Request, feed_url: str) -> FetchResult:
        """Fetch the feed a page links to. No validators are returned: they would be the page's."""
        plain = {k: v for k, v in request.headers.items() if k not in ("If-None-Match", "If-Modified-Since")}
        try:
            response = await self._get(feed_url, request, plain)
            self._check_status(response, proxied=request.proxied)
            feed_spec = replace(spec, kind="feed", url=feed_url)
            content_type = response.headers.get("content-type")
            parsed = await self._parse(response.body, response.url, content_type, feed_spec)
        except FetchError as exc:
            # The page itself was fine: say so, or support staff look for the fault in the wrong place.
            exc.reword(f"the page links to its feed at {display_url(feed_url)}, which failed: {exc.message}")
            raise
        return self._ok(spec, parsed, response.url, None, None, response.status)

    async def _parse(self, body: bytes, url: str, content_type: str | None, spec: SourceSpec) -> ParsedDocument:
        """Parse off the event loop: in a worker process when there are any, else in a thread."""
        now = self._clock()
        call = partial(parse_document, body, url=url, content_type=content_type, spec=spec, now=now)
        pool = self._parse_pool()
        if pool is None:
            return await asyncio.to_thread(call)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(pool, call)
        except BrokenProcessPool:
            self._discard_pool(pool)
        # A parse process died (killed, out of memory, a crash in a C parser), perhaps on this
        # document, perhaps on another parsed at the same time: all of them fail together.
        # Each tries once more in a fresh pool, so only a document that kills it again fails.
        pool = self._parse_pool()
        assert pool is not None
        try:
            return await loop.run_in_executor(pool, call)
        except BrokenProcessPool:
            self._discard_pool(pool)
            raise ParseError("the parsing process died on this document twice (killed, out of memory or "
                             "crashed); it is tried again at the next fetch") from None

    def _discard_pool(self, pool: ProcessPoolExecutor) -> None:
        """Forget a broken pool (once, however many parses saw it break); the next parse starts a new one."""
        if self._pool is pool:
            logger.warning("a parsing process died; starting new parsing processes")
            self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)

    async def _get(self, url: str, request: _Request, headers: Mapping[str, str]) -> http.Response:
        return await http.get(
            self._client,
            url,
            headers=headers,
            secret_headers=request.secret_headers,
            policy=request.policy,
            max_bytes=self._settings.max_bytes,
            max_redirects=self._settings.max_redirects,
            timeout=self._timeout,
            before_request=self._spend,
        )

    async def _spend(self, host: str) -> None:
        later = self._politeness.take(host)
        if later is not None:
            raise _Deferred(later)

    def _check_status(self, response: http.Response, *, proxied: bool = False) -> None:
        if response.status < 400:
            return
        retry_after = None
        if response.status in (429, 503):
            retry_after = parse_retry_after(response.headers.get("retry-after"), self._clock())
            if retry_after is not None:
                self._politeness.block((urlsplit(response.url).hostname or "").lower(), retry_after)
        error = status_error(response.status, retry_after)
        if proxied and response.status == 401:
            # Some proxies (tinyproxy) answer wrong proxy credentials with 401, not 407.
            error.reword(f"{error.message}, or fetch.proxy_auth: this source goes through fetch.proxy")
        raise error

    def _ok(
        self,
        spec: SourceSpec,
        parsed: ParsedDocument,
        url: str,
        etag: str | None,
        modified: str | None,
        status: int,
    ) -> FetchResult:
        if parsed.skipped:
            logger.warning("source %s: skipped %d bad rows", spec.id, parsed.skipped)
        return FetchResult(
            spec.id,
            "ok",
            items=parsed.items,
            http_status=status,
            etag=etag,
            last_modified=modified,
            final_url=url,
            feed_title=parsed.feed_title,
            notes=parsed.notes,
        )

    def _read_file(self, spec: SourceSpec) -> bytes:
        """A local export; only internal sources may read the disk (it is never "external")."""
        if spec.visibility != "internal":
            raise SourceSetupError("file:// sources must be internal (set visibility: internal)")
        path = url2pathname(urlsplit(spec.url).path)
        try:
            with open(path, "rb") as handle:
                body = handle.read(self._settings.max_bytes + 1)
        except FileNotFoundError:
            raise SourceSetupError(f"the file {path} does not exist") from None
        except IsADirectoryError:
            raise SourceSetupError(f"{path} is a directory, not a file") from None
        except PermissionError:
            raise SourceSetupError(f"no permission to read {path}") from None
        if len(body) > self._settings.max_bytes:
            raise FetchError(f"the file is larger than the {self._settings.max_bytes:,} byte limit")
        return body

    async def _robots_allow(self, url: str, policy: HopPolicy) -> bool:
        """RFC 9309: 4xx means no rules; 5xx or unreachable means disallow for a while."""
        site = _site(url)
        now = self._clock()
        entry = self._politeness.robots.get(site)
        if entry is None or entry.expires <= now:
            entry = await self._load_robots(site, policy, now)
            self._politeness.robots[site] = entry
        return robots_verdict(entry, url, ROBOTS_AGENT)

    async def _load_robots(self, site: str, policy: HopPolicy, now: datetime) -> RobotsEntry:
        try:
            response = await http.get(
                self._client,
                f"{site}/robots.txt",
                headers={},
                secret_headers={},
                policy=policy,
                max_bytes=ROBOTS_MAX_BYTES,
                max_redirects=self._settings.max_redirects,
                timeout=self._timeout,
                before_request=self._spend,
            )
        except (BlockedAddress, SourceSetupError):
            raise
        except FetchError as exc:
            logger.info("robots.txt of %s unavailable: %s", display_url(site), exc)
            return RobotsEntry(None, now + ROBOTS_RETRY, disallow_all=True,
                               reason=f"robots.txt could not be fetched ({exc})")
        if response.status == 200:
            return RobotsEntry(parse_robots(response.body.decode("utf-8", "replace")), now + ROBOTS_TTL)
        if 400 <= response.status < 500:
            return RobotsEntry(None, now + ROBOTS_TTL)
        return RobotsEntry(None, now + ROBOTS_RETRY, disallow_all=True,
                           reason=f"robots.txt answered HTTP {response.status}")


def _warm() -> None:
    """Runs in each new worker: the parsers are imported with the module; nothing else to do."""


def _redact(message: str, secrets: tuple[str, ...]) -> str:
    """Belt and braces: no secret value may survive into a message, whatever built it."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "[secret]")
    return message


def _site(url: str) -> str:
    """scheme://host[:port] of a URL, without credentials: the key of its robots.txt."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
