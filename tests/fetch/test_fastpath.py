"""The fast path (aggregator.fetch.fastpath*) against feedparser, item by item.

feedparser is the reference. For every feed file of the shared corpus (and hand-written
cases for each rule of the fast path) the fast path either declines (feedparser is used)
or gives the very same entries (every RawItem field) and feed title as the feedparser
path, hence the same ItemData. There are no deliberate deviations.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from feedparser.encodings import convert_to_utf8
from feedparser.html import _cp1252
from feedparser.urls import resolve_relative_uris

from aggregator.fetch import fastpath, fastpath_html, fastpath_mixin, feeds
from aggregator.fetch.errors import FetchError
from aggregator.fetch.fastpath import parse_fast
from aggregator.fetch.feeds import parse_feed
from aggregator.fetch.items import build_items

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
NOW = datetime(2030, 1, 1, tzinfo=UTC)
URL = "https://corpus.test/feed.xml"
#: Content-Types a server may send: none, XML with a charset that overrides the document's
#: declaration, and text/* (feedparser's us-ascii rule, then its fallbacks)
TYPES = (None, "application/rss+xml; charset=utf-8", "text/xml")


def _outcome(body: bytes, content_type: str | None, *, fast: bool) -> Any:
    try:
        feed = parse_feed(body, url=URL, content_type=content_type, fast=fast)
    except FetchError as exc:
        return ("error", type(exc).__name__, str(exc))
    return (feed.entries, feed.title)


def _difference(body: bytes, content_type: str | None) -> str | None:
    """None if both paths give the same entries and title, else the first difference."""
    fast, reference = _outcome(body, content_type, fast=True), _outcome(body, content_type, fast=False)
    if fast == reference:
        return None
    if fast[0] == "error" or reference[0] == "error":
        return f"{content_type}: {str(fast)[:300]} != {str(reference)[:300]}"
    if fast[1] != reference[1]:
        return f"{content_type}: feed title {fast[1]!r} != {reference[1]!r}"
    if len(fast[0]) != len(reference[0]):
        return f"{content_type}: {len(fast[0])} entries != {len(reference[0])}"
    for mine, theirs in zip(fast[0], reference[0], strict=True):
        if mine != theirs:
            fields = [k for k in mine.__dataclass_fields__ if getattr(mine, k) != getattr(theirs, k)]
            detail = {k: (str(getattr(mine, k))[:200], str(getattr(theirs, k))[:200]) for k in fields}
            return f"{content_type}: entry {theirs.guid!r} differs: {detail}"
    return "differs"  # pragma: no cover - equal lists compare equal


def _compare(path: str) -> tuple[str, int, str | None]:
    """(path, number of Content-Types the fast path took, first difference or None).

    Where the fast path declines, both paths run feedparser: only accepted cases are compared.
    """
    body = (CORPUS / path).read_bytes()
    taken = 0
    for content_type in TYPES:
        if parse_fast(body, content_type) is None:
            continue
        taken += 1
        difference = _difference(body, content_type)
        if difference:
            return path, taken, difference
    return path, taken, None


def test_fast_path_gives_feedparser_entries_for_every_corpus_feed() -> None:
    if not (CORPUS / "manifest.json").is_file():
        pytest.skip(f"the shared corpus is absent ({CORPUS}); it is not part of the repository")
    paths = [e["path"] for e in json.loads((CORPUS / "manifest.json").read_text())]
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_compare, paths, chunksize=8))
    differences = [(p, d) for p, _, d in results if d]
    assert not differences, f"{len(differences)} feeds differ: {differences[:10]}"
    real = [(p, n) for p, n, _ in results if p.startswith("real-feeds/")]
    taken = sum(1 for _, n in real if n)
    everything = sum(1 for _, n, _ in results if n)
    print(f"fast path: {taken} of {len(real)} real feeds, {everything} of {len(results)} files, all identical")
    assert taken >= 260  # 272 of the 300 real feeds (the rest: JSON Feed, non-feeds, feedparser failures)


#: Content-Types for the charset shortcut: feedparser's RFC 3023 rules, and names it does not know
UTF8_TYPES = (
    *TYPES,
    "application/xml",
    "application/atom+xml; charset=UTF8",
    "application/xml; charset=iso-8859-1",
    "application/xml; charset=bogus",
    "text/xml; charset=utf-8",
    "text/html",
    "application/octet-stream",
    "application/json; charset=ascii",
)
UTF8_BODIES = [
    b'<?xml version="1.0" encoding="utf-8"?><rss/>',
    b"<?xml version='1.0' encoding='UTF8' standalone='yes' ?>\n<rss>caf\xc3\xa9</rss>",
    b'<?xml version="1.0"?><rss>caf\xc3\xa9</rss>',
    b'\n  <?xml version="1.0" encoding="utf-8"?><rss/>',
    b"<rss>no declaration, caf\xc3\xa9</rss>",
    b'<?xml version="1.0" encoding="utf-8"?><rss>latin-1 caf\xe9</rss>',
    b'<?xml version="1.0" encoding="utf-8"?><rss>a surrogate \xed\xa0\x80</rss>',
    b'<?xml version="1.0" encoding="us-ascii"?><rss>ascii</rss>',
    b'<?xml version="1.0" encoding="no-such-codec"?><rss/>',
    b'<?xml version="1.0" encoding="caf\xe9"?><rss/>',
    b'<?xml version="1.0" encoding="iso-8859-1"?><rss>caf\xe9</rss>',
    b"<?xml no end",
    b"<?xml version='1.0' encoding='utf-8'?><?xml-stylesheet href='x'?><rss/>",
    b"\xef\xbb\xbf<?xml version='1.0' encoding='utf-8'?><rss/>",
    "<?xml version='1.0' encoding='utf-16'?><rss/>".encode("utf-16-le"),
    "<?xml version='1.0' encoding='utf-16'?><rss/>".encode("utf-16"),
    "<?xml version='1.0' encoding='utf-32'?><rss/>".encode("utf-32-le"),
    b"<",
    b"",
]


def _charset_shortcut_agrees(body: bytes) -> int:
    """How many Content-Types took the shortcut; asserts feedparser's bytes where it did."""
    taken = 0
    for content_type in UTF8_TYPES:
        headers = {"content-type": content_type} if content_type else {}
        mine = fastpath._utf8(headers, body)
        if mine is None:
            continue
        taken += 1
        result: dict[str, Any] = {}
        assert mine == convert_to_utf8(headers, body, result), (content_type, body[:100])
        assert result["encoding"]
    return taken


