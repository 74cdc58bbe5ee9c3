"""Prospect pages, search, notes and corrections with credit, dossiers, sources, metrics, headers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from aggregator.runtime import ReloadResult, Runtime
from aggregator.storage import utcnow
from aggregator.types import ItemData
from tests.web.support import SEEDED, csrf_from, sign_in, token_of
from tests.web.test_entitlements import item_id
from web.routes import prospects

# The same pages on both real databases.
pytestmark = pytest.mark.parametrize("world_db", ["sqlite", "postgresql"], indirect=True)


def test_prospect_page_shows_the_account_across_the_funnel(client: TestClient) -> None:
    sign_in(client, "mia")
    page = client.get("/prospects/acme").text
    assert "Acme Corporation" in page and "Industrial manufacturer consolidating" in page
    assert "Jane Smith" in page and 'class="pill s-pricing">Pricing' in page  # rep and deal stage
    assert '<svg class="chart"' in page and 'rect class="s-closing"' in page
    assert 'id="stage-prospecting"' in page and 'id="stage-closing"' in page  # grouped by stage
    assert "Same story also from:" in page and "Business wire" in page  # near-duplicate sources
    closing = client.get("/prospects/acme?stage=closing").text
    assert SEEDED.duplicate in closing and SEEDED.acme_external not in closing
    internal = client.get("/prospects/acme?stage=all&visibility=internal").text
    assert SEEDED.acme_internal in internal and SEEDED.acme_external not in internal
    searched = client.get("/prospects/acme?q=plant").text
    assert SEEDED.acme_external in searched and SEEDED.duplicate not in searched


def test_pagination(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prospects, "PAGE_SIZE", 10)
    sign_in(client, "mia")
    first = client.get("/prospects/acme?stage=all").text
    assert "Older →" in first
    second = client.get("/prospects/acme?stage=all&page=2").text
    assert "← Newer" in second
    titles = lambda html: set(re.findall(r'id="item-(\d+)"', html))  # noqa: E731
    assert titles(first).isdisjoint(titles(second))
    past = client.get("/prospects/acme?stage=all&page=99").text  # an old bookmark: a way back, not a dead end
    assert "Nothing here yet" in past and 'href="/prospects/acme?stage=all">← Newest</a>' in past


def test_search_is_literal_and_portable(client: TestClient) -> None:
    sign_in(client, "mia")
    page = client.get("/search?q=OHIO").text
    assert SEEDED.acme_external in page  # case-insensitive
    assert 'aria-label="Search all items" value="OHIO"' in page  # the header box keeps what was searched
    assert "No items match" in client.get("/search?q=%25").text  # % is not a wildcard
    assert "No items match" in client.get("/search?q=_").text
    for path in ("/search?q=Ohio%00", "/prospects/acme?q=plant%00", "/prospects/acme?stage=all&q=%00"):
        response = client.get(path)  # a NUL is dropped; PostgreSQL text cannot hold one
        assert response.status_code == 200 and SEEDED.acme_external in response.text, path
    only_nul = client.get("/search?q=%00").text  # nothing left to search for: the empty search form
    assert "No items match" not in only_nul and "<article" not in only_nul


def test_notes_useful_and_corrections_are_credited(client: TestClient, runtime: Runtime) -> None:
    token = sign_in(client, "jane")
    target = item_id(runtime, SEEDED.acme_external)
    next_url = "/prospects/acme?stage=all"
    response = client.post("/prospects/acme/notes", data={"body": "Met their CIO; budget in Q3.",
                                                          "csrf_token": token, "next": next_url})
    assert response.status_code == 200 and "Met their CIO; budget in Q3." in response.text
    client.post(f"/items/{target}/notes", data={"prospect": "acme", "body": "Plant needs ERP", "csrf_token": token})
    client.post(f"/items/{target}/useful", data={"csrf_token": token})
    client.post(f"/items/{target}/tags", data={"kind": "stage", "values": ["qualifying", "delivering"],
                                               "csrf_token": token})
    tags = runtime.storage.tags_for([target])[target]
    assert {(t.kind, t.value, t.origin) for t in tags if t.kind == "stage"} == {
        ("stage", "qualifying", "correction"), ("stage", "delivering", "correction")}
    jane = runtime.storage.user("jane")
    assert jane is not None and all(t.set_by == jane.id for t in tags if t.kind == "stage")
    corrections = runtime.storage.corrections()
    assert any(c.item_id == target and c.values_csv == "qualifying,delivering" for _, c in corrections)
    assert "★ 1 useful" in client.get("/prospects/acme?stage=qualifying").text
    bad = client.post(f"/items/{target}/tags", data={"kind": "stage", "values": ["bogus"], "csrf_token": token})
    assert bad.status_code == 400
    sign_in(client, "mia")
    credit = client.get("/contributions").text
    row = re.search(r'<tr data-user="jane">(.*?)</tr>', credit, re.S)
    assert row and re.findall(r'class="num">(\d+)<', row.group(1)) == ["2", "1", "1"]
    assert "Met their CIO" in credit and "corrected stage: qualifying,delivering" in credit
    assert "(Jane Smith)" in client.get("/prospects/acme").text  # the note names its author's rep


def test_dossier_exports(client: TestClient, runtime: Runtime) -> None:
    token = sign_in(client, "jane")
    client.post("/prospects/acme/notes", data={"body": "<script>alert('n')</script> [x](javascript:alert(1))",
                                               "csrf_token": token})
    html = client.get("/prospects/acme/dossier.html")
    assert html.status_code == 200 and "attachment" in html.headers["content-disposition"]
    csp = html.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp and "style-src 'sha256-" in csp
    body = html.text
    assert "<script" not in body and "&lt;script&gt;alert(&#39;n&#39;)" in body
    assert "<link" not in body and 'src="http' not in body  # self-contained
    assert "Dossier: Acme Corporation" in body and "Jane Smith" in body and SEEDED.acme_internal in body
    assert 'href="javascript:' not in body
    md = client.get("/prospects/acme/dossier.md").text
    assert md.startswith("# Dossier: Acme Corporation")
    assert "## Closing" in md and "## Qualifying" in md and "## Account notes" in md
    assert "<script" not in md and "&lt;script&gt;" in md and "](javascript:" not in md
    assert "| jane | 1 | 0 | 0 |" in md


def test_sources_page_for_support(client: TestClient, runtime: Runtime) -> None:
    now = utcnow()
    storage = runtime.storage
    for _ in range(3):
        storage.record_attempt("news", now=now, status="error", http_status=404, error="HTTP 404 from server",
                               next_due=now)
    storage.record_attempt("wire", now=now, status="error", http_status=503, error=None, next_due=now)
    storage.record_attempt("crm", now=now, status="ok", http_status=200, error=None, next_due=now)
    runtime.holder.last_reload = ReloadResult(now, False, ("config.yaml:12:5: sources.0.kind: 'fed' is not valid",))
    sign_in(client, "sam")
    page = client.get("/sources").text
    assert "rejected" in page and "&#39;fed&#39; is not valid" in page
    assert re.search(r'data-source="news">.*?Failing.*?last try [^<]* · HTTP 404.*?no longer exists', page, re.S)
    assert re.search(r'data-source="news">.*?\d+ stored', page, re.S)  # items stored, beside items per day
    assert re.search(r'data-source="wire">.*?Backing off.*?overloaded', page, re.S)
    assert re.search(r'data-source="crm">.*?OK', page, re.S)
    broken = client.get("/sources?state=broken").text
    assert 'data-source="news"' in broken and 'data-source="crm"' not in broken
    assert "Effective configuration (3 sources" in page
    sources = client.get("/api/sources", headers={"Authorization": f"Bearer {token_of('sam')}"}).json()
    assert {s["id"]: s["state"] for s in sources} == {"crm": "ok", "news": "failing", "wire": "backing_off"}


def test_sources_page_shows_the_notes_of_sources_that_work(client: TestClient, runtime: Runtime) -> None:
    """A feed that moved for good still works, but support should update config.yaml: say so."""
    now = utcnow()
    moved = "moved permanently to https://news.example/new.xml: update the source's url in config.yaml"
    runtime.storage.record_attempt("news", now=now, status="ok", http_status=200, error=None, next_due=now,
                                   notes=[moved, "the date selector 'time' gave 2 of 9 values that are not dates"])
    sign_in(client, "sam")
    page = client.get("/sources").text
    assert re.search(r'data-source="news">.*?OK.*?<ul class="notes source-notes"><li>moved permanently to '
                     r'https://news.example/new.xml: update the source&#39;s url in config.yaml</li><li>the date',
                     page, re.S)
    assert 'data-source="news"' in client.get("/sources?q=moved+permanently").text
    assert 'data-source="crm"' not in client.get("/sources?q=moved+permanently").text
    sources = client.get("/api/sources", headers={"Authorization": f"Bearer {token_of('sam')}"}).json()
    assert {s["id"]: s["notes"] for s in sources}["news"][0] == moved


def test_metrics_and_healthz(client: TestClient, runtime: Runtime) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    runtime.storage.record_attempt("news", now=utcnow(), status="error", http_status=500, error="boom",
                                   next_due=utcnow())
    text = client.get("/metrics", headers={"Authorization": f"Bearer {token_of('sam')}"}).text
    assert 'funnelfeed_sources{state="backing_off"} 1.0' in text
    assert 'funnelfeed_items{visibility="internal"} 3.0' in text
    assert "funnelfeed_queue_lag_seconds" in text and "funnelfeed_source_consecutive_failures 1.0" in text
    assert 'funnelfeed_source_fetches_last_hour{status="error"} 1.0' in text


def test_security_headers_everywhere(client: TestClient) -> None:
    for path in ("/login", "/healthz", "/static/app.css", "/nope"):
        csp = client.get(path).headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert client.get("/login").headers["x-frame-options"] == "DENY"
    docs = client.get("/docs")
    assert docs.status_code == 200 and "'sha256-" in docs.headers["content-security-policy"]


def test_hostile_content_is_inert_in_html(client: TestClient, runtime: Runtime) -> None:
    sign_in(client, "mia")
    for path in ("/prospects/acme?stage=pricing", "/search?q=hostile", "/prospects/acme"):
        page = client.get(path).text
        assert "<script" not in page and "<iframe" not in page, path
        assert not re.search(r"<[^>]*\son\w+\s*=", page), path  # no event-handler attribute in any tag
        assert not re.search(r"(href|src)\s*=\s*[\"']?\s*(javascript|data):", page, re.I), path
        assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;" in page, path
    assert '<a href="https://ok.example/" rel="noopener noreferrer nofollow ugc">fine link</a>' in page
    api = client.get(f"/api/items/{item_id(runtime, SEEDED.hostile)}",
                     headers={"Authorization": f"Bearer {token_of('mia')}"}).json()
    assert api["title"] == SEEDED.hostile  # JSON carries the text as text; clients must escape it
    assert api["link"] is None and "<script" not in api["content_html"] and "javascript:" not in api["content_html"]


def test_one_error_shape(client: TestClient) -> None:
    headers = {"Authorization": f"Bearer {token_of('mia')}"}
    for path, status in (("/api/items/999999", 404), ("/api/items?per_page=0", 422), ("/api/nope", 404)):
        body = client.get(path, headers=headers).json()
        assert set(body) == {"error"} and body["error"]["status"] == status, path
    sign_in(client, "mia")
    page = client.get("/prospects/nope")
    assert page.status_code == 404 and "404 · Not found" in page.text
    huge = "/items/99999999999999999999999"  # past a 64-bit column: refused, not a database crash
    token = csrf_from(client.get("/").text)
    for response in (client.get(huge), client.post(huge + "/useful", data={"csrf_token": token}),
                     client.post(huge + "/tags", data={"csrf_token": token, "kind": "stage"}),
                     client.post(huge + "/notes", data={"csrf_token": token, "prospect": "acme", "body": "x"})):
        assert response.status_code == 422 and "422 · Invalid request" in response.text


def test_an_item_without_a_title_is_listed_by_its_first_words(client: TestClient, runtime: Runtime) -> None:
    """RSS items and JSON Feed posts may have no title: an empty link would be invisible."""
    text = ("Acme opens a plant in Ohio and will hire three hundred engineers over the next two years, "
            "the mayor said on Tuesday")
    item = ItemData(key="untitled-1", title="", link="https://news.example/untitled-1", content_html=f"<p>{text}</p>",
                    text=text, published=utcnow(), content_hash="untitled-1", dedupe_key="")
    runtime.storage.store_items("news", "external", [item], utcnow(),
                                tag=lambda _source, items: [[("prospect", "acme", 1.0, "alias")] for _ in items])
    sign_in(client, "mia")
    page = client.get("/prospects/acme?stage=all").text
    shown = "Acme opens a plant in Ohio and will hire three hundred engineers over the next two…"  # cut at a word
    assert f'target="_blank">{shown}</a>' in page
    assert f"[{shown}]" in client.get("/prospects/acme/dossier.md").text


def test_rep_feed_links_to_items_and_sources_open_in_the_web_view(client: TestClient, runtime: Runtime) -> None:
    """CRM rows have no address of their own: the rep's feed links them to the web view, which must answer."""
    import feedparser

    from aggregator.outputs.tokens import hash_token

    row = ItemData(key="crm-call", title="CRM: Acme renewal call", link=None, content_html="<p>Renewal call</p>",
                   text="Renewal call", published=utcnow(), content_hash="crm-call", dedupe_key="")
    runtime.storage.store_items("crm", "internal", [row], utcnow(),
                                tag=lambda _source, items: [[("prospect", "acme", 1.0, "export")] for _ in items])
    token = "J" * 43
    runtime.storage.set_rep_token_hash("jsmith", hash_token(token), utcnow())
    feed = feedparser.parse(client.get(f"/f/{token}/p/acme.rss").content)
    entry = next(e for e in feed.entries if e.title == "[internal] CRM: Acme renewal call")
    base = runtime.config.web.base_url
    item_path, source_path = entry.link.removeprefix(base), entry.source.href.removeprefix(base)
    assert re.fullmatch(r"/items/\d+", item_path) and source_path == "/sources/crm"
    signed_out = client.get(item_path, follow_redirects=False)  # the reader opens it in a browser
    assert signed_out.status_code == 303 and signed_out.headers["location"] == f"/login?next=%2Fitems%2F{item_path[7:]}"
    sign_in(client, "jane")
    page = client.get(item_path)
    assert page.status_code == 200 and "CRM: Acme renewal call" in page.text and 'action="/items/' in page.text
    assert client.get(source_path, follow_redirects=False).headers["location"] == "/"  # source health is not hers
    sign_in(client, "omar")  # globex only: Acme's CRM row is not his
    assert client.get(item_path).status_code == 404
    sign_in(client, "mia")
    assert client.get(item_path).status_code == 200
    assert client.get(source_path, follow_redirects=False).headers["location"] == "/sources?q=crm"
    assert client.get("/items/999999").status_code == 404


