"""Every hostile or broken server ends in a clear error within the deadline, never a hang."""

from __future__ import annotations

import gzip
import json
import time
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import brotli
import pytest

from aggregator.config.schema import AuthConfig, BasicAuth
from aggregator.fetch import Fetcher
from aggregator.types import FetchResult
from tests.fetch.support import FakeClock, Request, Server, SilentServer, drip, settings, spec

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Acme news</title><link>http://127.0.0.1/</link>
<item><title>Acme raises Series B</title><link>http://127.0.0.1/a?utm_source=x</link>
<guid>acme-1</guid><pubDate>Sat, 01 Mar 2025 10:00:00 GMT</pubDate><description>Funding</description></item>
</channel></rss>"""


async def fetch(url: str, clock: FakeClock | None = None, **kw: Any) -> FetchResult:
    source = spec(url, **{k: v for k, v in kw.items() if k in ("kind", "visibility", "auth", "robots")})
    overrides = {k: v for k, v in kw.items() if k not in ("kind", "visibility", "auth", "robots", "env")}
    async with Fetcher(settings(**overrides), clock=clock or FakeClock(), env=kw.get("env", {})) as f:
        return await f.fetch(source, etag=None, last_modified=None)


def assert_error(result: FetchResult, *words: str) -> None:
    assert result.status == "error", result
    for word in words:
        assert word in (result.error or ""), result.error


async def test_ok_feed(server: Server) -> None:
    url = server.route("/feed", body=RSS, headers={"Content-Type": "application/rss+xml", "ETag": '"v1"'})
    result = await fetch(url)
    assert result.status == "ok", result.error
    assert result.feed_title == "Acme news"
    assert result.etag == '"v1"'
    [item] = result.items
    assert item.key == "acme-1" and item.title == "Acme raises Series B"
    ua = server.log[0][1]["User-Agent"]
    assert ua.startswith("funnelfeed/") and "(+ops@example.com)" in ua


async def test_slow_drip_hits_deadline(server: Server) -> None:
    server.routes["/feed"] = lambda req: drip(req, b"<", 0.1)
    started = time.monotonic()
    result = await fetch(server.url("/feed"), deadline=1)
    assert_error(result, "deadline")
    assert time.monotonic() - started < 2.5


async def test_silent_server_times_out(silent: SilentServer) -> None:
    started = time.monotonic()
    result = await fetch(silent.url.replace("/feed", "/x"), timeout=0.3)
    assert_error(result, "sent nothing")
    assert time.monotonic() - started < 2


async def test_endless_body_is_cut(server: Server) -> None:
    server.routes["/feed"] = lambda req: drip(req, b"x" * 65536, 0, limit_s=5)
    result = await fetch(server.url("/feed"), max_bytes=300_000)
    assert_error(result, "larger than", "300,000")


async def test_declared_length_over_limit(server: Server) -> None:
    url = server.route("/feed", body=b"x" * 2000, headers={"Content-Length": "2000"})
    assert_error(await fetch(url, max_bytes=1000), "larger than")


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "gzip, gzip"])
async def test_compression_bombs_are_cut(server: Server, encoding: str) -> None:
    zeros = b"\0" * 20_000_000
    layers = {
        "gzip": gzip.compress(zeros, 9),
        "deflate": zlib.compress(zeros, 9),
        "br": brotli.compress(zeros, quality=5),
        "gzip, gzip": gzip.compress(gzip.compress(zeros, 9), 9),
    }
    url = server.route("/feed", body=layers[encoding], headers={"Content-Encoding": encoding})
    result = await fetch(url, max_bytes=1_000_000)
    assert_error(result, "decompressed")


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
async def test_compressed_feed_is_decoded(server: Server, encoding: str) -> None:
    body = {"gzip": gzip.compress(RSS), "deflate": zlib.compress(RSS), "br": brotli.compress(RSS)}[encoding]
    url = server.route("/feed", body=body, headers={"Content-Encoding": encoding})
    result = await fetch(url)
    assert result.status == "ok", result.error
    assert len(result.items) == 1


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (gzip.compress(RSS), {"Content-Type": "application/xml"}),  # a .gz file served as XML, no encoding said
        (gzip.compress(gzip.compress(RSS)), {"Content-Encoding": "gzip"}),  # gzipped twice, once declared
    ],
)
async def test_stray_gzip_is_unwrapped(server: Server, body: bytes, headers: dict[str, str]) -> None:
    url = server.route("/feed", body=body, headers=headers)
    result = await fetch(url)
    assert result.status == "ok", result.error
    assert [i.title for i in result.items] == ["Acme raises Series B"]


async def test_stray_gzip_bomb_is_cut_and_fake_gzip_is_not_a_feed(server: Server) -> None:
    bomb = server.route("/bomb", body=gzip.compress(b"\0" * 20_000_000, 9))  # no Content-Encoding
    assert_error(await fetch(bomb, max_bytes=1_000_000), "decompressed")
    fake = server.route("/fake", body=b"\x1f\x8b\x08\x00garbage-here")
    assert_error(await fetch(fake), "not a feed")


async def test_corrupt_gzip(server: Server) -> None:
    url = server.route("/feed", body=b"\x1f\x8b\x08\x00garbage-here", headers={"Content-Encoding": "gzip"})
    assert_error(await fetch(url), "corrupt")


async def test_redirect_loop(server: Server) -> None:
    server.route("/a", 302, headers={"Location": "/b"})
    server.route("/b", 302, headers={"Location": "/a"})
    assert_error(await fetch(server.url("/a")), "redirect loop")


async def test_too_many_redirects(server: Server) -> None:
    for i in range(6):
        server.route(f"/r{i}", 301, headers={"Location": f"/r{i + 1}"})
    assert_error(await fetch(server.url("/r0"), max_redirects=3), "gave up after 3 redirects")


async def test_redirect_followed_and_final_url(server: Server) -> None:
    server.route("/old", 301, headers={"Location": "/new"})
    server.route("/new", body=RSS)
    result = await fetch(server.url("/old"))
    assert result.status == "ok" and result.final_url == server.url("/new")


async def test_redirect_to_private_host_refused(server: Server, intranet: Server) -> None:
    intranet.route("/secret", body=RSS)
    server.route("/go", 302, headers={"Location": intranet.url("/secret")})
    result = await fetch(server.url("/go"))
    assert_error(result, "127.0.0.2", "private")
    assert intranet.log == []  # never dialled


async def test_external_redirect_into_allowed_intranet_refused(server: Server, intranet: Server) -> None:
    intranet.route("/secret", body=RSS)
    server.route("/go", 302, headers={"Location": intranet.url("/secret")})
    allow = ["127.0.0.1/32", "127.0.0.2/32"]
    result = await fetch(server.url("/go"), allow_networks=allow)
    assert_error(result, "external source was redirected into a private network")
    assert intranet.log == []
    internal = await fetch(server.url("/go"), allow_networks=allow, visibility="internal")
    assert internal.status == "ok", internal.error


async def test_private_address_refused_without_allow(intranet: Server) -> None:
    url = intranet.route("/feed", body=RSS)
    assert_error(await fetch(url), "fetch.allow_networks")
    assert intranet.log == []


@pytest.mark.parametrize(
    ("status", "words"),
    [(404, "not found"), (410, "gone"), (500, "server had an error"), (401, "credentials"), (403, "forbidden")],
)
async def test_error_statuses(server: Server, status: int, words: str) -> None:
    url = server.route("/feed", status, body=b"<html>nope</html>")
    result = await fetch(url)
    assert_error(result, words, str(status))
    assert result.http_status == status


async def test_429_retry_after_then_deferred(server: Server, clock: FakeClock) -> None:
    url = server.route("/feed", 429, headers={"Retry-After": "120"})
    async with Fetcher(settings(), clock=clock) as f:
        first = await f.fetch(spec(url), etag=None, last_modified=None)
        assert_error(first, "slow down", "429")
        assert first.retry_after == clock.now + timedelta(seconds=120)
        second = await f.fetch(spec(url), etag=None, last_modified=None)
        assert second.status == "deferred" and second.retry_after == first.retry_after
        clock.advance(121)
        server.route("/feed", body=RSS)
        third = await f.fetch(spec(url), etag=None, last_modified=None)
        assert third.status == "ok"


async def test_per_host_budget_defers(server: Server, clock: FakeClock) -> None:
    url = server.route("/feed", body=RSS)
    async with Fetcher(settings(per_host_per_minute=2), clock=clock) as f:
        results = [await f.fetch(spec(url), etag=None, last_modified=None) for _ in range(3)]
        assert [r.status for r in results] == ["ok", "ok", "deferred"]
        assert results[2].retry_after == clock.now + timedelta(minutes=1)
        clock.advance(61)
        assert (await f.fetch(spec(url), etag=None, last_modified=None)).status == "ok"
    assert len(server.log) == 3


async def test_conditional_get_304(server: Server) -> None:
    def handler(req: Request) -> None:
        if req.headers.get("If-None-Match") == '"v1"':
            req.reply(304, headers={"ETag": '"v1"'})
        else:
            req.reply(200, RSS, {"ETag": '"v1"', "Last-Modified": "Sat, 01 Mar 2025 10:00:00 GMT"})

    server.routes["/feed"] = handler
    async with Fetcher(settings(), clock=FakeClock()) as f:
        first = await f.fetch(spec(server.url("/feed")), etag=None, last_modified=None)
        second = await f.fetch(spec(server.url("/feed")), etag=first.etag, last_modified=first.last_modified)
    assert first.status == "ok" and second.status == "not_modified" and second.etag == '"v1"'
    assert server.log[1][1]["If-Modified-Since"] == "Sat, 01 Mar 2025 10:00:00 GMT"


@pytest.mark.parametrize(
    ("body", "ctype", "words"),
    [
        (b"", "application/rss+xml", "empty"),
        (b"   \n", "application/rss+xml", "empty"),
        (bytes(range(256)) * 40, "application/octet-stream", "not a feed"),
        (b"<!DOCTYPE html><html><head><title>Acme</title></head><body>hi</body></html>", "text/html", "HTML page"),
        (  # a soft redirect sent with 200 (rss-parser's unrecognized.rss): its title says what happened
            b"<head><title>Document Moved</title></head><body><h1>Object Moved</h1></body>",
            "text/xml",
            "not a feed: got an HTML page titled 'Document Moved'",
        ),
        (
            b"<html><head><title>Sign in</title></head><body><form><input type=password></form></body></html>",
            "text/html",
            "login page",
        ),
        (b"{not json", "application/json", "not valid JSON"),
        (b'{"version": "x", "title": "no items"}', "application/json", "'items'"),
    ],
)
async def test_not_a_feed(server: Server, body: bytes, ctype: str, words: str) -> None:
    url = server.route("/feed", body=body, headers={"Content-Type": ctype})
    assert_error(await fetch(url), words)


async def test_html_names_its_feed(server: Server) -> None:
    page = b'<html><head><link rel="alternate" type="application/rss+xml" href="/rss"></head></html>'
    url = server.route("/blog", body=page, headers={"Content-Type": "text/html"})
    assert_error(await fetch(url), "HTML page", server.url("/rss"))


async def test_json_feed(server: Server) -> None:
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "Acme JSON", "items": ['
        b'{"id": 1, "url": "/p/1", "title": "Acme hires CIO", "content_text": "New CIO.",'
        b' "date_published": "2025-02-01T10:00:00+02:00", "authors": [{"name": "Ann"}]}]}'
    )
    url = server.route("/feed.json", body=body, headers={"Content-Type": "application/feed+json"})
    result = await fetch(url)
    assert result.status == "ok", result.error
    [item] = result.items
    assert (item.key, item.title, item.author) == ("1", "Acme hires CIO", "Ann")
    assert item.link == server.url("/p/1")
    assert item.published is not None and item.published.hour == 8 and item.published.utcoffset() == timedelta(0)


async def test_rss_in_json(server: Server) -> None:
    """Scripting News' RSS-in-JSON: RSS 2.0 elements as keys; items without titles are normal there."""
    body = json.dumps({"rss": {"version": "2.0", "channel": {
        "title": "Scripting News", "link": "http://scripting.com/",
        "item": [
            {"link": "/2017/06/26.html#a1", "description": "Good <b>morning</b> students!",
             "pubDate": "Mon, 26 Jun 2017 12:20:05 GMT", "guid": "http://scripting.com/2017/06/26.html#a1"},
            {"title": "Acme hires CIO", "link": "/p/2", "description": "New CIO.", "guid": {"#value": "g2"}},
            "not an item",
        ],
    }}}).encode()
    url = server.route("/rss.json", body=body, headers={"Content-Type": "application/json"})
    result = await fetch(url)
    assert result.status == "ok", result.error
    assert result.feed_title == "Scripting News"
    first, second = result.items
    assert first.key == "http://scripting.com/2017/06/26.html#a1"
    assert (first.title, first.text) == ("", "Good morning students!")
    assert first.link == server.url("/2017/06/26.html#a1") and "<b>morning</b>" in first.content_html
    assert first.published == datetime(2017, 6, 26, 12, 20, 5, tzinfo=UTC)
    assert (second.key, second.title) == ("g2", "Acme hires CIO")


