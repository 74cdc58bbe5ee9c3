"""A fast reader for RSS 0.9x/1.0/2.0 and Atom that gives exactly what the feedparser path gives.

feedparser stays the reference; this module only makes the same decisions faster:

- the bytes go through feedparser's own ``convert_to_utf8`` (or :func:`_utf8`, its result
  without the decode/re-encode where it takes UTF-8 at its first try) and ``replace_doctype``,
  so the parser sees exactly the document expat would (same charset choice, same fallbacks);
- lxml builds the tree in C; :mod:`aggregator.fetch.fastpath_mixin` then replays
  feedparser's element handlers over it (same names, same flags, same field choices);
- where expat (feedparser's strict parser) fails too, feedparser uses its loose sgmllib
  parser; :mod:`aggregator.fetch.fastpath_loose` reproduces that tokenizer instead;
- embedded HTML goes through :mod:`aggregator.fetch.fastpath_html`, a faster but exact
  version of feedparser's relative-URI pass, and dates through feedparser's own parser.

It returns None (the caller then runs feedparser) for anything it does not reproduce: a
document lxml rejects but expat reads, a DOCTYPE left in place, namespace declarations below
the root that would rename elements, handlers that are not ported, SVG/MathML and some
other markup inside content elements, tags that do not nest (loose parser), and states in
which feedparser itself fails. ``tests/fetch/test_fastpath.py`` compares both paths over
the shared corpus and hand-written cases.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from typing import Any
from xml.parsers import expat

from feedparser.encodings import RE_XML_DECLARATION, RE_XML_PI_ENCODING, convert_to_utf8, parse_content_type
from feedparser.sanitizer import replace_doctype
from lxml import etree

from aggregator.fetch.fastpath_loose import replay_loose
from aggregator.fetch.fastpath_mixin import MATCH_NAMESPACES, Decline, Entry, Replay, text
from aggregator.fetch.items import RawItem
from aggregator.fetch.sanitize import text_to_html

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, recover=False, huge_tree=False, remove_blank_text=False, load_dtd=False
)
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_ROOTS = ("rss", "feed", "rdf_rdf")
_RSS090 = "http://my.netscape.com/rdf/simple/0.9/"
_RSS10 = "http://purl.org/rss/1.0/"
_ATOM10 = "http://www.w3.org/2005/atom"
_CANONICAL = frozenset(MATCH_NAMESPACES.values())
_XLINK = "http://www.w3.org/1999/xlink"
_XML = "http://www.w3.org/XML/1998/namespace"

FastResult = tuple[list[RawItem], str, bool]


def parse_fast(body: bytes, content_type: str | None) -> FastResult | None:
    """(entries, feed title, whether that title is HTML) as the feedparser path finds them, or None."""
    headers = {"content-type": content_type} if content_type else {}
    data = _utf8(headers, body)
    if data is None:
        result: dict[str, Any] = {}
        data = convert_to_utf8(headers, body, result)
        if not result.get("encoding"):
            return None
    _, data, entities = replace_doctype(data)
    if entities:
        return None
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        root = None
    try:
        if root is None:
            if _expat_accepts(data):
                return None  # lxml is stricter here than expat: feedparser's strict parser reads it
            replay = Replay("", _no_names, {}, {}, loose=True)
            replay_loose(data.decode("utf-8", "replace"), replay)
            if not replay.entries and not replay.feeddata:
                return None
        else:
            if root.getroottree().docinfo.doctype:
                return None
            names, namespacemap, prefixes, version = _namespaces(root, data)
            replay = Replay(version, names, namespacemap, prefixes)
            if names(root.tag)[0] not in _ROOTS:
                return None
            replay.element(root, "")
    except Decline:
        return None
    if not replay.version:
        return None
    title, title_is_html = _feed_title(replay.feeddata)
    return [_item(entry) for entry in replay.entries], title, title_is_html


Names = Callable[[str], tuple[str, bool, str]]

#: ``RE_XML_DECLARATION`` over the bytes: the same match in valid UTF-8, where ``>`` is one byte
_DECLARATION = re.compile(RE_XML_DECLARATION.pattern.encode(), RE_XML_DECLARATION.flags & ~re.UNICODE)
_NEW_DECLARATION = b"<?xml version='1.0' encoding='utf-8'?>"
_NO_BOM = frozenset(b"< \t\r\n")


def _utf8(headers: dict[str, str], data: bytes) -> bytes | None:
    """What ``convert_to_utf8`` returns where it decodes the body as UTF-8 at its first try, else None.

    That is the common case, in which it decodes and re-encodes the whole body only to
    swap the XML declaration; the same bytes come from a validity check and one copy.
    """
    if not data or data[0] not in _NO_BOM or data[1:2] == b"\x00":
        return None  # a byte-order mark or a UTF-16/32/EBCDIC ``<?xm``: feedparser transcodes first
    xml_encoding = ""
    found = RE_XML_PI_ENCODING.match(data)
    if found:
        try:
            xml_encoding = found.group(1).decode("utf-8").lower()
        except UnicodeDecodeError:
            return None
    http_type, http_encoding = parse_content_type(headers.get("content-type") or "")
    if http_type in ("application/xml", "application/xml-dtd", "application/xml-external-parsed-entity") or (
        http_type.startswith("application/") and http_type.endswith("+xml")
    ):
        encoding = http_encoding or xml_encoding or "utf-8"
    elif http_type.startswith("text/"):
        encoding = http_encoding or "us-ascii"
    elif headers and "content-type" not in headers:
        encoding = xml_encoding or "iso-8859-1"  # pragma: no cover - headers hold at most a content-type
    else:
        encoding = xml_encoding or "utf-8"
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        return None
    if codec == "ascii" and data.isascii():
        pass  # what decodes as ASCII is its own UTF-8
    elif codec != "utf-8":
        return None
    elif not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None  # feedparser goes on to its other candidates
    declaration = _DECLARATION.match(data)
    if declaration is None:
        return _NEW_DECLARATION + b"\n" + data
    return _NEW_DECLARATION + data[declaration.end() :]


def _expat_accepts(data: bytes) -> bool:
    """True if expat, feedparser's strict parser, reads the document (lxml did not)."""
    parser = expat.ParserCreate(None, " ")
    parser.namespace_prefixes = True
    try:
        parser.Parse(data, True)
    except expat.ExpatError:
        return False
    return True


