"""The lxml fast path (aggregator.fetch.fastpath) against feedparser, item by item.

feedparser is the reference. For every feed file of the shared corpus (and a few
hand-written cases) the fast path either declines (feedparser is used) or gives the
very same ItemData values (key, title, link, content, text, dates, author, hashes) and
feed title as the feedparser path. There are no deliberate deviations.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aggregator.fetch.errors import FetchError
from aggregator.fetch.fastpath import parse_rss
from aggregator.fetch.feeds import parse_feed
from aggregator.fetch.items import build_items

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
NOW = datetime(2030, 1, 1, tzinfo=UTC)
URL = "https://corpus.test/feed.xml"
#: Content-Types a server may send; text/* is declined by the fast path.
TYPES = (None, "application/xml", "application/rss+xml; charset=utf-8")


def _both(body: bytes, content_type: str | None) -> tuple[bool, Any, Any]:
    """(fast path accepted, fast result, feedparser result); results are (items, title) or an error."""

    def run(fast: bool) -> Any:
        try:
            feed = parse_feed(body, url=URL, content_type=content_type, fast=fast)
        except FetchError as exc:
            return ("error", str(exc))
        return (build_items(feed.entries, base_url=URL, now=NOW), feed.title)

    accepted = parse_rss(body, content_type) is not None
    return accepted, run(True), run(False)


def _compare(path: str) -> tuple[str, int, str | None]:
    """(path, number of Content-Types the fast path took, first difference or None)."""
    body = (CORPUS / path).read_bytes()
    taken = 0
    for content_type in TYPES:
        accepted, fast, reference = _both(body, content_type)
        taken += accepted
        if fast != reference:
            if fast[0] == "error" or reference[0] == "error":
                return path, taken, f"{content_type}: {fast[:1]} != {reference[:1]}"
            if fast[1] != reference[1]:
                return path, taken, f"{content_type}: feed title {fast[1]!r} != {reference[1]!r}"
            if len(fast[0]) != len(reference[0]):
                return path, taken, f"{content_type}: {len(fast[0])} items != {len(reference[0])}"
            for mine, theirs in zip(fast[0], reference[0], strict=True):
                if mine != theirs:
                    fields = [k for k in mine.__dataclass_fields__ if getattr(mine, k) != getattr(theirs, k)]
                    detail = {k: (getattr(mine, k), getattr(theirs, k)) for k in fields}
                    return path, taken, f"{content_type}: item {theirs.key!r} differs: {str(detail)[:600]}"
    return path, taken, None


def test_fast_path_gives_feedparser_items_for_every_corpus_feed() -> None:
    if not (CORPUS / "manifest.json").is_file():
        pytest.skip(f"the shared corpus is absent ({CORPUS}); it is not part of the repository")
    paths = [e["path"] for e in json.loads((CORPUS / "manifest.json").read_text())]
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_compare, paths, chunksize=20))
    differences = [(p, d) for p, _, d in results if d]
    assert not differences, f"{len(differences)} feeds differ: {differences[:10]}"
    real = [(p, n) for p, n, _ in results if p.startswith("real-feeds/")]
    taken = sum(1 for _, n in real if n)
    print(f"fast path: taken for {taken} of {len(real)} real feeds, identical items in every case")
    assert taken >= 50  # the fast path must actually serve common feeds (61 of 300 when written)


RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T &amp; co</title>
<item><title>A &lt;b&gt;bold&lt;/b&gt; title</title><link>https://example.com/a?x=1&amp;amp;y=2</link>
<description>&lt;p&gt;Hi &lt;a href="/rel"&gt;there&lt;/a&gt;&lt;/p&gt;</description>
<guid isPermaLink="false">id-1</guid><pubDate>Tue, 10 Jun 2003 04:00:00 GMT</pubDate>
<dc:creator>Jo</dc:creator><category>x</category></item>
<item><guid>https://example.com/b</guid><content:encoded><![CDATA[<p>caf\xc3\xa9</p>]]></content:encoded>
<description>short</description><dc:date>2003-06-10T05:00:00Z</dc:date><title>Plain AT&amp;T</title></item>
<item><title>Empty</title><link></link><guid>https://example.com/c</guid></item>
</channel></rss>"""


@pytest.mark.parametrize("content_type", TYPES)
def test_fast_path_matches_feedparser_on_a_mixed_feed(content_type: str | None) -> None:
    accepted, fast, reference = _both(RSS, content_type)
    assert accepted
    assert fast == reference
    assert [i.title for i in fast[0]] == ["A bold title", "Plain AT&T", "Empty"]


MEDIA_TITLE = b"<media:title xmlns:media='http://search.yahoo.com/mrss/'>m</media:title>"


@pytest.mark.parametrize(
    "body, content_type",
    [
        (RSS, "text/xml"),  # text/* without a charset: feedparser's us-ascii rule
        (RSS.replace(b'encoding="utf-8"', b'encoding="iso-8859-1"'), None),
        (b"\n" + RSS, None),  # feedparser is bozo for whitespace before the declaration
        (RSS.replace(b'<rss version="2.0"', b'<rss version="0.91"'), None),
        (RSS.replace(b"<category>x</category>", MEDIA_TITLE), None),  # media:title is a title
        (RSS.replace(b"<title>Empty</title>", b"<title>Empty</title><title>Twice</title>"), None),
        (RSS.replace(b"<item>", b"<item xml:base='https://other.test/'>", 1), None),
        (RSS.replace(b"short", b"&nbsp;"), None),  # undefined entity: feedparser's loose parser
        (RSS.replace(b"<title>Empty", b"<title type='html'>Empty"), None),
    ],
)
def test_fast_path_declines_what_it_cannot_reproduce(body: bytes, content_type: str | None) -> None:
    assert parse_rss(body, content_type) is None
    _, fast, reference = _both(body, content_type)
    assert fast == reference
