"""feedparser's element handlers, replayed over an lxml tree for the fields funnelfeed reads.

feedparser turns SAX events into entries with ``feedparser.mixin._FeedParserMixin``: one
handler per element name, a stack of open elements collecting their text, and a dozen
flags (in an entry, in an image, in a content element, title depth, ...) whose interplay
decides which element wins a field. :class:`Replay` ports that machinery literally for
the handlers that matter, walking the already-parsed lxml tree in document order instead
of receiving SAX callbacks, and skips the storage of keys nobody reads. Element names
are formed exactly as feedparser's strict parser forms them (namespace URI → its
canonical prefix, else the document's prefix), so the same handler runs.

Markup inside a content element is written back out as feedparser does (XHTML content,
HTML that "declared itself as escaped markup, but it isn't"); HTML values are kept as
:class:`Html` and go through the relative-URI pass only if read. An element whose handler
is not ported, SVG/MathML inside content, and states in which feedparser fails or its
bookkeeping goes astray raise :class:`Decline`; the document then goes to feedparser
itself. Docstrings name the feedparser method each part reproduces.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from collections.abc import Callable
from typing import Any

from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri
from feedparser.util import FeedParserDict

from aggregator.fetch.fastpath_html import resolve

_MIXIN = _FeedParserMixin


def _looks_like_html(text: str) -> bool:
    """``looks_like_html``, which needs a close tag or a reference: without ``<`` or ``&`` it is False."""
    return ("<" in text or "&" in text) and _MIXIN.looks_like_html(text)


_map_content_type = _MIXIN.map_content_type
#: namespace URI (lowercased) → canonical prefix, as ``_FeedParserMixin._matchnamespaces``
MATCH_NAMESPACES = {uri.lower(): prefix for uri, prefix in _MIXIN.namespaces.items()}
_HANDLED = {name[7:] for name in dir(_MIXIN) if name.startswith("_start_")} | {
    name[5:] for name in dir(_MIXIN) if name.startswith("_end_")
}
_END_HANDLED = frozenset(name[5:] for name in dir(_MIXIN) if name.startswith("_end_"))
_HTML_TYPES = frozenset(_MIXIN.html_types)
_DEFAULT_TYPES = {t: _map_content_type(t) for t in ("text/plain", "text/html", "application/xhtml+xml")}
_HTMLISH: dict[str, bool] = {}


def _htmlish(content_type: str) -> bool:
    """``map_content_type(type) in html_types``, memoised."""
    known = _HTMLISH.get(content_type)
    if known is None:
        if len(_HTMLISH) > 1000:
            _HTMLISH.clear()
        known = _HTMLISH[content_type] = _map_content_type(content_type) in _HTML_TYPES
    return known


_CAN_BE_RELATIVE = frozenset(_MIXIN.can_be_relative_uri)
_CAN_CONTAIN_RELATIVE = frozenset(_MIXIN.can_contain_relative_uris)
_KEYMAP = FeedParserDict.keymap


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: keys feedparser's handlers read back or funnelfeed uses: an unhandled element whose
#: name lands on one of them would change what the ported handlers see
_MANAGED = _words(
    """
    title title_detail link links summary summary_detail content id guidislink published_parsed updated_parsed
    created_parsed expired_parsed author author_detail authors contributors publisher publisher_detail publishers
    tags image textinput where media_content media_thumbnail media_credit media_rating media_restriction
    media_license media_player psc_chapters generator_detail license cloud
    """
)
_UNSAFE_GENERIC = _MANAGED | {
    key for key, value in _KEYMAP.items() if _MANAGED & ({value} if isinstance(value, str) else set(value))
}
_LINK_ENTITY = re.compile("&([A-Za-z0-9_]+);")
#: a C1 control (U+0080-U+009F, what ``_cp1252`` maps) in the UTF-8 bytes, where ``\xc2`` only ever
#: leads U+0080-U+00BF: encoding and a byte search cost a third of a ``[\x80-\x9f]`` scan of the str
_C1_UTF8 = re.compile(b"\xc2[\x80-\x9f]")
_EMAIL = re.compile(
    r"""(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"""
    r"""([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"""
)


class Decline(Exception):
    """The document does something the replay does not reproduce exactly."""


def fix(text: str) -> str:
    """``pop``'s last steps for every value: undo UTF-8 read as Latin-1, map cp1252 code points."""
    if text.isascii():
        return text
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_cp1252) if _C1_UTF8.search(text.encode("utf-8", "surrogatepass")) else text


_DATES: dict[str | None, Any] = {}


def parse_date(value: str | None) -> Any:
    """feedparser's ``_parse_date`` (a struct_time or None), memoised: feeds repeat their dates."""
    if value in _DATES:
        return _DATES[value]
    if len(_DATES) > 10_000:
        _DATES.clear()
    parsed = _DATES[value] = _parse_date(value)
    return parsed


def join(base: str, uri: str) -> str:
    """``_urljoin(base, uri)``, which without a base only drops extra slashes after ``scheme://``."""
    return _urljoin(base, uri) if base or ":///" in uri else uri


class Html:
    """An embedded-HTML value as ``pop`` stores it, computed only when read (most never are)."""

    __slots__ = ("base", "content_type", "raw")

    def __init__(self, raw: str, base: str, content_type: str) -> None:
        self.raw, self.base, self.content_type = raw, base, content_type

    def text(self) -> str:
        return fix(resolve(self.raw, self.base, self.content_type))


def text(value: Any) -> Any:
    """A stored value as feedparser holds it (:class:`Html` resolved)."""
    return value.text() if isinstance(value, Html) else value


Entry = dict[str, Any]
_Handler = Callable[["Replay", dict[str, str]], None]
_EndHandler = Callable[["Replay"], None]


class Replay:
    """The state of one ``_FeedParserMixin`` parse (attribute names follow feedparser's).

    :meth:`element` walks an lxml tree as the strict (SAX) parser reports it; the loose
    parser's tokenizer (:mod:`aggregator.fetch.fastpath_loose`) calls :meth:`open`,
    :meth:`close`, :meth:`open_inline`, :meth:`close_inline` and :meth:`data` itself.
    """

    def __init__(
        self,
        version: str,
        names: Callable[[str], tuple[str, bool, str]],
        namespacemap: dict[str | None, str],
        prefixes: dict[str, str],
        *,
        loose: bool = False,
    ) -> None:
        self.names = names
        self.namespacemap = namespacemap
        self.prefixes = prefixes
        self.loose = loose
        self.version = version
        self.feeddata: Entry = {}
        self.entries: list[Entry] = []
        self.sourcedata: Entry = {}
        self.entry_depths: dict[str, int] = {}
        self.infeed = self.inentry = self.incontent = self.inimage = self.intextinput = 0
        self.inauthor = self.incontributor = self.inpublisher = self.insource = 0
        self.title_depth = -1
        self.depth = 0
        self.has_content = 0
        self.summary_key: str | None = None
        self.guidislink = False
        self.contentparams: dict[str, str] = {}
        self.stack: list[tuple[str, int, list[str]]] = []
        self.baseuri = ""
        self.basestack: list[str] = []
        self.specs: dict[str, _Spec] = {}
        self.psc_chapters = False

    # -- the tree walk: unknown_starttag / handle_data / unknown_endtag ----------------------

    def spec(self, tag: str) -> _Spec:
        """What feedparser does with an element of this (lxml) tag (cached per document)."""
        spec = self.specs.get(tag)
        if spec is None:
            key, unprefixed, _ = self.names(tag)
            spec = self.specs[tag] = self.spec_for(key, unprefixed)
        return spec

    @staticmethod
    def spec_for(key: str, unprefixed: bool) -> _Spec:
        """What feedparser does with an element whose handler key is ``key``."""
        handler = _HANDLERS.get(key)
        if handler is not None:
            return (key, unprefixed, *handler)
        if key in _HANDLED or key in _UNSAFE_GENERIC:
            return (key, unprefixed, None, None, _NOWHERE, _NORMAL)  # not ported: declined when met
        return (key, unprefixed, None, None, None, _GENERIC)

    def element(self, node: Any, parent: str) -> None:
        """Replay one element of the tree and everything inside it.

        The same steps as :meth:`open` and :meth:`close`, inlined: this runs for every element.
        """
        if self.incontent:
            self.inline(node)
            return
        tag = node.tag
        spec = self.specs.get(tag) or self.spec(tag)
        key, unprefixed, start, end, parents, mode = spec
        attrib = node.attrib
        if mode and parents is None and not self.baseuri and not len(node):
            # a leaf whose handlers change nothing that is read: only its text may matter
            if not attrib:
                if mode != _QUIET_NO_PUSH:
                    self._hack(spec)
                    return
            elif mode == _GENERIC:
                mode = _QUIET_NO_PUSH
            if mode == _QUIET_NO_PUSH and not any(name[-4:].lower() == "base" for name in attrib):
                self._hack(spec)
                text = node.text
                if text and self.stack:
                    self.data(text)  # no frame of its own: the text goes to the enclosing element
                return
        if parents is not None and parent not in parents:
            raise Decline  # a structural element where feedparser's flags would tangle, or not ported
        if attrib:
            attrs = _attributes(node, self.prefixes)
            self.begin(attrs)
        else:
            attrs = _NO_ATTRS
            self.depth += 1
            if self.baseuri:
                self._push_base(None)
            else:
                self.basestack.append("")
        if unprefixed:
            if key not in _KEEP_TEXTINPUT:
                self.intextinput = 0
            if key not in _KEEP_IMAGE:
                self.inimage = 0
        stack = self.stack
        if start is None:
            if attrs:
                self.context()  # stores the attributes there (unread); may fail
            else:
                stack.append((key, 1, []))
        else:
            start(self, attrs)
        text = node.text
        if text and stack:
            self.data(text)
        for child in node:
            if isinstance(child.tag, str):
                self.element(child, key)
            text = child.tail
            if text and stack:
                self.data(text)
        if end is None:
            if stack and stack[-1][0] == key:
                stack.pop()  # the generic pop: what it would store is never read
        else:
            end(self)
        if self.incontent:
            raise Decline
        basestack = self.basestack
        basestack.pop()
        if basestack and basestack[-1]:
            self.baseuri = basestack[-1]
        self.depth -= 1

    def _hack(self, spec: _Spec) -> None:
        """ "Special hack for better tracking of empty textinput/image elements"."""
        if spec[1]:
            key = spec[0]
            if key not in _KEEP_TEXTINPUT:
                self.intextinput = 0
            if key not in _KEEP_IMAGE:
                self.inimage = 0

    def begin(self, attrs: dict[str, str]) -> None:
        """The start of ``unknown_starttag``: depth and ``xml:base``."""
        self.depth += 1
        base = attrs.get("xml:base", attrs.get("base")) if attrs else None
        if base or self.baseuri:
            self._push_base(base)
        else:
            self.basestack.append("")

    def finish(self) -> None:
        """The end of ``unknown_endtag``: ``xml:base`` going out of scope, depth."""
        basestack = self.basestack
        basestack.pop()
        if basestack and basestack[-1]:
            self.baseuri = basestack[-1]
        self.depth -= 1

    def open(self, spec: _Spec, attrs: dict[str, str], parent: str, *, begun: bool = False) -> None:
        """``unknown_starttag`` outside content elements: the start handler, or the default."""
        key, _, start, _, parents, _ = spec
        if parents is not None and parent not in parents:
            raise Decline  # a structural element where feedparser's flags would tangle, or not ported
        if not begun:
            self.begin(attrs)
        self._hack(spec)
        if start is None:
            if attrs:
                self.context()  # stores the attributes there (unread); may fail
            else:
                self.stack.append((key, 1, []))
        else:
            start(self, attrs)

    def close(self, spec: _Spec) -> None:
        """``unknown_endtag`` outside content elements: the end handler, or the default pop."""
        end = spec[3]
        if end is None:
            self.drop(spec[0])  # the generic pop: what it would store is never read
        else:
            end(self)
        if self.incontent:
            raise Decline
        self.finish()

    def inline(self, node: Any) -> None:
        """An element inside a content element: feedparser writes it back out as XHTML markup."""
        key, _, name = self.names(node.tag)
        attrs = _attributes(node, self.prefixes) if len(node.attrib) else _NO_ATTRS
        self.begin(attrs)
        self.open_inline(name, "".join(f" {k}={_quoteattr(v)}" for k, v in attrs.items()))
        text = node.text
        if text:
            self.data(text)
        for child in node:
            if isinstance(child.tag, str):
                self.inline(child)
            text = child.tail
            if text:
                self.data(text)
        self.close_inline(key, name)

    def open_inline(self, name: str, attributes: str) -> None:
        """``unknown_starttag`` inside a content element (after :meth:`begin`)."""
        params = self.contentparams
        if not params.get("type", "xml").endswith("xml"):
            if name in ("xhtml:div", "div"):
                raise Decline  # "typepad does this": skipped, and feedparser's depth count goes off
            params["type"] = "application/xhtml+xml"  # "declared itself as escaped markup, but it isn't"
        if params.get("type") != "application/xhtml+xml":
            raise Decline  # other XML content types run the normal handlers
        local = name.partition(":")[2] or name
        if local in ("svg", "math"):
            raise Decline  # SVG/MathML bookkeeping
        if not self.stack:
            raise Decline
        self.stack[-1][2].append(f"<{local}{attributes}>")

    def close_inline(self, key: str, name: str) -> None:
        """``unknown_endtag`` inside a content element."""
        if key in _END_HANDLED or not self.stack or self.stack[-1][0] == key:
            raise Decline  # an end handler, or a default pop that would close the content element
        self.stack[-1][2].append(f"</{name.rpartition(':')[2]}>")
        self.finish()

    def data(self, text: str) -> None:
        """``handle_data``: text goes to the innermost open element."""
        if self.contentparams.get("type") == "application/xhtml+xml":
            text = text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
        self.stack[-1][2].append(text)

    def _push_base(self, base: str | None) -> None:
        key = (self.baseuri, base)
        uri = _BASES.get(key)
        if uri is None:
            base = base or self.baseuri
            if self.baseuri:
                uri = make_safe_absolute_uri(self.baseuri, base) or self.baseuri
            else:
                uri = _urljoin(self.baseuri, base)
            if len(_BASES) > 5000:
                _BASES.clear()
            _BASES[key] = uri
        self.baseuri = uri
        self.basestack.append(uri)

    # -- storage -------------------------------------------------------------------------------

    def context(self) -> Entry:
        """``_get_context``: where the current element's values are stored."""
        if self.insource:
            return self.sourcedata
        if self.inimage and "image" in self.feeddata:
            image: Entry = self.feeddata["image"]
            return image
        if self.intextinput:
            if "textinput" not in self.feeddata:
                raise Decline  # feedparser raises KeyError here
            textinput: Entry = self.feeddata["textinput"]
            return textinput
        if self.inentry:
            return self.entries[-1]
        return self.feeddata

    def save(self, key: str, value: Any, overwrite: bool = False) -> None:
        """``_save``."""
        context = self.context()
        if overwrite:
            context[key] = value
        else:
            context.setdefault(key, value)

    def push(self, element: str, expecting_text: int) -> None:
        self.stack.append((element, expecting_text, []))

    def drop(self, element: str) -> None:
        """``pop`` for a value nobody reads: outside content elements it has no other effect."""
        if self.stack and self.stack[-1][0] == element:
            self.stack.pop()

    def pop(self, element: str, strip_whitespace: bool = True) -> str | None:
        """``_FeedParserMixin.pop``: an element's text, resolved, fixed and stored."""
        stack = self.stack
        if not stack or stack[-1][0] != element:
            return None
        element, expecting_text, pieces = stack.pop()
        output: Any
        if self.version == "atom10" and self.contentparams.get("type", "text") == "application/xhtml+xml":
            pieces = _strip_div(pieces)
        output = pieces[0] if len(pieces) == 1 else "".join(pieces)
        if strip_whitespace:
            output = output.strip()
        if not expecting_text:
            return output
        params = self.contentparams
        encoded = "base64" in params
        if encoded:
            with contextlib.suppress(binascii.Error, binascii.Incomplete, UnicodeDecodeError):
                output = base64.decodebytes(output.encode("utf8")).decode("utf8")
        if element in _CAN_BE_RELATIVE and output and (element != "id" or self.guidislink):
            output = join(self.baseuri, output)
        if self.loose and not encoded:
            output = _decode_entities(output, params)
        if params.get("type") == "text/plain" and not self.version.startswith("atom") and _looks_like_html(output):
            params["type"] = "text/html"
        if encoded:
            del params["base64"]
        content_type = params.get("type", "text/html")
        if element in _CAN_CONTAIN_RELATIVE and _htmlish(content_type):
            if element == "title":
                output = fix(resolve(output, self.baseuri, content_type))
            else:
                output = Html(output, self.baseuri, content_type)  # resolved if and when it is read
        else:
            output = fix(output)
        if element in ("category", "tags", "itunes_keywords"):
            return output
        if element == "title" and -1 < self.title_depth <= self.depth:
            return output
        if self.inentry and not self.insource:
            entry = self.entries[-1]
            if element == "content":
                entry.setdefault("content", []).append({**params, "value": output})
            elif element == "link":
                if not self.inimage:
                    if "&" in output:
                        output = _LINK_ENTITY.sub(r"&\g<1>", output.replace("&amp;", "&"))
                    entry["link"] = output
                    if output:
                        if not entry.get("links"):
                            raise Decline  # feedparser fails on this
                        entry["links"][-1]["href"] = output
            else:
                if element == "description":
                    element = "summary"
                depths = self.entry_depths  # property_depth_map[entries[-1]]
                old = depths.get(element)
                if old is None or self.depth <= old:
                    depths[element] = self.depth
                    entry[element] = output
                if self.incontent:
                    entry[element + "_detail"] = {**params, "value": output}
        elif self.infeed or self.insource:
            context = self.context()
            if element == "description":
                element = "subtitle"
            context[element] = output
            if element == "link":
                output = _LINK_ENTITY.sub(r"&\g<1>", output)
                context[element] = output
                if not context.get("links"):
                    raise Decline
                context["links"][-1]["href"] = output
            elif self.incontent:
                context[element + "_detail"] = {**params, "value": output}
        return output

    def push_content(self, tag: str, attrs: dict[str, str], default_type: str, expecting_text: int) -> None:
        """``push_content``: a new set of content parameters (``_is_base64`` included)."""
        self.incontent += 1
        content_type = _map_content_type(attrs["type"]) if "type" in attrs else _DEFAULT_TYPES[default_type]
        self.contentparams = {"type": content_type}
        if attrs.get("mode", "") == "base64" or not (
            content_type.startswith("text/") or content_type.endswith("+xml") or content_type.endswith("/xml")
        ):
            self.contentparams["base64"] = "1"
        self.stack.append((tag, expecting_text, []))

    def pop_content(self, tag: str) -> str | None:
        value = self.pop(tag)
        self.incontent -= 1
        self.contentparams.clear()
        return value

    # -- authors -------------------------------------------------------------------------------

    def save_author(self, key: str, value: str | None, prefix: str = "author") -> None:
        """``_save_author`` (it syncs the *author* whatever the prefix, like feedparser)."""
        context = self.context()
        context.setdefault(prefix + "_detail", {})[key] = value
        self.sync_author_detail()
        context.setdefault("authors", [{}])
        context["authors"][-1][key] = value

    def sync_author_detail(self, key: str = "author") -> None:
        """``_sync_author_detail``."""
        context = self.context()
        details = context.get(key + "s")
        detail = details[-1] if details else {}
        if details is not None and not details:
            raise Decline
        if detail:
            name, email = detail.get("name"), detail.get("email")
            if name and email:
                context[key] = f"{name} ({email})"
            elif name:
                context[key] = name
            elif email:
                context[key] = email
            return
        author, email = context.get(key), None
        if not author:
            return
        match = _EMAIL.search(author)
        if match:
            email = match.group(0)
            author = author.replace(email, "").replace("()", "").replace("<>", "").replace("&lt;&gt;", "").strip()
            if author and author[0] == "(":
                author = author[1:]
            if author and author[-1] == ")":
                author = author[:-1]
            author = author.strip()
        if author or email:
            context.setdefault(key + "_detail", detail)
        if author:
            detail["name"] = author
        if email:
            detail["email"] = email


_NO_ATTRS: dict[str, str] = {}
#: (current base URI, xml:base attribute) → the new base URI (memoised: two urljoins per element)
_BASES: dict[tuple[str, str | None], str] = {}


_LOOSE_REFS = (
    ("&#60;", "&lt;"),
    ("&#x3c;", "&lt;"),
    ("&#x3C;", "&lt;"),
    ("&#62;", "&gt;"),
    ("&#x3e;", "&gt;"),
    ("&#x3E;", "&gt;"),
    ("&#38;", "&amp;"),
    ("&#x26;", "&amp;"),
    ("&#34;", "&quot;"),
    ("&#x22;", "&quot;"),
    ("&#39;", "&apos;"),
    ("&#x27;", "&apos;"),
)
_LOOSE_TEXT = (
    ("&lt;", "<"),
    ("&gt;", ">"),
    ("&amp;", "&"),
    ("&quot;", '"'),
    ("&apos;", "'"),
    ("&#x2f;", "/"),
    ("&#x2F;", "/"),
)


def _decode_entities(data: str, params: dict[str, str]) -> str:
    """The loose parser's ``decode_entities``: the references it kept, decoded unless the type is XML."""
    if "&" not in data:
        return data
    for old, new in _LOOSE_REFS:
        data = data.replace(old, new)
    if not params.get("type", "xml").endswith("xml"):
        for old, new in _LOOSE_TEXT:
            data = data.replace(old, new)
    return data


def _quoteattr(value: str) -> str:
    """``strattrs``: ``saxutils.escape(value, {'"': '&quot;'})`` in double quotes."""
    value = value.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;").replace('"', "&quot;")
    return f'"{value}"'


def _strip_div(pieces: list[str]) -> list[str]:
    """``pop``: an Atom XHTML value loses its enclosing ``<div>`` if everything else is inside it."""
    while pieces and len(pieces) > 1 and not pieces[-1].strip():
        del pieces[-1]
    while pieces and len(pieces) > 1 and not pieces[0].strip():
        del pieces[0]
    if pieces and (pieces[0] == "<div>" or pieces[0].startswith("<div ")) and pieces[-1] == "</div>":
        depth = 0
        for piece in pieces[:-1]:
            if piece.startswith("</"):
                depth -= 1
                if depth == 0:
                    break
            elif piece.startswith("<") and not piece.endswith("/>"):
                depth += 1
        else:
            pieces = pieces[1:-1]
    return pieces


def _attributes(node: Any, prefixes: dict[str, str]) -> dict[str, str]:
    """The ``attrs_d`` feedparser's strict parser and ``unknown_starttag`` build for an element.

    ``startElementNS`` stores each attribute under its canonical prefix (known namespaces)
    or its bare name, then again under its qualified name as written (``prefixes``: the
    document's prefix of each namespace); later keys overwrite earlier ones.
    """
    items = node.attrib.items()
    if not any(name[0] == "{" for name, _ in items):  # the common case: both keys are the same
        attrs = {name.lower(): value for name, value in items}
    else:
        attrs = _namespaced_attributes(items, prefixes)
    if "rel" in attrs:
        attrs["rel"] = attrs["rel"].lower()
    if "type" in attrs:
        attrs["type"] = attrs["type"].lower()
    return attrs


def _namespaced_attributes(items: Any, prefixes: dict[str, str]) -> dict[str, str]:
    names: list[tuple[str, str, str]] = []
    for name, value in items:
        if name[0] == "{":
            namespace, _, local = name[1:].partition("}")
            prefix = MATCH_NAMESPACES.get(namespace.lower(), "")
            written = prefixes.get(namespace)
            if written is None:
                raise Decline  # no single prefix for that namespace in the document
            key = f"{prefix}:{local}".lower() if prefix else local.lower()
            names.append((key, f"{written}:{local}".lower(), value))
        else:
            names.append((name.lower(), name.lower(), value))
    attrs = {key: value for key, _, value in names}
    attrs.update((qname, value) for _, qname, value in names)
    return attrs


# -- the handlers (``_start_*`` / ``_end_*``) ---------------------------------------------------


def _start_rss(r: Replay, attrs: dict[str, str]) -> None:
    if not r.version or not r.version.startswith("rss"):
        version = attrs.get("version", "")
        known = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}.get(version)
        r.version = known or ("rss20" if version.startswith("2.") else "rss")


def _start_feed(r: Replay, attrs: dict[str, str]) -> None:
    r.infeed = 1
    if not r.version:
        r.version = {"0.1": "atom01", "0.2": "atom02", "0.3": "atom03"}.get(attrs.get("version", ""), "atom")


def _cdf_common(attrs: dict[str, str]) -> None:
    if "lastmod" in attrs or "href" in attrs:
        raise Decline


def _start_channel(r: Replay, attrs: dict[str, str]) -> None:
    r.infeed = 1
    _cdf_common(attrs)


def _end_channel(r: Replay) -> None:
    r.infeed = 0


def _start_item(r: Replay, attrs: dict[str, str]) -> None:
    if r.inentry or r.insource or r.inimage or r.intextinput:
        raise Decline
    entry: Entry = {}
    r.entries.append(entry)
    r.entry_depths = {}
    r.push("item", 0)
    r.inentry = 1
    r.guidislink = False
    r.title_depth = -1
    about = attrs.get(f"{r.namespacemap.get('rdf', 'rdf')}:about") if attrs else None  # _get_attribute
    if about:
        r.context()["id"] = about
    _cdf_common(attrs)


def _end_item(r: Replay) -> None:
    r.pop("item")
    r.inentry = 0
    r.has_content = 0


def _start_image(r: Replay, attrs: dict[str, str]) -> None:
    if r.insource or r.inimage or r.intextinput:
        raise Decline
    context = r.context()
    if not r.inentry:
        context.setdefault("image", {})
    r.inimage = 1
    r.title_depth = -1
    r.push("image", 0)


def _end_image(r: Replay) -> None:
    r.drop("image")
    r.inimage = 0


def _start_textinput(r: Replay, attrs: dict[str, str]) -> None:
    if r.inentry or r.insource or r.inimage or r.intextinput:
        raise Decline
    r.context().setdefault("textinput", {})
    r.intextinput = 1
    r.title_depth = -1
    r.push("textinput", 0)


def _end_textinput(r: Replay) -> None:
    r.drop("textinput")
    r.intextinput = 0


def _start_source(r: Replay, attrs: dict[str, str]) -> None:
    if r.insource:
        raise Decline
    if "url" in attrs:
        r.sourcedata["href"] = attrs["url"]
    r.push("source", 1)
    r.insource = 1
    r.title_depth = -1


def _end_source(r: Replay) -> None:
    r.insource = 0
    value = r.pop("source")
    if value:
        r.sourcedata["title"] = value
    r.context()["source"] = dict(r.sourcedata)
    r.sourcedata.clear()


def _start_title(r: Replay, attrs: dict[str, str]) -> None:
    r.push_content("title", attrs, "text/plain", r.infeed or r.inentry or r.insource)


def _end_title(r: Replay) -> None:
    value = r.pop_content("title")
    if value:
        r.title_depth = r.depth


def _end_media_title(r: Replay) -> None:
    title_depth = r.title_depth
    _end_title(r)
    r.title_depth = title_depth


def _start_description(r: Replay, attrs: dict[str, str]) -> None:
    if "summary" in r.context() and not r.has_content:
        r.summary_key = "content"
        _start_content(r, attrs)
    else:
        r.push_content("description", attrs, "text/html", r.infeed or r.inentry or r.insource)


def _start_abstract(r: Replay, attrs: dict[str, str]) -> None:
    r.push_content("description", attrs, "text/plain", r.infeed or r.inentry or r.insource)


def _end_description(r: Replay) -> None:
    if r.summary_key == "content":
        _end_content(r)
    else:
        r.pop_content("description")
    r.summary_key = None


def _start_summary(r: Replay, attrs: dict[str, str]) -> None:
    if "summary" in r.context() and not r.has_content:
        r.summary_key = "content"
        _start_content(r, attrs)
    else:
        r.summary_key = "summary"
        r.push_content("summary", attrs, "text/plain", 1)


def _end_summary(r: Replay) -> None:
    if r.summary_key == "content":
        _end_content(r)
    else:
        r.pop_content(r.summary_key or "summary")
    r.summary_key = None


def _start_content(r: Replay, attrs: dict[str, str]) -> None:
    r.has_content = 1
    r.push_content("content", attrs, "text/plain", 1)
    src = attrs.get("src")
    if src:
        r.contentparams["src"] = src
    r.push("content", 1)  # a second frame, left open by _end_content, as in feedparser


def _start_content_encoded(r: Replay, attrs: dict[str, str]) -> None:
    r.has_content = 1
    r.push_content("content", attrs, "text/html", 1)


def _start_body(r: Replay, attrs: dict[str, str]) -> None:
    r.push_content("content", attrs, "application/xhtml+xml", 1)


def _end_content(r: Replay) -> None:
    copy_to_summary = _map_content_type(r.contentparams.get("type", "")) in ({"text/plain"} | _HTML_TYPES)
    value = r.pop_content("content")
    if copy_to_summary:
        r.save("summary", value)


def _content_like(tag: str) -> tuple[_Handler, _EndHandler]:
    """push_content/pop_content pairs whose value nobody reads (subtitle, rights, info)."""

    def start(r: Replay, attrs: dict[str, str]) -> None:
        r.push_content(tag, attrs, "text/plain", 1)

    def end(r: Replay) -> None:
        r.pop_content(tag)

    return start, end


def _start_link(r: Replay, attrs: dict[str, str]) -> None:
    attrs = dict(attrs)
    attrs.setdefault("rel", "alternate")
    attrs.setdefault("type", "application/atom+xml" if attrs["rel"] == "self" else "text/html")
    context = r.context()
    href = attrs.get("url", attrs.get("uri", attrs.get("href")))  # _enforce_href
    if href:
        attrs.pop("url", None)
        attrs.pop("uri", None)
        attrs["href"] = href
    if "href" in attrs:
        attrs["href"] = join(r.baseuri, attrs["href"])
    expecting_text = r.infeed or r.inentry or r.insource
    context.setdefault("links", [])
    if not (r.inentry and r.inimage):
        context["links"].append(attrs)
    if "href" in attrs:
        if attrs.get("rel") == "alternate" and _map_content_type(attrs.get("type", "")) in _HTML_TYPES:
            context["link"] = attrs["href"]
    else:
        r.push("link", expecting_text)


def _end_link(r: Replay) -> None:
    r.pop("link")


def _start_guid(r: Replay, attrs: dict[str, str]) -> None:
    r.guidislink = attrs.get("ispermalink", "true") == "true"
    r.push("id", 1)


def _end_guid(r: Replay) -> None:
    value = r.pop("id")
    r.save("guidislink", r.guidislink and "link" not in r.context())
    if r.guidislink:
        r.save("link", value)


def _date(element: str, key: str | None) -> tuple[_Handler, _EndHandler]:
    """pubDate/published/updated/created...: the text and its parsed form (``_end_published``...)."""

    def start(r: Replay, attrs: dict[str, str]) -> None:
        r.push(element, 1)

    def end(r: Replay) -> None:
        value = r.pop(element)
        if key is not None:
            r.save(key, parse_date(value), overwrite=True)
        else:
            r.context()

    return start, end


def _start_author(r: Replay, attrs: dict[str, str]) -> None:
    r.inauthor = 1
    r.push("author", 1)
    r.context().setdefault("authors", []).append({})


def _end_author(r: Replay) -> None:
    r.pop("author")
    r.inauthor = 0
    r.sync_author_detail()


def _start_contributor(r: Replay, attrs: dict[str, str]) -> None:
    r.incontributor = 1
    r.context()
    r.push("contributor", 0)


def _end_contributor(r: Replay) -> None:
    r.drop("contributor")
    r.incontributor = 0


def _start_dc_contributor(r: Replay, attrs: dict[str, str]) -> None:
    r.incontributor = 1
    r.context()
    r.push("name", 0)


def _end_dc_contributor(r: Replay) -> None:
    _end_name(r)
    r.incontributor = 0


def _pusher(element: str, expecting_text: int) -> _Handler:
    def start(r: Replay, attrs: dict[str, str]) -> None:
        r.push(element, expecting_text)

    return start


def _end_name(r: Replay) -> None:
    value = r.pop("name")
    if r.inpublisher:
        r.save_author("name", value, "publisher")
    elif r.inauthor:
        r.save_author("name", value)
    elif r.incontributor:
        r.context()
    elif r.intextinput:
        r.context()["name"] = value


def _end_email(r: Replay) -> None:
    value = r.pop("email")
    if r.inpublisher:
        r.save_author("email", value, "publisher")
    elif r.inauthor:
        r.save_author("email", value)
    elif r.incontributor:
        r.context()


def _end_url(r: Replay) -> None:
    value = r.pop("href")
    if r.inauthor:
        r.save_author("href", value)
    elif r.incontributor:
        r.context()


def _end_webmaster(r: Replay) -> None:
    r.pop("publisher")
    r.sync_author_detail("publisher")


def _start_itunes_owner(r: Replay, attrs: dict[str, str]) -> None:
    r.inpublisher = 1
    r.push("publisher", 0)


def _end_itunes_owner(r: Replay) -> None:
    r.drop("publisher")
    r.inpublisher = 0
    r.sync_author_detail("publisher")


def _start_category(r: Replay, attrs: dict[str, str]) -> None:
    r.context().setdefault("tags", [])
    r.push("category", 1)


def _end_category(r: Replay) -> None:
    r.drop("category")  # the tag list is not read; the context is the one _start_category used


def _start_generic(r: Replay, attrs: dict[str, str], key: str) -> None:
    if attrs:
        r.context()
    else:
        r.push(key, 1)


def _generic(key: str) -> _Handler:
    """The default start of ``unknown_starttag``, for names that only have an end handler."""

    def start(r: Replay, attrs: dict[str, str]) -> None:
        _start_generic(r, attrs, key)

    return start


def _keywords(key: str) -> tuple[_Handler, _EndHandler]:
    """media:keywords / itunes:keywords: no start handler, a list of tags at the end."""
    return _generic(key), _dropper(key)


def _start_itunes_image(r: Replay, attrs: dict[str, str]) -> None:
    r.push("itunes_image", 0)
    if attrs.get("href") or attrs.get("url"):
        r.context()["image"] = {}


def _with_context(r: Replay, attrs: dict[str, str]) -> None:
    """A start handler that only stores the attributes in the current context."""
    r.context()


def _add_link(r: Replay, attrs: dict[str, str]) -> None:
    """enclosure, cc:license: one more entry in the context's links (link elements fill the last one)."""
    r.context().setdefault("links", []).append({})


def _pushing_into_context(element: str, expecting_text: int) -> _Handler:
    def start(r: Replay, attrs: dict[str, str]) -> None:
        r.context()
        r.push(element, expecting_text)

    return start


def _dropper(element: str) -> _EndHandler:
    def end(r: Replay) -> None:
        r.drop(element)

    return end


def _start_creativecommons_license(r: Replay, attrs: dict[str, str]) -> None:
    if r.inentry or not r.infeed:
        raise Decline  # feedparser may fail deleting the key it did not store
    r.push("license", 1)


def _end_creativecommons_license(r: Replay) -> None:
    r.pop("license")
    context = r.context()
    context.setdefault("links", []).append({})
    if "license" not in context:
        raise Decline
    del context["license"]


def _start_psc_chapters(r: Replay, attrs: dict[str, str]) -> None:
    context = r.context()
    if "psc_chapters" not in context:
        r.psc_chapters = True
        context["psc_chapters"] = {}


def _end_psc_chapters(r: Replay) -> None:
    r.psc_chapters = False


def _start_psc_chapter(r: Replay, attrs: dict[str, str]) -> None:
    if r.psc_chapters:
        if attrs.get("start") is None:
            raise Decline  # feedparser fails on a chapter without a start
        if "psc_chapters" not in r.context():
            raise Decline


def _nothing(r: Replay, attrs: dict[str, str]) -> None:
    """``_start_media_group``: "don't do anything, but don't break the enclosed tags either"."""


_Handlers = tuple[_Handler | None, _EndHandler | None, frozenset[str] | None, int]
#: (handler key, unprefixed, start, end, allowed parents or None, mode)
_Spec = tuple[str, bool, _Handler | None, _EndHandler | None, frozenset[str] | None, int]
_NORMAL, _QUIET_PUSH, _QUIET_NO_PUSH, _GENERIC = range(4)
#: leaves without attributes whose handlers only touch keys nobody reads (they push a frame)
_QUIET = _words(
    """
    category keywords dc_subject media_category itunes_category media_keywords itunes_keywords tags media_thumbnail
    media_credit media_rating media_restriction media_license media_player generator georss_point georss_line
    georss_polygon georss_box width height newlocation dcterms_valid language dc_language itunes_block
    itunes_explicit subtitle tagline itunes_subtitle rights copyright dc_rights info feedburner_browserfriendly
    expirationdate webmaster dc_publisher contributor
    """
)
#: the same, without a frame of their own: their text goes to the enclosing element
_QUIET_SILENT = frozenset({"media_content", "cloud", "media_group"})
_NOWHERE: frozenset[str] = frozenset()
_KEEP_TEXTINPUT = frozenset({"title", "link", "description", "name"})
_KEEP_IMAGE = frozenset({"title", "link", "description", "url", "href", "width", "height"})
_ANYWHERE = None
_TOP = frozenset({"rss", "rdf_rdf", "feed"})
_ENTRY_PARENTS = frozenset({"rss", "rdf_rdf", "channel", "feed"})
_SOURCE_PARENTS = frozenset({"item", "entry"})


def _table() -> dict[str, _Handlers]:
    table: dict[str, tuple[_Handler | None, _EndHandler | None, frozenset[str] | None]] = {
        "rss": (_start_rss, None, frozenset({""})),
        "feed": (_start_feed, _end_channel, frozenset({""})),
        "channel": (_start_channel, _end_channel, _TOP),
        "item": (_start_item, _end_item, _ENTRY_PARENTS),
        "entry": (_start_item, _end_item, _ENTRY_PARENTS),
        "image": (_start_image, _end_image, _ANYWHERE),  # _start_image checks the flags that matter
        "textinput": (_start_textinput, _end_textinput, _ENTRY_PARENTS),
        "source": (_start_source, _end_source, _SOURCE_PARENTS),
        "media_title": (_start_title, _end_media_title, _ANYWHERE),
        "abstract": (_start_abstract, _end_description, _ANYWHERE),
        "content": (_start_content, _end_content, _ANYWHERE),
        "link": (_start_link, _end_link, _ANYWHERE),
        "author": (_start_author, _end_author, _ANYWHERE),
        "contributor": (_start_contributor, _end_contributor, _ANYWHERE),
        "dc_contributor": (_start_dc_contributor, _end_dc_contributor, _ANYWHERE),
        "itunes_owner": (_start_itunes_owner, _end_itunes_owner, _ANYWHERE),
        "itunes_image": (_start_itunes_image, None, _ANYWHERE),
        "itunes_link": (_start_itunes_image, None, _ANYWHERE),
        "enclosure": (_add_link, None, _ANYWHERE),
        "media_content": (_with_context, None, _ANYWHERE),
        "cloud": (_with_context, None, _ANYWHERE),
        "cc_license": (_add_link, None, _ANYWHERE),
        "media_group": (_nothing, None, _ANYWHERE),
        "media_thumbnail": (_pushing_into_context("url", 1), _dropper("url"), _ANYWHERE),
        "media_credit": (_pushing_into_context("credit", 1), _dropper("credit"), _ANYWHERE),
        "media_rating": (_pushing_into_context("rating", 1), _dropper("rating"), _ANYWHERE),
        "media_restriction": (_pushing_into_context("restriction", 1), _dropper("restriction"), _ANYWHERE),
        "media_license": (_pushing_into_context("license", 1), _dropper("license"), _ANYWHERE),
        "media_player": (_pushing_into_context("media_player", 0), _dropper("media_player"), _ANYWHERE),
        "generator": (_pushing_into_context("generator", 1), _dropper("generator"), _ANYWHERE),
        "creativecommons_license": (_start_creativecommons_license, _end_creativecommons_license, _ANYWHERE),
        "psc_chapters": (_start_psc_chapters, _end_psc_chapters, _ANYWHERE),
        "psc_chapter": (_start_psc_chapter, None, _ANYWHERE),
        "width": (_pusher("width", 0), _dropper("width"), _ANYWHERE),
        "height": (_pusher("height", 0), _dropper("height"), _ANYWHERE),
        "newlocation": (_pusher("newlocation", 1), _dropper("newlocation"), _ANYWHERE),
        "dcterms_valid": (_pusher("validity", 1), _dropper("validity"), _ANYWHERE),
        "tags": (_pusher("tags", 1), _dropper("tags"), _ANYWHERE),
    }
    for name in ("title", "dc_title"):
        table[name] = (_start_title, _end_title, _ANYWHERE)
    for name in ("description", "dc_description", "media_description"):
        table[name] = (_start_description, _end_description, _ANYWHERE)
    for name in ("summary", "itunes_summary"):
        table[name] = (_start_summary, _end_summary, _ANYWHERE)
    for name in ("content_encoded", "fullitem"):
        table[name] = (_start_content_encoded, _end_content, _ANYWHERE)
    for name in ("body", "xhtml_body"):
        table[name] = (_start_body, _end_content, _ANYWHERE)
    names: tuple[str, ...]
    for names, tag in (
        (("subtitle", "tagline", "itunes_subtitle"), "subtitle"),
        (("rights", "copyright", "dc_rights"), "rights"),
        (("info", "feedburner_browserfriendly"), "info"),
    ):
        start, end = _content_like(tag)
        for name in names:
            table[name] = (start, end, _ANYWHERE)
    for name in ("guid", "id"):
        table[name] = (_start_guid, _end_guid, _ANYWHERE)
    for names, element, key in (
        (("pubdate", "published", "issued", "dcterms_issued"), "published", "published_parsed"),
        (("updated", "modified", "lastbuilddate", "dc_date", "dcterms_modified"), "updated", "updated_parsed"),
        (("created", "dcterms_created"), "created", "created_parsed"),
        (("expirationdate",), "expired", None),
    ):
        start, end = _date(element, key)
        for name in names:
            table[name] = (start, end, _ANYWHERE)
    for name in ("author", "managingeditor", "dc_author", "dc_creator", "itunes_author"):
        table[name] = (_start_author, _end_author, _ANYWHERE)
    for name in ("name", "itunes_name"):
        table[name] = (_pusher("name", 0), _end_name, _ANYWHERE)
    for name in ("email", "itunes_email"):
        table[name] = (_pusher("email", 0), _end_email, _ANYWHERE)
    for name in ("url", "homepage", "uri"):
        table[name] = (_pusher("href", 1), _end_url, _ANYWHERE)
    for name in ("webmaster", "dc_publisher"):
        table[name] = (_pusher("publisher", 1), _end_webmaster, _ANYWHERE)
    for name in ("category", "keywords", "dc_subject", "media_category", "itunes_category"):
        table[name] = (_start_category, _end_category, _ANYWHERE)
    for name in ("media_keywords", "itunes_keywords"):
        start, end = _keywords(name)
        table[name] = (start, end, _ANYWHERE)
    for name in ("itunes_block", "itunes_explicit"):
        table[name] = (_generic(name), _dropper(name), _ANYWHERE)
    for name in ("georss_point", "georss_line", "georss_polygon", "georss_box"):
        table[name] = (_pushing_into_context("geometry", 0), _dropper("geometry"), _ANYWHERE)
    for name in ("language", "dc_language"):
        table[name] = (_pusher("language", 1), _dropper("language"), _ANYWHERE)
    unknown = set(table) - _HANDLED
    assert not unknown, f"not feedparser handlers: {unknown}"
    modes = {name: _QUIET_PUSH for name in _QUIET} | {name: _QUIET_NO_PUSH for name in _QUIET_SILENT}
    return {name: (*handlers, modes.get(name, _NORMAL)) for name, handlers in table.items()}


_HANDLERS = _table()
