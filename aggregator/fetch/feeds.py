"""Bytes → entries for feeds: RSS 0.9x/1.0/2.0, Atom 0.3/1.0, RDF (feedparser), JSON Feed 1.x and RSS-in-JSON (ours).

The format is detected from the body, whatever the Content-Type says. feedparser is
only ever handed a file-like object over bytes: given a str it may fetch a URL, and
given bytes it tries ``open()`` on them as a file name first. Documents that declare
XML entities are refused before any parser sees them (billion laughs, XXE).
"""

from __future__ import annotations

import html
import io
import json
import re
from dataclasses import dataclass
from typing import Any

import feedparser

from aggregator.fetch.errors import NotAFeed, ParseError
from aggregator.fetch.fastpath import parse_fast
from aggregator.fetch.items import RawItem
from aggregator.fetch.sanitize import clean_text, html_to_text, text_to_html

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_LOGIN_HINTS = re.compile(rb"type\s*=\s*[\"']?password|<title>[^<]{0,80}(?:log ?in|sign ?in)", re.I)
_PROBE = 1_000_000
_HTML_TITLE = re.compile(rb"<title[^>]*>([^<]{1,300})</title", re.I)


@dataclass(frozen=True)
class ParsedFeed:
    """Entries and the feed's own title."""

    entries: list[RawItem]
    title: str | None


def _probe(body: bytes) -> bytes:
    """The start of the body, lowercased, with UTF-16/32 NULs dropped so ASCII markup shows."""
    return body[:_PROBE].replace(b"\x00", b"").lower()


#: what ``<!d`` / ``<!D`` is in the body when the probe (NULs dropped, lowercased) holds ``<!d``
_DOCTYPE_START = re.compile(rb"<\x00*!\x00*[dD]")
_DOCTYPE_START_NO_NUL = re.compile(rb"<![dD]")  # the same where there is no NUL (faster)


def declares_entities(body: bytes) -> bool:
    """True if the DOCTYPE has an internal subset declaring entities."""
    pattern = _DOCTYPE_START if body.find(b"\x00", 0, _PROBE) >= 0 else _DOCTYPE_START_NO_NUL
    if pattern.search(body, 0, _PROBE) is None:
        return False  # no ``<!doctype`` in the probe: skip copying and lowercasing a megabyte
    probe = _probe(body)
    start = probe.find(b"<!doctype")
    if start < 0:
        return False
    bracket, close = probe.find(b"[", start), probe.find(b">", start)
    if bracket < 0 or (0 <= close < bracket):
        return False
    end = probe.find(b"]", bracket)
    subset = probe[bracket : end if end >= 0 else len(probe)]
    return b"<!entity" in subset


def _lstrip(probe: bytes) -> bytes:
    probe = probe.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()
    return probe.removeprefix(b"\xff\xfe").removeprefix(b"\xfe\xff").lstrip()


def looks_like_html(body: bytes, *, anywhere: bool = False) -> bool:
    """True if the body is an HTML page (at its start, or anywhere in the first part)."""
    head = _lstrip(_probe(body[:4096]))
    while head.startswith(b"<!--") and b"-->" in head:
        head = head[head.index(b"-->") + 3 :].lstrip()
    if head.startswith((b"<!doctype html", b"<html")):
        return True
    return anywhere and (b"<html" in head or b"<body" in head)


def html_error(body: bytes) -> NotAFeed:
    """The plain-language error for HTML where a feed was expected, naming the page by its title.

    The title is often the whole story: "Document Moved", "404 Not Found" sent with a 200,
    "Just a moment..." (a bot check), "Sign in".
    """
    if _LOGIN_HINTS.search(body[:_PROBE]):
        return NotAFeed("not a feed: got an HTML login page (does the source need credentials?)")
    found = _HTML_TITLE.search(body[:_PROBE])
    title = clean_text(html.unescape(found.group(1).decode("utf-8", "replace")), limit=80) if found else ""
    if title:
        return NotAFeed(f"not a feed: got an HTML page titled {title!r}")
    return NotAFeed("not a feed: got an HTML page")



def is_json(body: bytes) -> bool:
    """True if the body starts (after a BOM and whitespace) like a JSON object."""
    return _lstrip(body[:1024]).startswith(b"{")


def parse_feed(body: bytes, *, url: str, content_type: str | None, fast: bool = True) -> ParsedFeed:
    """Entries of a feed document; raises ParseError/NotAFeed with a plain message.

    ``fast``: RSS 0.9x/1.0/2.0, RDF and Atom 0.3/1.0 in any charset are read by
    :mod:`aggregator.fetch.fastpath`, which replays feedparser's own handlers over an lxml
    tree (about 5x less CPU) and declines anything it cannot reproduce exactly; the corpus
    test shows identical entries for every file. ``fast=False`` always uses feedparser
    (the reference, used by that equivalence test).
    """
    if not body or body.isspace():  # ``not body.strip()`` without copying the body
        raise NotAFeed("not a feed: the response body is empty")
    if declares_entities(body):
        raise ParseError("XML entities refused: the document declares entities in its DOCTYPE")
    if is_json(body):
        return parse_json_feed(body)
    if looks_like_html(body):
        raise html_error(body)
    if fast:
        quick = parse_fast(body, content_type)
        if quick is not None:
            entries, title, title_is_html = quick
            title = html_to_text(title, limit=500) if title_is_html else clean_text(title, limit=500)
            return ParsedFeed(entries, title or None)
    # Only the Content-Type is passed: with a content-location feedparser resolves even
    # guids as relative URLs (so keys would change when a feed moves); build_items
    # resolves links against the final URL instead. Without a Content-Type no headers
    # at all, since feedparser's charset fallbacks differ when any header is present.
    headers = {"content-type": content_type} if content_type else None
    result = feedparser.parse(
        io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=True
    )
    if not result.get("version") and not result.entries:
        if looks_like_html(body, anywhere=True):
            raise html_error(body)
        reason = result.get("bozo_exception")
        detail = f" ({_xml_reason(reason)})" if reason else ""
        raise NotAFeed(f"not a feed: the document is not RSS, Atom or JSON Feed{detail}")
    feed = result.get("feed", {})
    return ParsedFeed([_entry(e) for e in result.entries], _title(feed) or None)