def test_posts_of_one_source_sharing_a_page_address_are_not_folded_away(client: TestClient,
                                                                         runtime: Runtime) -> None:
    """Near-duplicates are the same story from other sources; a blog's posts of one day are not."""
    def post(key: str, title: str, minutes: int) -> ItemData:
        return ItemData(key=key, title=title, link="https://blog.example/2026/11/02.html#" + key,
                        content_html="", text=title, published=utcnow() - timedelta(minutes=minutes),
                        content_hash=key, dedupe_key="blog-day")

    tags = lambda _s, items: [[("prospect", "initech", 1.0, "alias")] for _ in items]  # noqa: E731
    runtime.storage.store_items("news", "external", [post("p1", "Initech post one", 3),
                                                     post("p2", "Initech post two", 2)], utcnow(), tag=tags)
    runtime.storage.store_items("wire", "external", [post("wblog", "Initech post one (wire)", 1)], utcnow(), tag=tags)
    sign_in(client, "mia")
    for path in ("/prospects/initech?stage=all", "/search?q=Initech+post"):
        page = client.get(path).text
        titles = re.findall(r'target="_blank">(Initech post[^<]*)</a>', page)
        assert titles == ["Initech post one (wire)", "Initech post two"], path  # post one folds in
        assert page.count("Same story also from:") == 1 and page.count("Industry news</a>") == 1, path