def test_charset_shortcut_gives_convert_to_utf8_bytes() -> None:
    taken = sum(_charset_shortcut_agrees(body) for body in UTF8_BODIES)
    assert taken >= 20
    if (CORPUS / "manifest.json").is_file():
        paths = [e["path"] for e in json.loads((CORPUS / "manifest.json").read_text())]
        taken = sum(_charset_shortcut_agrees((CORPUS / path).read_bytes()) for path in paths)
        assert taken >= len(paths)  # most files are UTF-8 (or ASCII) for several Content-Types


def _same(body: bytes, content_type: str | None = None, *, accepted: bool = True) -> list[Any]:
    """Asserts the fast path's acceptance and that both paths agree; the fast path's ItemData."""
    assert (parse_fast(body, content_type) is not None) is accepted
    assert _difference(body, content_type) is None
    fast, reference = _outcome(body, content_type, fast=True), _outcome(body, content_type, fast=False)
    if fast[0] == "error":
        return []
    items = build_items(fast[0], base_url=URL, now=NOW)
    assert items == build_items(reference[0], base_url=URL, now=NOW)
    return items


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


@pytest.mark.parametrize("content_type", (*TYPES, "application/xml"))
def test_fast_path_matches_feedparser_on_a_mixed_feed(content_type: str | None) -> None:
    items = _same(RSS, content_type)
    assert [i.title for i in items] == ["A bold title", "Plain AT&T", "Empty"]


def _rss(items: str, *, channel: str = "", namespaces: str = "", head: str = "") -> bytes:
    return (
        f'{head}<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" {namespaces}'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:media="http://search.yahoo.com/mrss/" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
        ' xmlns:atom="http://www.w3.org/2005/Atom">'
        f"<channel><title>Feed</title>{channel}{items}</channel></rss>"
    ).encode()


def _atom(entries: str, *, feed: str = "", attrs: str = "", head: str = "") -> bytes:
    return (
        f'{head}<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" {attrs}>'
        f'<title type="html">Feed &amp;lt;b&amp;gt;</title>{feed}{entries}</feed>'
    ).encode()


ITEM = "<title>T</title><link>https://example.com/i</link><description>D</description>"

