"""feedparser's loose parser, reproduced: the sgmllib tokenizer driving the same handlers.

When expat rejects a document (most often: whitespace before ``<?xml``, to which
feedparser's own ``convert_to_utf8`` then prepends a second declaration), feedparser
feeds the text to ``LooseFeedParser``: ``sgmllib`` finds the tags, entity and character
references, CDATA sections and comments, and the same ``_FeedParserMixin`` handlers run,
with three loose-only twists (attribute values keep ``&...;`` except ``&amp;``, entity
references stay escaped until ``decode_entities``, element names keep the document's
prefixes). :func:`replay_loose` tokenizes with the regular expressions sgmllib and
feedparser use, in the order sgmllib tries them, and drives :class:`Replay` with the
resulting events. Documents whose tags do not nest (which sgmllib tolerates) are
declined, as are the sgmllib constructs :mod:`aggregator.fetch.fastpath_html` declines.
"""

from __future__ import annotations

import html.entities
import re

from aggregator.fetch.fastpath_html import ATTRFIND, ENDBRACKET, PRE_DECL, PRE_SHORT, TAGFIND, attribute_refs, shorttag
from aggregator.fetch.fastpath_mixin import MATCH_NAMESPACES, Decline, Replay, _Spec

_TAGS = (
    r"<(?:(?P<bail>>|[a-zA-Z][-.a-zA-Z0-9]*+/)"
    rf"|(?P<st>[a-zA-Z]{ENDBRACKET})(?P<stgt>>)?"
    rf"|(?P<et>/{ENDBRACKET})(?P<etgt>>)?"
    r"|!--(?P<com>(?s:.*?))--\s*>"
    r"|(?P<pi>\?[^>]*>)"
    r"|(?P<decl>!(?!--))"
    r"|(?P<brk>[a-zA-Z/?]|!--))"
)
_REFS = r"(?:#(?P<cr>[0-9]+|[xX][0-9a-fA-F]+);|(?P<er>[a-zA-Z][-.a-zA-Z0-9]*)(?:;|(?=[^a-zA-Z0-9])))"
#: the tokens of sgmllib's ``goahead``, as in fastpath_html but every tag is an event here
_TOKEN = re.compile(rf"{_TAGS}|&{_REFS}")
#: the same without the references the handlers keep as they are (``&lt;``, ``&#60;``...):
#: outside XHTML content they can stay in the text around them
_TOKEN_SKIPPING_KEPT = re.compile(
    rf"{_TAGS}|&(?!(?:lt|gt|quot|amp|apos|#(?:34|38|39|60|62|x22|x26|x27|x3c|x3e));){_REFS}"
)
_KEPT_CHARREFS = frozenset({"34", "38", "39", "60", "62", "x22", "x26", "x27", "x3c", "x3e"})
_KEPT_ENTITIES = frozenset({"lt", "gt", "quot", "amp", "apos"})
_CODEPOINTS = html.entities.name2codepoint
_RSS090 = "http://my.netscape.com/rdf/simple/0.9/"
_RSS10 = "http://purl.org/rss/1.0/"
_ATOM10 = "http://www.w3.org/2005/atom"


def _starttag(data: str, i: int, j: int) -> tuple[str, list[tuple[str, str]]]:
    """sgmllib's ``parse_starttag`` between ``<`` and the end bracket, then the loose
    ``_normalize_attributes``: (tag, [(name, value)])."""
    found = TAGFIND.match(data, i + 1)
    if found is None:
        raise Decline
    k = found.end()
    tag = data[i + 1 : k].lower()
    attrs: list[tuple[str, str]] = []
    while k < j:
        match = ATTRFIND.match(data, k)
        if not match:
            break
        name, rest, value = match.group(1, 2, 3)
        if not rest:
            value = name
        else:
            if value[:1] == "'" == value[-1:] or value[:1] == '"' == value[-1:]:
                value = value[1:-1]
            value = attribute_refs(value)
        name = name.lower()
        if name in ("rel", "type"):
            value = value.lower() or value
        attrs.append((name, value.replace("&amp;", "&")))
        k = match.end()
    return tag, attrs


def _strattrs(attrs: list[tuple[str, str]]) -> str:
    """The loose parser's ``strattrs``."""
    return "".join(' {}="{}"'.format(name, value.replace('"', "&quot;")) for name, value in attrs)


