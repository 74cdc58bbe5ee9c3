"""Keep-alive connection reuse (aggregator.fetch.pool) against a real loopback server.

A pass where most sources answer 304 should cost one request per source, not one
TCP connection per source; a connection dialled for an internal source is never
reused by an external one; a connection the server dropped while idle is noticed.
"""

from __future__ import annotations

from aggregator.fetch import Fetcher
from tests.fetch.support import FakeClock, Request, Server, settings, spec

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>One</title><link>https://example.com/1</link><guid>1</guid></item></channel></rss>"""


def conditional(req: Request) -> None:
    if req.headers.get("If-None-Match") == '"v1"':
        req.reply(304, headers={"ETag": '"v1"'})
    else:
        req.reply(200, RSS, {"Content-Type": "application/rss+xml", "ETag": '"v1"'})


async def test_304s_and_errors_reuse_one_connection(server: Server) -> None:
    server.routes["/feed"] = conditional
    missing = server.url("/missing")
    async with Fetcher(settings(), clock=FakeClock()) as fetcher:
        first = await fetcher.fetch(spec(server.url("/feed")), etag=None, last_modified=None)
        assert first.status == "ok"
        for _ in range(4):
            again = await fetcher.fetch(spec(server.url("/feed")), etag=first.etag, last_modified=None)
            assert again.status == "not_modified"
            gone = await fetcher.fetch(spec(missing), etag=None, last_modified=None)
            assert gone.status == "error" and gone.http_status == 404
    assert len(server.log) == 9
    assert len(set(server.peers)) == 1


async def test_internal_and_external_sources_do_not_share_connections(server: Server) -> None:
    url = server.route("/feed", body=RSS, headers={"Content-Type": "application/rss+xml"})
    async with Fetcher(settings(), clock=FakeClock()) as fetcher:
        for visibility in ("internal", "external", "internal", "external"):
            result = await fetcher.fetch(spec(url, visibility=visibility), etag=None, last_modified=None)
            assert result.status == "ok"
    ports = server.peers
    assert len(set(ports)) == 2
    assert ports[0] == ports[2] and ports[1] == ports[3] and ports[0] != ports[1]


async def test_a_connection_the_server_dropped_while_idle_is_replaced(server: Server) -> None:
    def reply_then_hang_up(req: Request) -> None:
        req.reply(200, RSS, {"Content-Type": "application/rss+xml"})  # no "Connection: close"
        req.close_connection = True  # ...but the server closes it anyway, as idle timeouts do

    url = server.url("/feed")
    server.routes["/feed"] = reply_then_hang_up
    async with Fetcher(settings(), clock=FakeClock()) as fetcher:
        for _ in range(3):
            result = await fetcher.fetch(spec(url), etag=None, last_modified=None)
            assert result.status == "ok", result.error
    assert len(set(server.peers)) == 3


async def test_a_request_on_a_connection_closed_under_it_is_retried_once(server: Server) -> None:
    """The race a keep-alive timeout causes: the server closes just as the request goes out."""

    def first_request_per_connection_only(req: Request) -> None:
        if server.peers.count(req.client_address[1]) > 1:
            req.close_connection = True  # hang up without an answer
            return
        req.reply(200, RSS, {"Content-Type": "application/rss+xml"})

    url = server.url("/feed")
    server.routes["/feed"] = first_request_per_connection_only
    async with Fetcher(settings(), clock=FakeClock()) as fetcher:
        for _ in range(2):
            result = await fetcher.fetch(spec(url), etag=None, last_modified=None)
            assert result.status == "ok", result.error
    assert len(server.log) == 3  # the second fetch: refused on the old connection, answered on a new one
    assert len(set(server.peers)) == 2


async def test_cookies_a_server_sets_are_still_sent_back(server: Server) -> None:
    """Skipping the cookie jar for responses without Set-Cookie must not lose the ones that have it."""

    def set_cookie(req: Request) -> None:
        if "session=abc" in req.headers.get("Cookie", ""):
            req.reply(200, RSS, {"Content-Type": "application/rss+xml"})
        else:
            req.reply(200, RSS, {"Content-Type": "application/rss+xml", "Set-Cookie": "session=abc; Path=/"})

    server.routes["/feed"] = set_cookie
    server.routes["/plain"] = lambda req: req.reply(200, RSS, {"Content-Type": "application/rss+xml"})
    async with Fetcher(settings(), clock=FakeClock()) as fetcher:
        for path in ("/plain", "/feed", "/plain", "/feed"):
            result = await fetcher.fetch(spec(server.url(path)), etag=None, last_modified=None)
            assert result.status == "ok", result.error
    cookies = [headers.get("Cookie") for _, headers in server.log]
    assert cookies == [None, None, "session=abc", "session=abc"]


async def test_a_body_larger_than_the_read_buffer_arrives_whole_on_a_reused_connection(server: Server) -> None:
    """The asyncio stream stops reading past its buffer limit and resumes as the body is consumed."""
    items = "".join(f"<item><title>Item {i}</title><guid>{i}</guid><description>{'x' * 2000}</description></item>"
                    for i in range(400))
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
    assert len(body) > 3 * 256 * 1024
    url = server.route("/big", body=body, headers={"Content-Type": "application/rss+xml"})
    async with Fetcher(settings(max_bytes=10_000_000), clock=FakeClock()) as fetcher:
        for _ in range(2):
            result = await fetcher.fetch(spec(url), etag=None, last_modified=None)
            assert result.status == "ok", result.error
            assert len(result.items) == 400
    assert len(set(server.peers)) == 1