#: documents the fast path reads, each for a feedparser rule it reproduces
ACCEPTED = {
    # RSS: which element wins a field
    "media:title is a title, but the item's own title wins": _rss(
        "<item><media:title>M</media:title><title>T</title><media:group><media:title>G</media:title>"
        "</media:group><description>D</description></item>"
    ),
    "a second description (media:description) becomes content": _rss(
        f"<item>{ITEM}<media:group><media:description>second &lt;b&gt;x&lt;/b&gt;</media:description>"
        "</media:group></item>"
    ),
    "itunes:summary after a description becomes content": _rss(
        f"<item>{ITEM}<itunes:summary>the summary</itunes:summary></item>"
    ),
    "content:encoded keeps a later description from becoming content": _rss(
        "<item><content:encoded>&lt;p&gt;C&lt;/p&gt;</content:encoded><description>D</description>"
        "<itunes:summary>S</itunes:summary></item>"
    ),
    "a channel-level summary and description leave 'has content' set for the first item": _rss(
        f"<item>{ITEM}<itunes:summary>S</itunes:summary></item><item>{ITEM}<itunes:summary>S</itunes:summary></item>",
        channel="<itunes:summary>channel</itunes:summary><description>channel</description>",
    ),
    "authors: the last one at the same depth wins, email forms": _rss(
        "<item><title>T</title><author>jo@example.com (Jo)</author><dc:creator>Bob</dc:creator></item>"
        "<item><title>U</title><itunes:author>Ann</itunes:author><author>ann@example.com</author></item>"
    ),
    "atom:link in an RSS item; rel=self does not replace the link": _rss(
        '<item><title>T</title><link>https://example.com/rss</link><atom:link rel="self" href="/self"/>'
        '<atom:link rel="alternate" type="text/html" href="https://example.com/atom"/></item>'
        '<item><title>U</title><atom:link href="https://example.com/only"/><guid>https://example.com/g</guid></item>'
    ),
    "guid as link only without a link; isPermaLink=false is no link": _rss(
        "<item><title>T</title><guid>https://example.com/g1</guid><link>https://example.com/l1</link></item>"
        '<item><title>U</title><guid isPermaLink="false">https://example.com/g2</guid></item>'
        "<item><title>V</title><guid>https:///example.com/g3</guid></item>"
    ),
    "unknown elements, with and without attributes, inline namespaces": _rss(
        '<item><title>T</title><comments>c</comments><wfw:commentRss xmlns:wfw="http://wellformedweb.org/CommentAPI/">'
        'x</wfw:commentRss><post-id xmlns="com-wordpress:feed-additions:1">42</post-id>'
        '<foo:bar xmlns:foo="urn:x" a="1">text</foo:bar>'
        '<enclosure url="https://example.com/a.mp3" length="1" type="audio/mpeg"/>'
        '<media:thumbnail xmlns:media="http://search.yahoo.com/mrss/" url="https://example.com/t.jpg"/></item>'
    ),
    "markup inside a description is written back as XHTML": _rss(
        '<item><title>T</title><description>Hi <b>bold</b> &amp; <a href="/x" title="a&quot;b">link</a>'
        "<br/></description></item>"
    ),
    "an image inside an item: its title competes with the item's": _rss(
        "<item><title>T</title><image><title>picture</title><url>https://example.com/i.png</url></image></item>"
        "<item><image><title>picture</title></image><title>U</title></item>"
        "<item><image><title>picture</title></image><link>https://example.com/i</link></item>"
    ),
    "an image inside an unknown element (it resets the title depth)": _rss(
        '<item><title>T</title><og xmlns="urn:og"><image xmlns="">x</image></og><dc:title>U</dc:title></item>'
    ),
    "an image inside an item when the channel has one": _rss(
        "<item><image><title>picture</title></image><title>U</title></item>",
        channel="<image><title>logo</title><url>https://example.com/l.png</url><link>https://example.com/</link></image>",
    ),
    "source, category, comments and a textinput after the items": _rss(
        f'<item>{ITEM}<source url="https://example.com/src">Src</source><category domain="d">c</category></item>'
        "<textInput><title>Search</title><name>q</name><link>https://example.com/s</link></textInput>"
    ),
    "dates: pubDate, dc:date, atom:updated, an empty date after a valid one": _rss(
        "<item><title>T</title><pubDate>Tue, 10 Jun 2003 04:00:00 GMT</pubDate><dc:date>2003-06-11T05:00:00Z</dc:date>"
        "<atom:updated>2003-06-12T05:00:00+02:00</atom:updated></item>"
        "<item><title>U</title><pubDate>Tue, 10 Jun 2003 04:00:00 GMT</pubDate><pubDate></pubDate></item>"
        "<item><title>V</title><pubDate>not a date</pubDate></item>"
    ),
    "podcast elements: itunes, podlove chapters, georss": _rss(
        "<item><title>T</title><itunes:duration>1:00</itunes:duration><itunes:explicit>no</itunes:explicit>"
        '<itunes:image href="https://example.com/i.jpg"/><itunes:keywords>a, b</itunes:keywords>'
        '<psc:chapters xmlns:psc="http://podlove.org/simple-chapters" version="1.2"><psc:chapter start="00:00:01"'
        ' title="One"/></psc:chapters><georss:point xmlns:georss="http://www.georss.org/georss">45 -71</georss:point>'
        "</item>",
        channel="<itunes:owner><itunes:name>Owner</itunes:name><itunes:email>o@example.com</itunes:email></itunes:owner>"
        '<itunes:category text="Tech"><itunes:category text="Gadgets"/></itunes:category>',
    ),
    "base64 content": _atom(
        '<entry><title>T</title><id>urn:x:1</id><content type="text/html" mode="base64">PHA+aGk8L3A+</content></entry>'
    ),
    "RSS 0.91 with its DOCTYPE": b"""<?xml version="1.0"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Old</title><item><title>A &amp; B</title><link>http://example.com/</link>
<description>x &lt;b&gt;y&lt;/b&gt;</description></item></channel></rss>""",
    "RSS 1.0 (RDF) with rdf:about ids": b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/"><channel rdf:about="http://example.com/"><title>RDF</title>
<items><rdf:Seq><rdf:li rdf:resource="http://example.com/1"/></rdf:Seq></items></channel>
<item rdf:about="http://example.com/1"><title>One</title><link>http://example.com/1</link>
<dc:date>2003-06-10T05:00:00Z</dc:date><dc:subject>s</dc:subject></item></rdf:RDF>""",
    "RSS 1.0 namespace declared on the channel, not on the root": b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><channel xmlns="http://purl.org/rss/1.0/"
 rdf:about="http://example.com/"><title>RDF</title></channel><item xmlns="http://purl.org/rss/1.0/"
 rdf:about="http://example.com/1"><title>&lt;b&gt;One&lt;/b&gt;</title></item></rdf:RDF>""",
    # encodings: the bytes go through feedparser's own charset choice
    "ISO-8859-1 declared": _rss("<item><title>caf\xe9</title></item>")
    .replace(b"utf-8", b"iso-8859-1")
    .replace("caf\xe9".encode(), b"caf\xe9"),
    "windows-1251 declared": _rss("<item><title>\u043f\u0440\u0438</title></item>")
    .replace(b"utf-8", b"windows-1251")
    .replace("\u043f\u0440\u0438".encode(), "\u043f\u0440\u0438".encode("cp1251")),
    "a UTF-8 byte order mark": b"\xef\xbb\xbf" + _rss(f"<item>{ITEM}</item>"),
    "no XML declaration": _rss(f"<item>{ITEM}</item>").split(b"\n", 1)[1],
    "cp1252 character references and UTF-8 read as Latin-1": _rss(
        "<item><title>don&#146;t \xc3\xa9</title><description>&amp;#150; &#150;</description></item>"
    ),
    # Atom 1.0
    "Atom: title, summary and content types": _atom(
        '<entry><title type="text">a &lt;b&gt; c</title><id>urn:x:1</id><summary>plain &lt;i&gt;</summary>'
        '<content type="html">&lt;p&gt;html &lt;a href="/x"&gt;x&lt;/a&gt;&lt;/p&gt;</content></entry>'
        '<entry><title type="html">&lt;em&gt;html&lt;/em&gt;</title><id>urn:x:2</id><content>text only &amp;</content>'
        '</entry><entry><title type="xhtml">x &amp; y</title><id>urn:x:3</id><content type="html"></content>'
        '<summary type="html">&lt;b&gt;sum&lt;/b&gt;</summary></entry>'
    ),
    "Atom: link choice and the id as a fallback link": _atom(
        '<entry><title>A</title><id>https://example.com/id-a</id><link rel="self" href="/self"/>'
        '<link rel="alternate" type="application/atom+xml" href="/other"/><link href="https://example.com/a"/></entry>'
        '<entry><title>B</title><id>https://example.com/id-b</id><link rel="enclosure" href="/e.mp3"/></entry>'
        '<entry><title>C</title><link href="https://example.com/c"/><id>tag:example.com,2003:c</id></entry>'
    ),
    "Atom: authors and contributors": _atom(
        "<entry><title>A</title><id>urn:x:1</id><author><name>Jo</name><email>jo@example.com</email>"
        "<uri>https://example.com/jo</uri></author><contributor><name>C</name></contributor></entry>"
        "<entry><title>B</title><id>urn:x:2</id><author><name>X</name></author><author><email>y@example.com</email>"
        "</author></entry>",
        feed="<author><name>Feed author</name></author>",
    ),
    "Atom: XHTML content, with and without a single enclosing div": _atom(
        '<entry><title>A</title><id>urn:x:1</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
        '<p>Hi <a href="/x">there</a> &amp; <span xml:lang="en">e</span><br/></p></div></content></entry>'
        '<entry><title>B</title><id>urn:x:2</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
        '<p>one</p></div><div xmlns="http://www.w3.org/1999/xhtml">two</div></content></entry>'
        '<entry><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">X <b>bold</b></div></title>'
        '<id>urn:x:3</id><summary type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">s</div></summary></entry>'
    ),
    "Atom: xml:base resolves links and HTML, and leaks past its element": _atom(
        '<entry xml:base="https://example.com/a/"><title>A</title><id>urn:x:1</id><link href="one"/>'
        '<content type="html">&lt;a href="rel"&gt;x&lt;/a&gt;&lt;img src="i.png"&gt;</content></entry>'
        '<entry><title>B</title><id>urn:x:2</id><link href="two"/></entry>',
        attrs='xml:base="https://example.com/root/"',
    ),
    "Atom: a source inside an entry": _atom(
        '<entry><source><title>S</title><id>urn:s</id><link href="https://example.com/s"/><author><name>SA</name>'
        "</author></source><title>A</title><id>urn:x:1</id></entry>"
    ),
    "Atom: dates, Atom 0.3 names included": _atom(
        "<entry><title>A</title><id>urn:x:1</id><published>2003-12-13T08:29:29-04:00</published>"
        "<updated>2003-12-13T18:30:02Z</updated></entry><entry><title>B</title><id>urn:x:2</id>"
        "<issued>2003-12-13T08:29:29-04:00</issued><modified>2003-12-13T18:30:02Z</modified><created>2003-12-13"
        "</created></entry>"
    ),
    "Atom 0.3": b"""<?xml version="1.0" encoding="utf-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#">
<title mode="escaped" type="text/html">Old &amp;lt;b&amp;gt;</title>
<entry><title>A</title><id>tag:x,2003:1</id><link rel="alternate" type="text/html" href="http://example.com/1"/>
<content type="text/html" mode="escaped">&lt;p&gt;x&lt;/p&gt;</content><issued>2003-12-13T08:29:29-04:00</issued>
</entry></feed>""",
    # feedparser's loose parser, after expat gave up
    "whitespace before the declaration: the loose parser": _rss(
        "<item><title>A &amp; B &quot;q&quot;</title><link>https://example.com/?a=1&amp;b=2</link>"
        "<guid>https://example.com/?a=1&amp;b=2</guid><description><![CDATA[<p>&quot;x&quot; &amp;amp; "
        '<a href="/r">r</a></p><br/>]]></description><enclosure url="https://example.com/a.mp3"/><category/>'
        "</item>",
        head="\n",
    ),
    "an undefined entity (HTML's &eacute;): the loose parser": _rss(
        "<item><title>caf&eacute; &nbsp; &bogus; &#233;</title><description>&lt;p&gt;&hellip;&lt;/p&gt;</description>"
        "</item>"
    ),
    "loose parser and XHTML content": _atom(
        '<entry><title>A</title><id>urn:x:1</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
        '<p class="c" title="a &amp; b">Hi &lt;there&gt; <b>x</b></p></div></content></entry>',
        head=" \n",
    ),
}


