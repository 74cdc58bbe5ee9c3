"""A fast lxml reader for plain RSS 2.0 that gives exactly what the feedparser path gives.

feedparser stays the reference. This module only accepts documents whose every
relevant detail it can reproduce, and returns None for anything else, so the caller
falls back to feedparser. It reuses feedparser's own helpers (HTML guessing, the
relative-URI pass over embedded HTML, date parsing, the cp1252 and mojibake fixes) so
that the fields it produces are the ones feedparser produces.

Cheap invariants checked before or while reading (any miss means "use feedparser"):

- no DOCTYPE, no ``xml:base``, a UTF-8 (or undeclared) encoding that decodes strictly,
  and a Content-Type that cannot make feedparser pick another charset;
- well-formed XML (lxml, no recovery), root ``<rss version="2.0">`` with one ``<channel>``;
- inside each ``<item>`` only the elements listed in ``_ITEM_ELEMENTS``, each at most
  once where it matters, and none of the text fields has child elements.

``tests/fetch/test_fastpath.py`` compares both paths item by item over the corpus.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, resolve_relative_uris
from lxml import etree

from aggregator.fetch.items import RawItem

_CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
_DC = "{http://purl.org/dc/elements/1.1/}"
#: item children we understand; ``None`` means "read", anything else is ignored by feedparser
#: for the fields we use (categories, comments, enclosures, comment counts).
_READ = {
    "title",
    "link",
    "description",
    "guid",
    "pubdate",
    f"{_CONTENT}encoded",
    "author",
    f"{_DC}creator",
    f"{_DC}date",
}
_IGNORED = {
    "category", "comments", "enclosure",
    "{http://wellformedweb.org/CommentAPI/}commentrss",
    "{http://purl.org/rss/1.0/modules/slash/}comments",
}  # fmt: skip
#: ignored when empty: feedparser keeps only their attributes (media_content, media_thumbnail)
_IGNORED_EMPTY = {"{http://search.yahoo.com/mrss/}content", "{http://search.yahoo.com/mrss/}thumbnail"}
_XML_DECL = re.compile(rb"^<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']", re.I)
_LINK_ENTITY = re.compile("&([A-Za-z0-9_]+);")
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, recover=False, huge_tree=False, remove_blank_text=False, load_dtd=False
)


class _Fallback(Exception):
    """Not something the fast path reproduces exactly."""


def parse_rss(body: bytes, content_type: str | None) -> tuple[list[RawItem], str, bool] | None:
    """(entries, feed title, whether that title is HTML) for a plain RSS 2.0 document, else None."""
    if not _plain_utf8(body, content_type):
        return None
    try:
        root = etree.fromstring(body, _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None
    if root.getroottree().docinfo.doctype:
        return None  # a DOCTYPE (entities, DTD defaults): feedparser's own handling applies
    try:
        return _read(root)
    except _Fallback:
        return None


def _plain_utf8(body: bytes, content_type: str | None) -> bool:
    head = body[:1024]
    if b"xml:base" in body:
        return False
    if content_type:
        mime, _, params = content_type.partition(";")
        mime = mime.strip().lower()
        if mime not in ("application/xml", "application/rss+xml", "application/atom+xml"):
            return False  # text/* defaults to us-ascii in feedparser; others vary
        if params.strip() and params.strip().lower().replace(" ", "") not in ("charset=utf-8", 'charset="utf-8"'):
            return False
    if head.startswith(b"\xef\xbb\xbf"):
        return False
    if not head.startswith(b"<?xml"):
        return False  # leading whitespace or no declaration: feedparser has its own rules
    match = _XML_DECL.match(head)
    if match and match.group(1).lower() not in (b"utf-8", b"utf8"):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _fix(text: str) -> str:
    """feedparser's last steps for every UTF-8 value: mojibake repair, cp1252 code points."""
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_cp1252)


def _text(element: Any, *, attributes: bool = False) -> str:
    if len(element) or (element.attrib and not attributes):
        raise _Fallback  # markup inside a text field: feedparser re-serialises it
    return (element.text or "").strip()


def _html(value: str) -> str:
    return resolve_relative_uris(value, "", "utf-8", "text/html") if value else value


def _read(root: Any) -> tuple[list[RawItem], str, bool]:
    if root.tag != "rss" or root.get("version") != "2.0" or root.nsmap.get(None):
        raise _Fallback
    channels = [c for c in root if c.tag == "channel"]
    if len(channels) != 1 or any(isinstance(c.tag, str) and c.tag not in ("channel",) for c in root):
        raise _Fallback
    channel = channels[0]
    feed_title, title_is_html = "", False
    items = []
    for child in channel:
        tag = child.tag
        if not isinstance(tag, str):
            continue  # comments and processing instructions between elements
        if tag != tag.lower() and tag.lower() in ("item", "title"):
            raise _Fallback
        if tag == "title":
            if feed_title:
                raise _Fallback
            feed_title, title_is_html = _title(_text(child))
        elif tag == "item":
            items.append(_item(child))
        elif "}" in tag and tag.rpartition("}")[2].lower() in ("item", "entry", "title"):
            raise _Fallback
    return items, feed_title, title_is_html


def _title(raw: str) -> tuple[str, bool]:
    if _FeedParserMixin.looks_like_html(raw):  # RSS titles are text/plain unless they look like HTML
        return _fix(_html(raw)), True
    return _fix(raw), False


def _item(item: Any) -> RawItem:
    if item.attrib:
        raise _Fallback  # rdf:about and friends set the id
    seen: dict[str, Any] = {}
    authors: list[str] = []
    for child in item:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        key = tag.lower() if "}" not in tag else tag.rpartition("}")[0] + "}" + tag.rpartition("}")[2].lower()
        if key in _IGNORED or (key in _IGNORED_EMPTY and not len(child) and not (child.text or "").strip()):
            continue
        if key not in _READ or (key in seen and key not in ("author", f"{_DC}creator")):
            raise _Fallback
        if key in ("author", f"{_DC}creator"):
            authors.append(_text(child, attributes=True))
        seen[key] = child
    title, title_is_html = ("", False)
    if "title" in seen:
        title, title_is_html = _title(_text(seen["title"]))
    link: str | None = None
    if "link" in seen:
        link = _link(_text(seen["link"]))
    guid: str | None = None
    if "guid" in seen:
        element = seen["guid"]
        if set(element.attrib) - {"isPermaLink"}:
            raise _Fallback
        permalink = element.get("isPermaLink", "true") == "true"
        raw = _text(element, attributes=True)
        if permalink and raw:
            raw = _urljoin("", raw)
        guid = _fix(raw)
        if permalink and "link" not in seen:
            link = guid
    content = ""
    if f"{_CONTENT}encoded" in seen:
        element = seen[f"{_CONTENT}encoded"]
        content = _fix(_html(_text(element)))
    if not content and "description" in seen:
        element = seen["description"]
        content = _fix(_html(_text(element)))
    published = updated = None
    if "pubdate" in seen:
        published = _parse_date(_fix(_text(seen["pubdate"], attributes=True)))
    if f"{_DC}date" in seen:
        updated = _parse_date(_fix(_text(seen[f"{_DC}date"], attributes=True)))
    return RawItem(
        title=title,
        title_is_html=title_is_html,
        link=link or None,
        content_html=content,
        published=published,
        updated=updated,
        author=_fix(authors[-1]) if authors else None,
        guid=guid or None,
    )


def _link(value: str) -> str:
    if value:
        value = _urljoin("", value)
    value = _fix(value).replace("&amp;", "&")
    return _LINK_ENTITY.sub(r"&\g<1>", value)
