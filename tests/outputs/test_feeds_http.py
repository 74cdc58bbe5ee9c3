"""Every output over HTTP, parsed back: OPML → streams → RSS / Atom / JSON Feed; entitlements; 404; 304."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import feedparser
import httpx
import pytest
from fastapi import FastAPI

from aggregator.outputs.service import FeedService
from aggregator.outputs.tokens import hash_token, new_token
from aggregator.runtime import Runtime
from tests.outputs.conftest import BASE_URL, NOW, STORIES, TOKENS, Story, store

ALICE, BOB = TOKENS["alice"], TOKENS["bob"]
ACME_INTERNAL = "[internal] Acme procurement call: Globex is the incumbent"


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://evil.example") as c:
        yield c


def parse(fmt: str, body: bytes) -> list[dict[str, object]]:
    """Entries as {id, title, tags, published, link, source}, whatever the format."""
    if fmt == "json":
        doc = json.loads(body)
        assert doc["version"] == "https://jsonfeed.org/version/1.1"
        return [{"id": i["id"], "title": i["title"], "tags": set(i["tags"]), "published": i["date_published"],
                 "link": i["url"], "source": i["_funnelfeed"]["source"]["title"], "content": i["content_html"]}
                for i in doc["items"]]
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == ("rss20" if fmt == "rss" else "atom10")
    return [{"id": e.id, "title": e.title, "tags": {t.term for t in e.tags},
             "published": f"{e.published_parsed[:6]}", "link": e.link, "source": e.source.get("title"),
             "content": (e.content[0].value if "content" in e else e.summary)} for e in feed.entries]


async def opml_urls(client: httpx.AsyncClient, token: str) -> list[str]:
    response = await client.get(f"/f/{token}/opml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/x-opml")
    root = ET.fromstring(response.content)
    return [o.attrib["xmlUrl"] for o in root.iter("outline") if "xmlUrl" in o.attrib]


async def test_opml_lists_every_stream_with_base_url_links(client: httpx.AsyncClient) -> None:
    urls = await opml_urls(client, ALICE)
    prefix = f"{BASE_URL}/f/{ALICE}/"
    assert [u.removeprefix(prefix) for u in urls] == [
        "all.atom", "p/acme.atom", "p/acme/deal.atom", "p/initech.atom", "p/initech/deal.atom"]
    body = (await client.get(f"/f/{ALICE}/opml")).text
    assert "evil.example" not in body and "Acme &amp; Sons &lt;EU&gt;" in body


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
async def test_streams_parse_back_with_ids_dates_tags_sources(client: httpx.AsyncClient, fmt: str) -> None:
    response = await client.get(f"/f/{ALICE}/p/acme.{fmt}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["etag"] and response.headers["last-modified"]
    entries = parse(fmt, response.content)
    titles = [e["title"] for e in entries]
    # Newest first; the wire copy of the price list is merged into the newsroom story.
    assert titles == [ACME_INTERNAL, "Acme publishes its new price list", "Acme control chars  in title",
                      "Acme expands into Brazil"]
    internal, merged, dirty, _ = entries
    assert internal["tags"] == {"prospect:acme", "prospect:globex", "stage:pricing", "internal"}
    assert merged["tags"] == {"prospect:acme", "stage:pricing", "external"}
    assert merged["source"] == "Acme newsroom" and "Also reported by" in str(merged["content"])
    assert "Business Wire" in str(merged["content"])
    assert "]]&gt; end" in str(dirty["content"])
    assert all(str(e["id"]).startswith("urn:funnelfeed:item:") for e in entries)
    assert len({e["id"] for e in entries}) == len(entries)
    published = (NOW - timedelta(hours=3))
    if fmt == "json":
        assert internal["published"] == published.isoformat().replace("+00:00", "Z")
    else:
        assert internal["published"] == f"{published.timetuple()[:6]}"
    # Ids are the same in every format and every stream: readers never see duplicates.
    again = parse(fmt, (await client.get(f"/f/{ALICE}/all.{fmt}")).content)
    assert {e["id"] for e in entries} <= {e["id"] for e in again}


async def test_deal_stage_stream_and_self_links(client: httpx.AsyncClient) -> None:
    feed = feedparser.parse((await client.get(f"/f/{ALICE}/p/acme/deal.atom")).content)
    assert feed.feed.title == "Acme & Sons <EU>: Pricing (your deal's stage)"
    assert [e.title for e in feed.entries] == [ACME_INTERNAL, "Acme publishes its new price list"]
    self_link = next(link.href for link in feed.feed.links if link.rel == "self")
    assert self_link == f"{BASE_URL}/f/{ALICE}/p/acme/deal.atom"


async def test_reps_never_get_each_others_internal_items(client: httpx.AsyncClient) -> None:
    for fmt in ("rss", "atom", "json"):
        bob_titles = set()
        for url in [*await opml_urls(client, BOB), f"{BASE_URL}/f/{BOB}/p/globex/proposing.{fmt}"]:
            path = url.removeprefix(BASE_URL).rsplit(".", 1)[0] + f".{fmt}"
            bob_titles |= {str(e["title"]) for e in parse(fmt, (await client.get(path)).content)}
        assert bob_titles == {"[internal] Globex renewal notes", "Globex issues an RFP for logistics software"}
        alice = {str(e["title"]) for e in parse(fmt, (await client.get(f"/f/{ALICE}/all.{fmt}")).content)}
        assert "[internal] Globex renewal notes" not in alice
        assert not any("Unassigned internal memo" in t for t in alice | bob_titles)


async def test_every_kind_of_bad_address_is_the_same_404(client: httpx.AsyncClient, runtime: Runtime) -> None:
    rotated = new_token()
    runtime.storage.set_rep_token_hash("alice", hash_token(rotated), NOW)  # ALICE is now dead
    bad = [f"/f/{ALICE}/opml", f"/f/{new_token()}/opml", "/f//opml", "/f/opml", "/f/", "/f/short/opml",
           f"/f/{BOB}/p/acme.rss", f"/f/{BOB}/nope.rss", f"/f/{BOB}/p/globex/unknown.rss", f"/f/{BOB}/",
           f"/f/{rotated[:-1]}!/opml"]
    responses = [await client.get(path) for path in bad]
    assert {r.status_code for r in responses} == {404}
    assert len({r.content for r in responses}) == 1
    for r in responses:
        assert r.headers["cache-control"] == "private" and r.headers["referrer-policy"] == "no-referrer"
    assert (await client.get(f"/f/{rotated}/opml")).status_code == 200
    runtime.storage.set_rep_token_hash("alice", None, NOW)  # revoked
    assert (await client.get(f"/f/{rotated}/opml")).status_code == 404


async def test_conditional_requests_get_304_until_the_stream_changes(
        client: httpx.AsyncClient, app: FastAPI, runtime: Runtime) -> None:
    path = f"/f/{ALICE}/p/acme.rss"
    first = await client.get(path)
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    for headers in ({"If-None-Match": etag}, {"If-Modified-Since": last_modified}):
        again = await client.get(path, headers=headers)
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag and again.headers["cache-control"] == "private"
    opml = await client.get(f"/f/{ALICE}/opml")
    assert (await client.get(f"/f/{ALICE}/opml", headers={"If-None-Match": opml.headers["etag"]})).status_code == 304
    service: FeedService = app.state.feed_service
    builds = service.builds
    # A change elsewhere (Globex) is checked but rebuilds nothing in Acme's stream.
    store(runtime, [Story("wire", "w9", "Globex opens a depot", [("prospect", "globex", 0.9, "alias")])])
    assert (await client.get(path, headers={"If-None-Match": etag})).status_code == 304
    assert service.builds == builds
    # A change in the stream gives a new ETag, and the new story.
    store(runtime, [Story("wire", "w10", "Acme wins award", [("prospect", "acme", 0.9, "alias")], hours_ago=0)])
    changed = await client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert "Acme wins award" in changed.text
    # A tag correction alone (no item change) also moves the ETag.
    etag2 = changed.headers["etag"]
    runtime.storage.correct_tags(1, "stage", ["closing"], None, NOW)
    assert (await client.get(path, headers={"If-None-Match": etag2})).status_code == 200


async def test_a_changed_stream_is_rebuilt_once_for_many_pollers(
        client: httpx.AsyncClient, app: FastAPI, runtime: Runtime) -> None:
    await client.get(f"/f/{ALICE}/all.atom")
    service: FeedService = app.state.feed_service
    store(runtime, [Story("wire", "w11", "Acme again", [("prospect", "acme", 0.9, "alias")], hours_ago=0)])
    builds = service.builds
    responses = await asyncio.gather(*(client.get(f"/f/{ALICE}/all.atom") for _ in range(20)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.headers["etag"] for r in responses}) == 1
    assert service.builds == builds + 1


def test_fresh_storage_gives_identical_bytes_and_etags(runtime: Runtime) -> None:
    """Two processes (two services) build the same bytes and ETag for one version."""
    one = FeedService(runtime.holder, runtime.storage).render(ALICE, "all.rss")
    two = FeedService(runtime.holder, runtime.storage).render(ALICE, "all.rss")
    assert one is not None and two is not None
    assert (one.body, one.etag) == (two.body, two.etag)
    assert len(STORIES) > 0


async def test_fast_path_middleware_serves_the_same_bytes(runtime: Runtime) -> None:
    from tests.outputs.conftest import minimal_app
    from web.routes.feeds import FeedFastPath

    app = minimal_app(runtime)
    wrapped = FeedFastPath(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://t") as client:
        first = await client.get(f"/f/{ALICE}/all.rss")  # a miss: goes through the route
        builds = app.state.feed_service.builds
        second = await client.get(f"/f/{ALICE}/all.rss")  # a hit: answered by the middleware
        cond = await client.get(f"/f/{ALICE}/all.rss", headers={"If-None-Match": first.headers["etag"]})
        missing = await client.get(f"/f/{BOB[:-1]}/all.rss")
    assert (second.content, second.headers["etag"]) == (first.content, first.headers["etag"])
    assert second.headers["content-type"] == first.headers["content-type"]
    assert cond.status_code == 304 and missing.status_code == 404
    assert app.state.feed_service.builds == builds


async def test_a_correction_moves_last_modified_for_clients_without_etags(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    """Some readers send only If-Modified-Since: a correction that brings an older item in must not be a 304."""
    path = f"/f/{ALICE}/p/acme/deal.rss"  # Alice's Acme deal is at pricing
    first = await client.get(path)
    assert "Acme expands into Brazil" not in first.text  # a prospecting story
    with runtime.storage.engine.connect() as conn:
        brazil = conn.exec_driver_sql("SELECT id FROM items WHERE title = 'Acme expands into Brazil'").scalar_one()
    later = datetime.now(UTC) + timedelta(minutes=5)  # after config.yaml was written (its mtime counts too)
    runtime.storage.correct_tags(brazil, "stage", ["pricing"], None, later)
    again = await client.get(path, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert again.status_code == 200 and "Acme expands into Brazil" in again.text
    assert again.headers["last-modified"] != first.headers["last-modified"]


async def test_validators_ignore_changes_the_rep_may_not_see(
        client: httpx.AsyncClient, app: FastAPI, runtime: Runtime) -> None:
    """Bob's Globex stream has candidates he may not see (Acme's CRM row mentioning Globex): their
    changes must move neither ETag nor Last-Modified, or polling would time another account's activity."""
    path = f"/f/{BOB}/p/globex.rss"
    first = await client.get(path)
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    with runtime.storage.engine.connect() as conn:
        acme_crm = conn.exec_driver_sql("SELECT id FROM items WHERE key = 'c1'").scalar_one()
    later = datetime.now(UTC) + timedelta(minutes=5)  # after config.yaml's mtime, which counts too
    runtime.storage.correct_tags(acme_crm, "stage", ["closing"], None, later)  # a manager's correction
    store(runtime, [Story("crm", "c9", "Acme discount approved; Globex undercut us",  # a new Acme CRM row
                          [("prospect", "acme", 1.0, "export"), ("prospect", "globex", 0.9, "alias")],
                          hours_ago=0)], now=later)
    service: FeedService = app.state.feed_service
    builds = service.builds
    for _ in range(3):
        again = await client.get(path)
        assert again.status_code == 200 and "Acme discount" not in again.text
        assert (again.headers["etag"], again.headers["last-modified"]) == (etag, last_modified)
        for headers in ({"If-None-Match": etag}, {"If-Modified-Since": last_modified}):
            assert (await client.get(path, headers=headers)).status_code == 304
    assert service.builds <= builds + 1  # checked once; then answered from the cache
    # What Bob does receive still moves both.
    store(runtime, [Story("crm", "c10", "Globex asks for a demo", [("prospect", "globex", 1.0, "export")],
                          hours_ago=0)], now=later + timedelta(minutes=1))
    moved = await client.get(path, headers={"If-Modified-Since": last_modified})
    assert moved.status_code == 200 and "Globex asks for a demo" in moved.text
    assert moved.headers["etag"] != etag and moved.headers["last-modified"] != last_modified