@pytest.mark.parametrize("body", ACCEPTED.values(), ids=ACCEPTED.keys())
@pytest.mark.parametrize("content_type", [None, "application/xml"])
def test_fast_path_reproduces(body: bytes, content_type: str | None) -> None:
    assert _same(body, content_type)


def test_fast_path_handles_text_content_types_like_feedparser() -> None:
    """text/* without a charset: feedparser tries us-ascii, then falls back; so does the fast path."""
    for body in (RSS, ACCEPTED["ISO-8859-1 declared"], ACCEPTED["windows-1251 declared"]):
        for content_type in ("text/xml", "text/html", "application/xml; charset=iso-8859-1"):
            _same(body, content_type)


#: documents the fast path leaves to feedparser, each for a reason it cannot reproduce
DECLINED = {
    "a handler that is not ported (georss:where)": _rss(
        '<item><title>T</title><georss:where xmlns:georss="http://www.georss.org/georss"><gml:Point '
        'xmlns:gml="http://www.opengis.net/gml"><gml:pos>45 -71</gml:pos></gml:Point></georss:where></item>'
    ),
    "an item inside an item": _rss("<item><title>T</title><item><title>U</title></item></item>"),
    "a textinput inside an item": _rss("<item><title>T</title><textinput><title>x</title></textinput></item>"),
    "a div inside HTML content ('typepad does this')": _rss(
        "<item><title>T</title><description><div>x</div></description></item>"
    ),
    "SVG inside XHTML content": _atom(
        '<entry><title>A</title><id>urn:x:1</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
        '<svg xmlns="http://www.w3.org/2000/svg"><title>t</title></svg></div></content></entry>'
    ),
    "an xlink namespace declared inside content": _atom(
        '<entry><title>A</title><id>urn:x:1</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"'
        ' xmlns:xlink="http://www.w3.org/1999/xlink"><a xlink:href="x">y</a></div></content></entry>'
    ),
    "a prefix bound to another namespace halfway through": _rss(
        '<item><title>T</title><x:a>1</x:a></item><item><title>U</title><x:a xmlns:x="urn:other">2</x:a></item>',
        namespaces='xmlns:x="urn:first"',
    ),
    "an Atom namespace declared inside RDF: from there on the version is Atom's": b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><channel rdf:about="http://example.com/">
<title>RDF</title></channel><item rdf:about="http://example.com/1" xmlns:atom="http://www.w3.org/2005/Atom">
<title>&lt;b&gt;One&lt;/b&gt;</title></item></rdf:RDF>""",
    "an unknown element named like a key feedparser reads back": _rss(
        "<item><title>T</title><updated_parsed>x</updated_parsed></item>"
    ),
    "a creativeCommons license inside an item": _rss(
        '<item><title>T</title><cc:license xmlns:cc="http://backend.userland.com/creativeCommonsRssModule">'
        "https://example.com/l</cc:license></item>"
    ),
    "a podlove chapter without a start (feedparser fails on it)": _rss(
        '<item><title>T</title><psc:chapters xmlns:psc="http://podlove.org/simple-chapters"><psc:chapter title="x"/>'
        "</psc:chapters></item>"
    ),
    "loose parser: tags that do not nest": _rss(
        "<item><title>T</title><description>a <b><i>b</b></i></description></item>", head="\n"
    ),
    "loose parser: elements left open": _rss(f"<item>{ITEM}</item>", head="\n")[:-20],
    "loose parser: an SGML short tag": _rss(
        "<item><title>T</title><description>a <b/x/ c</description></item>", head="\n"
    ),
    "loose parser: a character reference out of range": _rss("<item><title>a &#1114112; b</title></item>", head="\n"),
    "not a feed root": b'<?xml version="1.0"?><html><body><item><title>x</title></item></body></html>',
}


@pytest.mark.parametrize("body", DECLINED.values(), ids=DECLINED.keys())
def test_fast_path_declines_what_it_does_not_reproduce(body: bytes) -> None:
    assert parse_fast(body, None) is None
    try:
        reference = _outcome(body, None, fast=False)
    except Exception as exc:  # feedparser itself fails on some of them
        with pytest.raises(type(exc)):
            _outcome(body, None, fast=True)
        return
    assert _outcome(body, None, fast=True) == reference


def test_fast_path_declines_when_expat_reads_what_lxml_rejects() -> None:
    """lxml refuses elements nested deeper than 256; expat (feedparser's strict parser) reads them.

    The loose parser must not stand in for the strict one there.
    """
    body = _rss(f"<item><title>T</title>{'<x>' * 300}{'</x>' * 300}</item>")
    assert parse_fast(body, None) is None
    assert _difference(body, None) is None


# -- the relative-URI pass over embedded HTML ---------------------------------------------------

HTML = [
    "<p>a &amp; b &nbsp;&foo; &#150; &#x80; &#X41; &#39; &#34; &copy &bogus x</p><!-- c -->",
    '<A HREF=" /x " title=\'q"\' Class=a class=b rel=NoFollow TYPE="TEXT/Html">t</A ><br><br/><hr />',
    '<img src="a.png" alt="1 > 2" / ><p/><x:y a:b="c"/></br></p junk></></3><?pi x?>',
    '<input disabled value=a&b&#38;c&#60 name="&lt;&gt;"><td nowrap>x<y z<q>< a >& &#1234;',
    '<p title="a>b" data-x=\'>\'>x</p><a title="x"y>z</a><a "q">w</a><div>&a.b; &a-</div>',
    "<!DOCTYPE html><p>a</p><![CDATA[x]]><a/b/ <>",  # constructs left to feedparser's own pass
    '<a href="x',  # an unfinished tag: the rest is passed through
    "plain text, no markup at all",
]


#: tags the token pattern skips as coming out unchanged, and near misses that do change
HTML_CANON = [
    '<span class="a b">x</span><p id="">y</p><img alt="x" /><br /><hr /><basefont /><wbr class="w" />',
    '<a href="x">1</a><a href=" x">2</a><a href="x ">3</a><a href="\u00a0x\u2028">4</a><img src="" />',
    '<a rel="nofollow">1</a><a rel="NoFollow">2</a><a type="x">3</a><link type="X" /><link href="y" />',
    "<span title=\"it's\">1</span><span data=\"x\">2</span><object data=\"o\">3</object><q cite=\"c\">",
    '<br class="x"><img alt="x"><br/><img alt="x"/><p class="x"/><span class="x" /><td x="1"  >',
    '<span Class="x"><SPAN class="x"><span class="x" id="y"><span class="&amp;"><span class="<">',
    '<x-y a="b"><svg:g a="b"><a_b c="d"><a b:c="d"><a b-c="d"><a b.c="d"><a _b="c"><a b="c\nd">',
    '<math display="block" xmlns="http://www.w3.org/1998/Math/MathML"><a href="/p?a=1&amp;b=2">x</a>',
]


def _mutations(seed: int, count: int, samples: list[str] = HTML) -> list[str]:
    """Deterministic variations of the samples above, with the characters sgmllib cares about."""
    rnd = random.Random(seed)
    pieces = ['<a href="x">', "</a>", "&amp;", "&#150;", "<br/>", "<!-- x -->", '"', "'", "<?p?>", "&nbsp", "<"]
    out = []
    for _ in range(count):
        text = list(rnd.choice(samples))
        for _ in range(rnd.randint(1, 4)):
            pos = rnd.randint(0, len(text))
            roll = rnd.random()
            if roll < 0.3 and text:
                del text[min(pos, len(text) - 1)]
            elif roll < 0.7:
                text.insert(pos, rnd.choice("<>&;#x/=\"' abAB1-:!?\n"))
            else:
                text.insert(pos, rnd.choice(pieces))
        out.append("".join(text))
    return out


@pytest.mark.parametrize("base", ["", "https://example.com/a/b"])
@pytest.mark.parametrize("content_type", ["text/html", "application/xhtml+xml"])
def test_html_pass_is_feedparsers(base: str, content_type: str) -> None:
    assert fastpath_html.ENABLED
    for sample in [*HTML, *_mutations(7, 1500), *HTML_CANON, *_mutations(11, 1500, HTML_CANON)]:
        assert fastpath_html.resolve(sample, base, content_type) == resolve_relative_uris(
            sample, base, "utf-8", content_type
        ), sample


_REF_IN_ATTR = re.compile("&(?:([a-zA-Z][-.a-zA-Z0-9]*)|#([0-9]+))(;?)")


def _attr_ref(match: re.Match[str]) -> str:
    """The references in an attribute value as the shortcut first wrote them out, one by one."""
    if match.group(2):
        return f"&#{match.group(2)};"
    if match.group(3):
        return f"&{match.group(1)};"
    return f"&{match.group(1)}"


def test_html_pass_attribute_references() -> None:
    """Only ``&#N`` without ``;`` changes; every other reference comes out as it was."""
    rnd = random.Random(5)
    samples = ["&#12;", "&#12", "&#12a", "&#;", "&#x41", "&amp;&#38&lt", "&a.b-c;&#0001&", "a&#1;2&#3"]
    samples += ["".join(rnd.choice("&#;a1.-x ") for _ in range(rnd.randint(1, 12))) for _ in range(20_000)]
    for value in samples:
        expected = _REF_IN_ATTR.sub(_attr_ref, value)
        assert fastpath_html._NUMERIC_REF_NO_SEMICOLON.sub(r"&#\1;", value) == expected, value


def test_html_pass_white_space_is_what_strip_removes() -> None:
    """A URI attribute value is skipped only without surrounding ``\\s``, which must be what ``strip`` removes."""
    for code in range(0x110000):
        char = chr(code)
        assert (re.fullmatch(r"\s", char) is not None) == (char.strip() == ""), hex(code)


def test_html_pass_leaves_unfinished_markup_to_feedparser_in_linear_time() -> None:
    """sgmllib stops at an unclosed comment or tag; scanning on for each of them would be quadratic."""
    for sample in ("<p>x</p><!--" * 20_000, "<p>x</p><a " * 2_000 + "<b"):
        started = time.process_time()
        assert fastpath_html.resolve(sample, "", "text/html") == resolve_relative_uris(sample, "", "utf-8", "text/html")
        assert time.process_time() - started < 10


# -- the checks before any parser -----------------------------------------------------------------


def _declares_entities_reference(body: bytes) -> bool:
    """``declares_entities`` as it was before its shortcut: always over the lowercased probe."""
    probe = feeds._probe(body)
    start = probe.find(b"<!doctype")
    if start < 0:
        return False
    bracket, close = probe.find(b"[", start), probe.find(b">", start)
    if bracket < 0 or (0 <= close < bracket):
        return False
    end = probe.find(b"]", bracket)
    return b"<!entity" in probe[bracket : end if end >= 0 else len(probe)]


ENTITY_BODIES = [
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "b">]><rss/>',
    b'<!doctype rss [<!entity a "b">]><rss/>',
    b"<!DOCTYPE rss><rss><![CDATA[<!ENTITY x>]]></rss>",
    b'<!DocType rss PUBLIC "x" "y" [ <!Entity a "b"> ]><rss/>',
    '<!DOCTYPE rss [<!ENTITY a "b">]><rss/>'.encode("utf-16-le"),
    '<!DOCTYPE rss [<!ENTITY a "b">]><rss/>'.encode("utf-32-be"),
    b"<\x00\x00!\x00D\x00OCTYPE [<!ENTITY",
    b"<rss><![CDATA[x]]><!-- <!d --></rss>",
    b" " * (feeds._PROBE - 2) + b'<!DOCTYPE rss [<!ENTITY a "b">]>',
    b" " * (feeds._PROBE - 40) + b'<!DOCTYPE rss [<!ENTITY a "b">]>',
    b" " * (feeds._PROBE + 5) + b'<!DOCTYPE rss [<!ENTITY a "b">]>',
    b"",
]


def test_entity_check_shortcut_agrees() -> None:
    bodies = list(ENTITY_BODIES)
    if (CORPUS / "manifest.json").is_file():
        bodies += [(CORPUS / e["path"]).read_bytes() for e in json.loads((CORPUS / "manifest.json").read_text())]
    found = [feeds.declares_entities(body) for body in bodies]
    assert found == [_declares_entities_reference(body) for body in bodies]
    assert found[:3] == [True, True, False] and sum(found) >= 6


def test_empty_body_check_is_strip() -> None:
    """``not body or body.isspace()`` is ``not body.strip()`` (the same ASCII white space)."""
    for first in range(256):
        for body in (bytes([first]), bytes([first, 32]), bytes([9, first, 10]), b" " * 5 + bytes([first])):
            assert (not body or body.isspace()) == (not body.strip()), body
    assert not b"" or b"".isspace()


def _fix_reference(text: str) -> str:
    """feedparser's last steps in ``pop``: UTF-8 read as Latin-1 undone, then the cp1252 map."""
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_cp1252)


def test_fix_is_feedparsers() -> None:
    """Every code point up to U+3000, the surrogates and a few others, alone and in company."""
    points = [*range(0x3000), *range(0xD7F0, 0xE010), 0xFFFD, 0xFFFF, 0x1F600, 0x10FFFF]
    for code in points:
        char = chr(code)
        for sample in (char, f"a{char}", f"\u00e9{char}\u2019", f"\u4e2d{char}", f"{char}\x85 \xc3\xa9"):
            assert fastpath_mixin.fix(sample) == _fix_reference(sample), hex(code)