class _Loose:
    """Element names, namespaces and open tags as the loose parser sees them."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay
        self.specs: dict[str, _Spec] = {}
        self.open: list[tuple[str, bool, str]] = []  # (tag, inside content, handler key)

    def track_namespace(self, prefix: str | None, uri: str) -> None:
        """``track_namespace`` (only what names and the version need)."""
        replay = self.replay
        lower = uri.lower()
        if not replay.version:
            if (prefix, lower) == (None, _RSS090):
                replay.version = "rss090"
            elif lower == _RSS10:
                replay.version = "rss10"
            elif lower == _ATOM10:
                replay.version = "atom10"
        if "backend.userland.com/rss" in lower:
            lower = "http://backend.userland.com/rss"
        known = MATCH_NAMESPACES.get(lower)
        if known is not None and replay.namespacemap.get(prefix) != known:
            replay.namespacemap[prefix] = known
            self.specs.clear()

    def spec(self, tag: str) -> _Spec:
        spec = self.specs.get(tag)
        if spec is None:
            given, colon, suffix = tag.partition(":")
            if not colon:
                given, suffix = "", tag
            prefix = self.replay.namespacemap.get(given, given)
            key = f"{prefix}_{suffix}" if prefix else suffix
            spec = self.specs[tag] = self.replay.spec_for(key, not prefix)
        return spec

    def start(self, tag: str, attrs: list[tuple[str, str]]) -> None:
        """``unknown_starttag``."""
        replay = self.replay
        attrs_d = dict(attrs)
        replay.begin(attrs_d)
        for name, value in attrs:
            if name.startswith("xmlns:"):
                self.track_namespace(name[6:], value)
            elif name == "xmlns":
                self.track_namespace(None, value)
        if replay.incontent:
            replay.open_inline(tag, _strattrs(attrs))
            self.open.append((tag, True, ""))
        else:
            spec = self.spec(tag)
            replay.open(spec, attrs_d, self.open[-1][2] if self.open else "", begun=True)
            self.open.append((tag, False, spec[0]))

    def end(self, tag: str) -> None:
        """``unknown_endtag``, for tags that nest."""
        if not self.open or self.open[-1][0] != tag:
            raise Decline  # sgmllib does not care; the replay's bookkeeping does
        _, inline, _ = self.open.pop()
        spec = self.spec(tag)
        if inline:
            self.replay.close_inline(spec[0], tag)
        else:
            self.replay.close(spec)

    def raw(self, text: str) -> None:
        """Text the handlers append as is (references, CDATA)."""
        stack = self.replay.stack
        if stack:
            stack[-1][2].append(text)


def replay_loose(text: str, replay: Replay) -> None:
    """Feed ``text`` (the document as ``LooseFeedParser.feed`` gets it) to ``replay``."""
    data = PRE_DECL.sub(r"&lt;!\1", text)
    data = PRE_SHORT.sub(shorttag, data)
    data = data.replace("&#39;", "'").replace("&#34;", '"')
    loose = _Loose(replay)
    every, skipping = _TOKEN.search, _TOKEN_SKIPPING_KEPT.search
    params = replay.contentparams
    pos, n = 0, len(data)
    while pos < n:
        if replay.contentparams is not params:
            params = replay.contentparams
        search = every if params.get("type") == "application/xhtml+xml" else skipping
        match = search(data, pos)
        start = match.start() if match else n
        if start > pos and replay.stack:
            replay.data(data[pos:start])
        if match is None:
            break
        kind = match.lastgroup
        pos = match.end()
        if kind == "stgt" or kind == "st":
            j = match.end("st")
            tag, attrs = _starttag(data, start, j)
            loose.start(tag, attrs)
            if data[pos - 2 : pos] == "/>":
                loose.end(tag)  # _BaseHTMLProcessor.parse_starttag, for application/xhtml+xml
        elif kind == "etgt" or kind == "et":
            tag = match.group("et")[1:].strip().lower()
            found = TAGFIND.match(tag)
            loose.end(found.group(0) if found is not None else tag)
        elif kind == "cr":
            if replay.stack:
                ref = match.group("cr").lower()
                if ref in _KEPT_CHARREFS:
                    loose.raw(f"&#{ref};")
                else:
                    code = int(ref[1:], 16) if ref[0] == "x" else int(ref)
                    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                        raise Decline  # feedparser fails on it
                    loose.raw(chr(code))
        elif kind == "er":
            if replay.stack:
                ref = match.group("er")
                if ref in _KEPT_ENTITIES or ref not in _CODEPOINTS:
                    loose.raw(f"&{ref};")
                else:
                    loose.raw(chr(_CODEPOINTS[ref]))
        elif kind == "decl":
            if data.startswith("<![CDATA[", start):
                close = data.find("]]>", start)
                if close < 0:
                    break  # the rest of the document is swallowed
                loose.raw(data[start + 9 : close].replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;"))
                pos = close + 3
            else:
                close = data.find(">", start)
                if close < 0:
                    if replay.stack:
                        replay.data(data[start:])
                    break
                pos = close + 1
        elif kind == "brk":
            if replay.stack:
                replay.data(data[start:])  # sgmllib stops at an unfinished token: the rest is data
            break
        elif kind == "bail":
            raise Decline  # ``<>`` or an SGML short tag
        # comments and processing instructions are ignored
    if loose.open:
        raise Decline  # elements left open: never closed in feedparser either