async def test_a_correction_taking_an_item_out_moves_both_validators(
        client: httpx.AsyncClient, runtime: Runtime) -> None:
    path = f"/f/{ALICE}/p/acme/deal.rss"  # pricing: holds the Acme price list story
    first = await client.get(path)
    assert "Acme publishes its new price list" in first.text
    with runtime.storage.engine.connect() as conn:
        prices = conn.exec_driver_sql("SELECT id FROM items WHERE key = 'a2'").scalar_one()
    runtime.storage.correct_tags(prices, "stage", ["closing"], None, datetime.now(UTC) + timedelta(minutes=5))
    for headers in ({"If-None-Match": first.headers["etag"]}, {"If-Modified-Since": first.headers["last-modified"]}):
        again = await client.get(path, headers=headers)
        assert again.status_code == 200 and "Acme publishes its new price list" not in again.text
        assert again.headers["etag"] != first.headers["etag"]
        assert again.headers["last-modified"] != first.headers["last-modified"]


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
async def test_stored_hostile_links_and_markup_never_reach_a_feed(
        client: httpx.AsyncClient, runtime: Runtime, fmt: str) -> None:
    """Sanitised at fetch, and again on the way out (as the web view does): a row written by anything
    else, or before a sanitiser fix, must not hand a feed reader a script or a javascript: link."""
    store(runtime, [Story("wire", "evil", "Acme evil row", [("prospect", "acme", 0.9, "alias")], hours_ago=0,
                          link="javascript:alert(1)",
                          body='<p>Hi<script>alert(2)</script><img src=x onerror=alert(3)>'
                               '<a href="javascript:alert(4)">x</a><a href="https://ok.example/">ok</a></p>')])
    response = await client.get(f"/f/{ALICE}/all.{fmt}")
    entry = next(e for e in parse(fmt, response.content) if e["title"] == "Acme evil row")
    assert str(entry["link"]).startswith(f"{BASE_URL}/items/")
    content = str(entry["content"])
    assert "<script" not in content and "onerror" not in content and "javascript:" not in content
    assert 'href="https://ok.example/"' in content
    raw = response.text  # not only what feedparser, sanitising on its own, gives back
    assert "javascript:" not in raw and "alert(2)" not in raw and "onerror" not in raw


def test_another_process_dates_a_correction_that_brings_an_item_in(runtime: Runtime) -> None:
    """Last-Modified is computed from the visible entries (and their corrections), not from one process's
    memory: a process that never saw the stream before the correction still dates it after it."""
    with runtime.storage.engine.connect() as conn:
        brazil = conn.exec_driver_sql("SELECT id FROM items WHERE title = 'Acme expands into Brazil'").scalar_one()
    later = (datetime.now(UTC) + timedelta(minutes=5)).replace(microsecond=0)
    runtime.storage.correct_tags(brazil, "stage", ["pricing"], None, later)
    fresh = FeedService(runtime.holder, runtime.storage).render(ALICE, "p/acme/deal.rss")
    assert fresh is not None and b"Acme expands into Brazil" in fresh.body
    assert fresh.last_modified >= later