async def test_json_without_a_known_shape_is_not_a_feed(server: Server) -> None:
    json_type = {"Content-Type": "application/json"}
    url = server.route("/data.json", body=b'{"rss": {"channel": {"item": 3}}}', headers=json_type)
    assert_error(await fetch(url), "RSS-in-JSON whose channel 'item' is not a list")
    url = server.route("/other.json", body=b'{"hello": "world"}', headers=json_type)
    assert_error(await fetch(url), "JSON without a JSON Feed 'items' list")


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        ("<?xml version='1.0' encoding='windows-1252'?>", "text/xml; charset=utf-8"),  # header lies
        ("<?xml version='1.0' encoding='windows-1252'?>", "text/xml"),  # no charset at all
        ("<?xml version='1.0'?>", "application/xml; charset=bogus-charset"),  # unknown charset
    ],
)
async def test_wrong_or_missing_charset(server: Server, body: str, ctype: str) -> None:
    doc = (body + "<rss version='2.0'><channel><title>x</title><item><title>Café deal</title>"
           "<guid>c1</guid></item></channel></rss>").encode("cp1252")  # fmt: skip
    url = server.route("/feed", body=doc, headers={"Content-Type": ctype})
    result = await fetch(url)
    assert result.status == "ok", result.error
    assert result.items[0].title.startswith("Caf") and result.items[0].title.endswith("deal")