def _no_names(tag: str) -> tuple[str, bool, str]:
    raise Decline  # the loose replay names elements itself


def _namespaces(root: Any, data: bytes) -> tuple[Names, dict[str | None, str], dict[str, str], str]:
    """Element tag → (feedparser's handler key, unprefixed, its name), the prefix maps, and the version.

    The second map gives, for the attributes, the one prefix the document uses for a namespace.

    Mirrors ``track_namespace`` and the strict parser's ``startElementNS``. Declarations
    below the root are accepted only when they change neither mapping.
    """
    namespacemap: dict[str | None, str] = {}
    in_use: dict[str, str] = {}
    version = ""
    declarations = [(prefix or None, uri) for prefix, uri in root.nsmap.items()]
    if data.count(b"xmlns") > len(declarations):
        everything = [(prefix or None, uri) for _, (prefix, uri) in etree.iterwalk(root, events=("start-ns",))]
        later = everything[len(declarations) :]
    else:
        later = []
    for prefix, uri in declarations:
        if not uri:
            continue
        lower = uri.lower()
        if not version:
            if (prefix, lower) == (None, _RSS090):
                version = "rss090"
            elif lower == _RSS10:
                version = "rss10"
            elif lower == _ATOM10:
                version = "atom10"
        _track(prefix, uri, namespacemap, in_use, root=True)
    rooted = root.tag in ("rss", "feed") or root.tag.endswith("}feed")  # their start handler sets the version
    for prefix, uri in later:
        if uri:
            if not version and not rooted:  # ``track_namespace`` sets the version where it meets one
                if uri.lower() == _ATOM10:
                    raise Decline  # from there on, text would no longer be checked for HTML
                if uri.lower() == _RSS10 or (prefix, uri.lower()) == (None, _RSS090):
                    version = "rss10" if uri.lower() == _RSS10 else "rss090"  # behaves as "" did before it
            _track(prefix, uri, namespacemap, in_use, root=False)
    cache: dict[str, tuple[str, bool, str]] = {}

    def names(tag: str) -> tuple[str, bool, str]:
        hit = cache.get(tag)
        if hit is None:
            hit = cache[tag] = _name(tag, namespacemap, in_use)
        return hit

    written: dict[str, set[str]] = {_XML: {"xml"}}
    for prefix, uri in (*declarations, *later):
        if prefix:
            written.setdefault(uri, set()).add(prefix)
    prefixes = {uri: next(iter(found)) for uri, found in written.items() if len(found) == 1}
    return names, namespacemap, prefixes, version


