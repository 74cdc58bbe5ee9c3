"""External sources through `fetch.proxy` (a corporate proxy); internal sources directly.

Every test runs a real proxy (tests/fetch/proxy.py) and real feed servers on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import trustme

from aggregator.config import load_config_text
from aggregator.errors import ConfigError
from aggregator.fetch import Fetcher
from aggregator.types import FetchResult
from tests.fetch.proxy import proxy_server
from tests.fetch.support import Server, free_port, https_server, settings, spec
from tests.helpers import feed_server

CREDENTIALS = "Basic " + base64.b64encode(b"feeds:s3cret-pw").decode()


def _fetch(url: str, *, visibility: str = "external", env: Mapping[str, str] | None = None,
           **overrides: Any) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(settings(**overrides), env=env or {}) as fetcher:
            return await fetcher.fetch(spec(url, visibility=visibility), etag=None, last_modified=None)

    return asyncio.run(go())


def test_an_external_http_source_goes_through_the_proxy() -> None:
    with feed_server().running() as feeds, proxy_server() as proxy:
        result = _fetch(feeds.base + "/feed/a.xml", proxy=proxy.url)
    assert result.status == "ok" and len(result.items) == 3
    assert proxy.seen == [("GET", feeds.base + "/feed/a.xml", None)]
    assert feeds.hits["/feed/a.xml"] == 1


def test_an_external_https_source_is_tunnelled_through_the_proxy(tmp_path: Any) -> None:
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with https_server(ca.issue_cert("127.0.0.1")) as base, proxy_server() as proxy:
        result = _fetch(base + "/feed.xml", proxy=proxy.url, ca_bundle=str(bundle))
    assert result.status == "ok", result.error
    assert [(method, target) for method, target, _ in proxy.seen] == [("CONNECT", base.removeprefix("https://"))]


def test_internal_sources_never_use_the_proxy() -> None:
    with feed_server().running() as feeds, proxy_server() as proxy:
        result = _fetch(feeds.base + "/feed/a.xml", visibility="internal", proxy=proxy.url)
    assert result.status == "ok" and proxy.seen == []


@pytest.mark.parametrize("tls", [False, True])
def test_proxy_credentials_come_from_the_environment_and_never_show(tls: bool, tmp_path: Any) -> None:
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    auth = {"username": "feeds", "password_env": "PROXY_PASSWORD"}
    with feed_server().running() as feeds, https_server(ca.issue_cert("127.0.0.1")) as secure, \
            proxy_server(credentials=CREDENTIALS) as proxy:
        url = (secure + "/feed.xml") if tls else (feeds.base + "/feed/a.xml")
        good = _fetch(url, proxy=proxy.url, proxy_auth=auth, ca_bundle=str(bundle),
                      env={"PROXY_PASSWORD": "s3cret-pw"})
        wrong = _fetch(url, proxy=proxy.url, proxy_auth=auth, ca_bundle=str(bundle),
                       env={"PROXY_PASSWORD": "not-it"})
        unset = _fetch(url, proxy=proxy.url, proxy_auth=auth, ca_bundle=str(bundle))
    assert good.status == "ok", good.error
    assert proxy.seen[0][2] == CREDENTIALS
    assert wrong.error == "the proxy asks for credentials (HTTP 407): check fetch.proxy_auth"
    assert unset.error == "environment variable PROXY_PASSWORD is not set (proxy password)"
    assert len(proxy.seen) == 2  # the unset password never reached the proxy
    for result in (wrong, unset):
        assert "s3cret" not in repr(result) and "not-it" not in repr(result)


def test_a_proxy_that_is_down_is_named() -> None:
    port = free_port()
    with feed_server().running() as feeds:
        result = _fetch(feeds.base + "/feed/a.xml", proxy=f"http://127.0.0.1:{port}")
    assert result.error == f"could not connect to the proxy at 127.0.0.1:{port} (check fetch.proxy)"


def test_targets_behind_the_proxy_are_still_checked(server: Server, intranet: Server) -> None:
    """The proxy may reach the intranet; an external source must not, directly or by redirect."""
    private = intranet.route("/feed.xml", body=b"<rss version='2.0'><channel><item><title>secret</title></item>"
                                               b"</channel></rss>")
    hop = server.route("/hop", status=302, headers={"Location": private})
    with proxy_server() as proxy:
        direct = _fetch(private, proxy=proxy.url)
        redirected = _fetch(hop, proxy=proxy.url)
    assert direct.error and direct.error.startswith("refused to connect to 127.0.0.2")
    assert redirected.error and redirected.error.startswith("refused to connect to 127.0.0.2")
    assert [target for _, target, _ in proxy.seen] == [hop]


@pytest.mark.parametrize(("fetch", "expected"), [
    ("{proxy: 'http://me:pw@proxy.example:3128'}", "put the proxy's credentials in proxy_auth"),
    ("{proxy: 'https://proxy.example:3128'}", "is not a proxy address: write it like http://proxy.example:3128"),
    ("{proxy: 'http://proxy.example:port'}", "has a port that is not a number"),
    ("{proxy_auth: {username: u, password_env: PROXY_PW}}", "proxy_auth needs 'proxy:'"),
    ("{proxy: 'http://proxy.example:3128', proxy_auth: {username: u, password_env: PROXY_PW}}",
     "environment variable PROXY_PW is not set"),
])
def test_check_explains_a_proxy_setting_it_cannot_use(fetch: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text(f"fetch: {fetch}\n", environ={})
    assert any(expected in str(problem) and "fetch.proxy" in str(problem) for problem in info.value.problems), \
        [str(p) for p in info.value.problems]


@contextmanager
def tinyproxy(folder: Path, port: int) -> Iterator[None]:
    """Debian's tinyproxy on 127.0.0.1:``port``, asking for the credentials of CREDENTIALS."""
    config = folder / "tinyproxy.conf"
    config.write_text(f"Port {port}\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 10\nMaxClients 10\n"
                      f"BasicAuth feeds s3cret-pw\nLogLevel Warning\nLogFile \"{folder / 'tinyproxy.log'}\"\n"
                      f"PidFile \"{folder / 'tinyproxy.pid'}\"\n")
    process = subprocess.Popen(["tinyproxy", "-d", "-c", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.skipif(shutil.which("tinyproxy") is None,
                    reason="Debian's tinyproxy is not installed (.ci/run installs it)")
def test_through_a_real_proxy_server(tmp_path: Path) -> None:
    """The same fetches through tinyproxy, a proxy other people wrote: http, and https tunnelled
    with credentials, the tunnel reused by the next fetch."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    port = free_port()
    auth = {"username": "feeds", "password_env": "PROXY_PASSWORD"}

    async def fetch_all(urls: list[str], **credentials: Any) -> list[tuple[str, str | None, int]]:
        async with Fetcher(settings(proxy=f"http://127.0.0.1:{port}", ca_bundle=str(bundle), **credentials),
                           env={"PROXY_PASSWORD": "s3cret-pw", "NOT_IT": "wrong"}) as fetcher:
            results = [await fetcher.fetch(spec(url), etag=None, last_modified=None) for url in urls]
        return [(r.status, r.error, len(r.items)) for r in results]

    with feed_server().running() as feeds, https_server(ca.issue_cert("127.0.0.1")) as secure, \
            tinyproxy(tmp_path, port):
        urls = [feeds.base + "/feed/a.xml", secure + "/feed.xml", secure + "/feed.xml"]
        outcomes = asyncio.run(fetch_all(urls, proxy_auth=auth))
        refused = asyncio.run(fetch_all(urls[:2]))  # no credentials: only the proxy can say no
        wrong = asyncio.run(fetch_all(urls[:2], proxy_auth={**auth, "password_env": "NOT_IT"}))
    assert outcomes == [("ok", None, 3)] * 3
    assert feeds.hits["/feed/a.xml"] == 1
    assert refused == [("error", "the proxy asks for credentials (HTTP 407): check fetch.proxy_auth", 0)] * 2
    # tinyproxy answers wrong credentials with 401, which on a plain-http fetch could be the site's too
    assert wrong == [
        ("error", "access denied (HTTP 401): check the source's credentials, or fetch.proxy_auth: this source "
                  "goes through fetch.proxy", 0),
        ("error", "the proxy asks for credentials (HTTP 407): check fetch.proxy_auth", 0)]