async def test_entities_refused_over_http(server: Server) -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><rss/>'
    assert_error(await fetch(server.route("/feed", body=bomb)), "XML entities refused")


async def test_secrets_never_in_errors(server: Server, tmp_path: object) -> None:
    secret = "s3cr3t-token-value"
    server.route("/feed", 401, body=secret.encode())
    auth = AuthConfig(env="ACME_TOKEN", prefix="Bearer ")
    result = await fetch(server.url("/feed"), auth=auth, env={"ACME_TOKEN": secret})
    assert_error(result, "401")
    assert secret not in repr(result)
    assert server.log[0][1]["Authorization"] == f"Bearer {secret}"
    missing = await fetch(server.url("/feed"), auth=auth, env={})
    assert_error(missing, "ACME_TOKEN", "not set")
    basic = AuthConfig(basic=BasicAuth(username="bot", password_env="ACME_PW"))
    result = await fetch(server.url("/feed"), auth=basic, env={"ACME_PW": secret})
    assert secret not in repr(result)


async def test_credentials_not_sent_to_other_origin(server: Server, intranet: Server) -> None:
    intranet.route("/feed", body=RSS)
    server.route("/go", 302, headers={"Location": intranet.url("/feed")})
    auth = AuthConfig(env="TOKEN")
    result = await fetch(
        server.url("/go"),
        auth=auth,
        env={"TOKEN": "abc"},
        visibility="internal",
        allow_networks=["127.0.0.1/32", "127.0.0.2/32"],
    )
    assert result.status == "ok", result.error
    assert server.log[0][1].get("Authorization") == "abc"
    assert "Authorization" not in intranet.log[0][1]


async def test_file_exports_must_be_internal(tmp_path: object) -> None:
    result = await fetch("file:///etc/hostname", kind="export")
    assert_error(result, "must be internal")


#: The stated memory bound: a hostile response may cost at most this many bytes of Python
#: allocations beyond the configured max_bytes (buffers, decompressor state, parse objects).
MEMORY_SLACK = 8_000_000


async def test_hostile_bodies_stay_within_the_memory_bound(server: Server) -> None:
    import tracemalloc

    zeros = b"\0" * 50_000_000
    server.routes["/endless"] = lambda req: drip(req, b"x" * 65536, 0, limit_s=5)
    bomb = server.route("/bomb", body=gzip.compress(gzip.compress(zeros, 9), 9),
                        headers={"Content-Encoding": "gzip, gzip"})
    max_bytes = 2_000_000
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        for url in (server.url("/endless"), bomb):
            result = await fetch(url, max_bytes=max_bytes)
            assert result.status == "error"
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < max_bytes + MEMORY_SLACK, f"peak {peak:,} bytes"