def _track(
    prefix: str | None, uri: str, namespacemap: dict[str | None, str], in_use: dict[str, str], *, root: bool
) -> None:
    """``track_namespace``; a declaration below the root must not rename elements seen before it.

    ``in_use`` maps a name to its namespace, as ``namespaces_in_use``: the canonical prefix
    of a known namespace, else the document's prefix, which then names that namespace's
    elements. ``namespacemap`` maps a document prefix to the canonical one.
    """
    lower = uri.lower()
    if not root and prefix and lower == _XLINK:
        raise Decline  # the strict parser copies it onto the element as an xmlns:... attribute
    if "backend.userland.com/rss" in lower:
        uri = lower = "http://backend.userland.com/rss"
    known = MATCH_NAMESPACES.get(lower)
    if known is None:
        if prefix is not None:
            if in_use.get(prefix, uri) != uri:
                raise Decline  # the name would move to another namespace
            in_use[prefix] = uri
        return  # a default namespace: never used to name elements
    if known and in_use.get(known, uri) != uri and in_use[known].lower() not in MATCH_NAMESPACES:
        raise Decline  # a known namespace takes the name of an unknown one
    if prefix is not None:
        if namespacemap.get(prefix, known) != known:
            raise Decline  # the prefix would switch to another handler set
        if not root and prefix not in namespacemap and prefix != known and (prefix in _CANONICAL or prefix in in_use):
            raise Decline  # element names with that prefix would change from here on
        namespacemap[prefix] = known
    in_use[known] = uri


def _name(tag: str, namespacemap: dict[str | None, str], in_use: dict[str, str]) -> tuple[str, bool, str]:
    """(handler key, unprefixed, the name ``startElementNS`` gives ``unknown_starttag``)."""
    if tag[0] == "{":
        namespace: str | None
        namespace, _, local = tag[1:].partition("}")
    else:
        namespace, local = None, tag
    lower = namespace.lower() if namespace else ""
    if "backend.userland.com/rss" in lower:
        namespace = lower = "http://backend.userland.com/rss"
    prefix = MATCH_NAMESPACES.get(lower)
    name = local.lower()
    if prefix:
        name = f"{prefix.lower()}:{name}"
    elif namespace:
        for declared, value in in_use.items():
            if declared and value == namespace:
                name = f"{declared}:{local}".lower()
                break
    if ":" not in name:
        return name, True, name
    given, _, suffix = name.partition(":")
    mapped = namespacemap.get(given, given)
    return (f"{mapped}_{suffix}", False, name) if mapped else (suffix, True, name)


def _as_html(value: str, mime: str | None) -> str:
    return value if mime in _HTML_TYPES or mime is None else text_to_html(value)


def _item(entry: Entry) -> RawItem:
    """What ``feeds._entry`` makes of the same feedparser entry."""
    content = ""
    for part in entry.get("content") or []:
        value = text(part.get("value"))
        if value:
            content = _as_html(value, part.get("type"))
            if part.get("type") in _HTML_TYPES:
                break
    if not content:
        detail = entry.get("summary_detail") or {}
        content = _as_html(text(entry.get("summary", "")), detail.get("type"))
    title_detail = entry.get("title_detail") or {}
    return RawItem(
        title=entry.get("title", ""),
        title_is_html=title_detail.get("type") in _HTML_TYPES,
        link=entry.get("link"),
        content_html=content,
        published=entry.get("published_parsed") or entry.get("created_parsed"),
        updated=entry.get("updated_parsed"),
        author=entry.get("author"),
        guid=entry.get("id"),
    )


def _feed_title(feed: Entry) -> tuple[str, bool]:
    detail = feed.get("title_detail") or {}
    return feed.get("title", ""), detail.get("type") in _HTML_TYPES