def _xml_reason(exc: object) -> str:
    text = str(exc)
    match = re.search(r":(\d+):\d+: (.*)$", text)
    if match:
        return f"{match.group(2)} at line {match.group(1)}"
    return clean_text(text, limit=120) or type(exc).__name__


def _title(node: Any) -> str:
    title = node.get("title", "")
    detail = node.get("title_detail") or {}
    if detail.get("type") in _HTML_TYPES:
        return html_to_text(title, limit=500)
    return clean_text(title, limit=500)


def _entry(entry: Any) -> RawItem:
    content = ""
    for part in entry.get("content") or []:
        if part.get("value"):
            content = _as_html(part.get("value", ""), part.get("type"))
            if part.get("type") in _HTML_TYPES:
                break
    if not content:
        detail = entry.get("summary_detail") or {}
        content = _as_html(entry.get("summary", ""), detail.get("type"))
    title_detail = entry.get("title_detail") or {}
    return RawItem(
        title=entry.get("title", ""),
        title_is_html=title_detail.get("type") in _HTML_TYPES,
        link=entry.get("link"),
        content_html=content,
        published=entry.get("published_parsed") or entry.get("created_parsed"),
        # dict.get: FeedParserDict.get("updated_parsed") warns and falls back to published.
        updated=dict.get(entry, "updated_parsed"),
        author=entry.get("author"),
        guid=entry.get("id"),
    )


def _as_html(value: str, mime: str | None) -> str:
    if mime in _HTML_TYPES or mime is None:
        return value
    return text_to_html(value)


def parse_json_feed(body: bytes) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1), which feedparser 6 lacks; and RSS-in-JSON."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise NotAFeed("not a feed: the body is not valid JSON") from exc
    channel = _rss_in_json_channel(data)
    if channel is not None:
        return _parse_rss_in_json(channel)
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise NotAFeed("not a feed: JSON without a JSON Feed 'items' list (nor RSS-in-JSON's rss.channel)")
    entries = [_json_item(item) for item in data["items"] if isinstance(item, dict)]
    title = data.get("title")
    return ParsedFeed(entries, clean_text(title, limit=500) if isinstance(title, str) else None)


def _str(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _json_item(item: dict[str, Any]) -> RawItem:
    content = _str(item.get("content_html")) or ""
    if not content:
        text = _str(item.get("content_text")) or _str(item.get("summary")) or ""
        content = text_to_html(text)
    authors = item.get("authors")
    author_obj = authors[0] if isinstance(authors, list) and authors else item.get("author")
    author = _str(author_obj.get("name")) if isinstance(author_obj, dict) else None
    return RawItem(
        title=_str(item.get("title")) or "",
        link=_str(item.get("url")) or _str(item.get("external_url")),
        content_html=content,
        published=_str(item.get("date_published")),
        updated=_str(item.get("date_modified")),
        author=author,
        guid=_str(item.get("id")),
    )


def _rss_in_json_channel(data: object) -> dict[str, Any] | None:
    """The channel of an RSS-in-JSON document (``{"rss": {"channel": {...}}}``), else None."""
    rss = data.get("rss") if isinstance(data, dict) else None
    channel = rss.get("channel") if isinstance(rss, dict) else None
    return channel if isinstance(channel, dict) else None


def _parse_rss_in_json(channel: dict[str, Any]) -> ParsedFeed:
    """RSS 2.0 written as JSON (Scripting News; https://github.com/scripting/Scripting-News, rss-in-json).

    Elements become keys of the same names; a repeated element is a list, a single one may
    be an object; ``description`` is HTML, as in RSS.
    """
    items = channel.get("item", [])
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise NotAFeed("not a feed: RSS-in-JSON whose channel 'item' is not a list")
    entries = [_rss_in_json_item(item) for item in items if isinstance(item, dict)]
    title = _str(channel.get("title"))
    return ParsedFeed(entries, clean_text(title, limit=500) if title else None)


def _rss_in_json_item(item: dict[str, Any]) -> RawItem:
    guid = item.get("guid")
    if isinstance(guid, dict):  # {"#value"/"value": ..., "isPermaLink": ...} in some writers
        guid = guid.get("#value", guid.get("value"))
    return RawItem(
        title=_str(item.get("title")) or "",
        link=_str(item.get("link")),
        content_html=_str(item.get("description")) or "",
        published=_str(item.get("pubDate")),
        author=_str(item.get("author")) or _str(item.get("dc:creator")),
        guid=_str(guid),
    )
