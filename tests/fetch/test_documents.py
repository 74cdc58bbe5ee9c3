"""parse_document over hand-made documents, and pages/exports end to end through Fetcher."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aggregator.config.schema import ExportColumns, Selectors
from aggregator.fetch import Fetcher, ParsedDocument, ParseError, parse_document
from aggregator.fetch.errors import NotAFeed
from tests.fetch.support import FakeClock, Server, settings, spec

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
URL = "https://news.example.com/feed"


def parse(body: bytes, kind: str = "feed", **extra: Any) -> ParsedDocument:
    return parse_document(body, url=URL, content_type=None, spec=spec(URL, kind=kind, **extra), now=NOW)


def rss(*items: str) -> bytes:
    return ("<rss version='2.0'><channel><title>T</title>" + "".join(items) + "</channel></rss>").encode()


@pytest.mark.parametrize(
    "doc",
    [
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;">]><rss version="2.0"><channel><title>&lol3;</title></channel></rss>',
        b'<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<rss version='2.0'><channel><item><title>&xxe;</title></item></channel></rss>",
        b'<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY % ext SYSTEM "http://127.0.0.1:1/x.dtd"> %ext;]><rss/>',
        '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE r [<!ENTITY a "b">]><rss/>'.encode("utf-16"),
    ],
)
def test_entity_documents_refused(doc: bytes) -> None:
    with pytest.raises(ParseError, match="XML entities refused"):
        parse(doc)


def test_doctype_without_entities_is_fine() -> None:
    doc = b'<!DOCTYPE rss PUBLIC "-//Netscape//DTD RSS 0.91//EN" "http://x/rss.dtd">' + rss(
        "<item><title>a</title><description><![CDATA[<!ENTITY is text here]]></description></item>"
    )
    assert len(parse(doc).items) == 1


def test_bytes_are_never_a_file_name() -> None:
    with pytest.raises(NotAFeed):
        parse(b"/etc/hostname")


def test_duplicate_and_missing_guids() -> None:
    doc = rss(
        "<item><title>One</title><guid>same</guid><link>http://x/1</link></item>",
        "<item><title>Two</title><guid>same</guid><link>http://x/2</link></item>",
        "<item><title>Three</title><link>http://x/3?utm_campaign=z</link></item>",
        "<item><title>Four</title><description>only text</description></item>",
        "<item><title>Four</title><description>only text</description></item>",  # verbatim repeat
    )
    keys = [i.key for i in parse(doc).items]
    assert keys[:3] == ["http://x/1", "http://x/2", "http://x/3"]
    assert keys[3].startswith("sha256:") and len(keys) == 4


def test_rewritten_feed_keeps_identity() -> None:
    def version(stamp: str, tag: str, order: list[int]) -> bytes:
        items = [
            f"<item><title>Story {n}</title><link>http://x/{n}?utm_source={tag}</link>"
            f"<pubDate>{stamp}</pubDate><description>Body {n}</description></item>"
            for n in order
        ]
        return rss(*items)

    first = parse(version("Sat, 01 Mar 2025 10:00:00 GMT", "a", [1, 2, 3])).items
    second = parse(version("Sat, 01 Mar 2025 11:00:00 GMT", "b", [3, 1, 2])).items
    assert {i.key: i.content_hash for i in first} == {i.key: i.content_hash for i in second}


def test_dates_future_and_unparseable() -> None:
    doc = rss(
        "<item><title>a</title><guid>a</guid><pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item>",
        "<item><title>b</title><guid>b</guid><pubDate>yesterday-ish</pubDate></item>",
        "<item><title>c</title><guid>c</guid><pubDate>Sat, 01 Mar 2025 09:00:00 +0100</pubDate></item>",
    )
    a, b, c = parse(doc).items
    assert a.published is None and b.published is None
    assert c.published == datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def test_enormous_fields_are_capped() -> None:
    huge = "Acme " * 400_000
    doc = rss(f"<item><title>{huge}</title><guid>x</guid><description>{huge}</description></item>")
    [item] = parse(doc).items
    assert len(item.title) <= 500 and len(item.content_html) < 250_000 and len(item.text) <= 50_000


def test_hostile_content_sanitised() -> None:
    doc = rss(
        "<item><title>&lt;b&gt;Bold&lt;/b&gt; move\x01</title><guid>x</guid><link>javascript:alert(1)</link>"
        "<description>&lt;p onmouseover='x()'&gt;Hi&lt;script&gt;bad()&lt;/script&gt;"
        "&lt;a href='/rel'&gt;r&lt;/a&gt;&lt;/p&gt;</description></item>"
    )
    [item] = parse(doc).items
    assert item.link is None
    assert "script" not in item.content_html and "onmouseover" not in item.content_html
    assert 'href="https://news.example.com/rel"' in item.content_html
    assert item.text == "Hir"



def test_character_references_to_xml_invalid_characters_are_dropped() -> None:
    """nh3 decodes "&#1;" into U+0001: one such character in stored HTML would break every XML output."""
    doc = rss(
        "<item><title>t</title><guid>x</guid><description>&lt;p&gt;a&amp;#1;b&amp;#xFFFE;c&amp;#x1f;d"
        "&amp;#8217;e&lt;/p&gt;</description></item>"
    )
    [item] = parse(doc).items
    assert item.content_html == "<p>abcd\u2019e</p>"
    assert item.text == "abcd\u2019e"

PAGE = b"""<html><head><title>Acme newsroom</title></head><body>
<ul><li class="n"><h3><a href="/n/1">Acme opens Berlin office</a></h3><time datetime="2025-02-03T09:00:00Z">3 Feb</time>
<p class="s">Expansion <b>news</b><script>x()</script></p></li>
<li class="n"><h3><a href="n/2?utm_source=home">Acme names new CFO</a></h3><p class="s">Leadership</p></li></ul>
</body></html>"""


def test_page_selectors() -> None:
    select = Selectors(item="li.n", title="h3", link="h3 a@href", date="time@datetime", summary="p.s")
    doc = parse_document(
        PAGE, url="https://acme.test/press/", content_type="text/html", spec=spec(URL, "page", select=select), now=NOW
    )
    first, second = doc.items
    assert (first.title, first.link) == ("Acme opens Berlin office", "https://acme.test/n/1")
    assert first.published == datetime(2025, 2, 3, 9, 0, tzinfo=UTC)
    assert (
        first.content_html == "Expansion <b>news</b>" and second.link == "https://acme.test/press/n/2?utm_source=home"
    )
    assert second.key == "https://acme.test/press/n/2"  # canonical link without tracking
    assert doc.feed_title == "Acme newsroom"
    assert doc.notes == ("the date selector 'time@datetime' found nothing in 1 of 2 items: "
                         "those items are dated when first seen",)


def test_page_notes_name_selectors_that_do_not_fit_every_item() -> None:
    """What preview prints, so support staff can fix selectors before saving config.yaml."""
    page = b"""<html><body>
    <article><h2><a href="/a">Acme wins tender</a></h2><time datetime="on Sunday @03:38PM">x</time></article>
    <article><div>Sponsored</div></article></body></html>"""
    select = Selectors(item="article", title="h2 a", date="time@datetime")
    doc = parse(page, "page", select=select)
    assert [i.title for i in doc.items] == ["Acme wins tender", "Sponsored"]
    assert doc.notes == (
        "the title selector 'h2 a' found nothing in 1 of 2 items: those items are named by their first heading or text",
        "the link selector 'a@href' found nothing in 1 of 2 items: those items have no link",
        "the date selector 'time@datetime' found nothing in 1 of 2 items: those items are dated when first seen",
        "the date selector 'time@datetime' gave 1 of 2 values that are not dates (such as 'on Sunday @03:38PM'): "
        "those items are dated when first seen",
    )
    assert all(i.published is None for i in doc.items)  # storage dates them when first seen


@pytest.mark.parametrize(
    ("item", "words"),
    [("li.nothing", "matched nothing"), ("li[", "not valid")],
)
def test_page_selector_errors(item: str, words: str) -> None:
    with pytest.raises(ParseError, match=words):
        parse(PAGE, "page", select=Selectors(item=item))


def test_page_without_selectors_is_one_item() -> None:
    one = parse(PAGE, "page").items
    two = parse(PAGE.replace(b"Berlin", b"Paris"), "page").items
    assert len(one) == len(two) == 1 and one[0].key == two[0].key == URL
    assert one[0].content_hash != two[0].content_hash and "x()" not in one[0].text


CSV = (
    "Record,Subject,Notes,When,Account,Owner\n"
    "r1,Acme renewal at risk,Support tickets up,2025-02-01,acme,Ann\n"
    "r2,,missing title,2025-02-02,acme,Bob\n"
    "r3,Globex RFP,Due in March,not a date,globex,Cy\n"
    "r4,too,many,fields,here,x,y,z\n"
)
COLUMNS = ExportColumns(id="Record", title="Subject", body="Notes", date="When", prospect="Account", author="Owner")


def test_csv_export_rows() -> None:
    doc = parse_document(
        CSV.encode(), url="file:///x/crm.csv", content_type=None, spec=spec(URL, "export", columns=COLUMNS), now=NOW
    )
    assert [i.key for i in doc.items] == ["r1", "r3"] and doc.skipped == 2
    first, second = doc.items
    assert (first.prospect_hint, first.author, first.text) == ("acme", "Ann", "Support tickets up")
    assert first.published == datetime(2025, 2, 1, tzinfo=UTC) and second.published is None


def test_export_missing_column_named() -> None:
    columns = ExportColumns(title="Subject", prospect="Company")
    with pytest.raises(ParseError, match=r"no column 'Company' \(mapped as prospect\).*'Record', 'Subject'"):
        parse_document(CSV.encode(), url="file:///x/crm.csv", content_type=None,
                       spec=spec(URL, "export", columns=columns), now=NOW)  # fmt: skip


@pytest.mark.parametrize(("body", "titles"), [
    # Excel in a European locale: BOM, semicolons, CRLF, a quoted ";" inside a note.
    ('\ufeffrecord_id;account;subject;notes\r\n1;acme;Renewal;"seats; price"\r\n2;acme;Visit;ok\r\n',
     ["Renewal", "Visit"]),
    # One column: titles with commas are titles, not bad rows.
    ("subject\nOnly one column, Acme news\nAnother, with commas, too\n",
     ["Only one column, Acme news", "Another, with commas, too"]),
    # Tabs, and a header whose quoted name holds a comma.
    ('"subject, short"\tnotes\nHello\tworld, again\n', ["Hello"]),
    ("subject|notes\nPiped|x\n", ["Piped"]),
])
def test_csv_delimiter_is_the_headers(body: str, titles: list[str]) -> None:
    title = "subject, short" if body.startswith('"subject, short"') else "subject"
    doc = parse_document(body.encode(), url="file:///x/crm.csv", content_type=None,
                         spec=spec(URL, "export", columns=ExportColumns(title=title)), now=NOW)
    assert [i.title for i in doc.items] == titles and doc.skipped == 0


def test_jsonl_export_and_cp1252() -> None:
    lines = [json.dumps({"t": "Café deal", "who": "acme"}), "not json", "[1]", json.dumps({"t": "Second"})]
    body = "\n".join(lines).encode("utf-8")
    columns = ExportColumns(title="t", prospect="who")
    source = spec(URL, "export", columns=columns)
    doc = parse_document(body, url="https://crm.test/export.jsonl", content_type=None, spec=source, now=NOW)
    assert [i.title for i in doc.items] == ["Café deal", "Second"] and doc.skipped == 2
    legacy = "Subject\nCafé\n".encode("cp1252")
    doc = parse_document(legacy, url="file:///x/e.csv", content_type=None,
                         spec=spec(URL, "export", columns=ExportColumns(title="Subject")), now=NOW)  # fmt: skip
    assert doc.items[0].title == "Café"


async def test_file_export_through_fetcher(tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text(CSV)
    source = spec(path.as_uri(), "export", "internal", columns=COLUMNS)
    async with Fetcher(settings(), clock=FakeClock()) as f:
        result = await f.fetch(source, etag=None, last_modified=None)
        missing = await f.fetch(spec((tmp_path / "nope.csv").as_uri(), "export", "internal", columns=COLUMNS),
                                etag=None, last_modified=None)  # fmt: skip
    assert result.status == "ok" and len(result.items) == 2
    assert missing.status == "error" and "does not exist" in (missing.error or "")


async def test_page_feed_discovery(server: Server) -> None:
    page = b'<html><head><link rel="alternate" type="application/atom+xml" href="feed.atom"></head></html>'
    atom = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>Acme blog</title>'
        b"<entry><id>tag:acme,1</id><title>Hello</title><link href='/post/1'/></entry></feed>"
    )
    server.route("/blog/", body=page, headers={"Content-Type": "text/html"})
    server.route("/blog/feed.atom", body=atom, headers={"Content-Type": "application/atom+xml"})
    server.route("/robots.txt", 404)
    async with Fetcher(settings(), clock=FakeClock()) as f:
        result = await f.fetch(spec(server.url("/blog/"), "page"), etag=None, last_modified=None)
    assert result.status == "ok", result.error
    assert result.final_url == server.url("/blog/feed.atom") and result.feed_title == "Acme blog"
    assert [(i.key, i.link) for i in result.items] == [("tag:acme,1", server.url("/post/1"))]


async def test_a_failing_discovered_feed_is_named_in_the_error(server: Server) -> None:
    """The page answered; its advertised feed did not: the health message says which URL failed."""
    page = b'<html><head><link rel="alternate" type="application/rss+xml" href="/gone.rss"></head></html>'
    server.route("/blog/", body=page, headers={"Content-Type": "text/html"})
    server.route("/gone.rss", 404)
    server.route("/robots.txt", 404)
    async with Fetcher(settings(), clock=FakeClock()) as f:
        result = await f.fetch(spec(server.url("/blog/"), "page"), etag=None, last_modified=None)
    assert result.status == "error" and result.http_status == 404
    feed = server.url("/gone.rss")
    assert result.error == f"the page links to its feed at {feed}, which failed: not found (HTTP 404): check the URL"


async def test_page_robots_and_previous_hash(server: Server) -> None:
    server.route("/robots.txt", body=b"User-agent: *\nDisallow: /private/\n")
    server.route("/private/page", body=PAGE, headers={"Content-Type": "text/html"})
    server.route("/page", body=PAGE, headers={"Content-Type": "text/html"})
    async with Fetcher(settings(), clock=FakeClock()) as f:
        refused = await f.fetch(spec(server.url("/private/page"), "page"), etag=None, last_modified=None)
        override = await f.fetch(spec(server.url("/private/page"), "page", robots=False), etag=None, last_modified=None)
        first = await f.fetch(spec(server.url("/page"), "page"), etag=None, last_modified=None)
        again = await f.fetch(
            spec(server.url("/page"), "page"), etag=None, last_modified=None, previous_hash=first.items[0].content_hash
        )
    assert refused.status == "error" and "robots.txt" in (refused.error or "")
    assert override.status == "ok" and first.status == "ok" and again.status == "not_modified"
    assert sum(1 for path, _ in server.log if path == "/robots.txt") == 1  # cached per host


async def test_robots_failure_is_reported_as_itself(server: Server) -> None:
    server.route("/robots.txt", 503)
    server.route("/page", body=PAGE, headers={"Content-Type": "text/html"})
    async with Fetcher(settings(), clock=FakeClock()) as f:
        result = await f.fetch(spec(server.url("/page"), "page"), etag=None, last_modified=None)
    assert result.status == "error"
    assert result.error is not None and result.error.startswith("robots.txt answered HTTP 503")
