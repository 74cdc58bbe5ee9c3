"""feedparser's relative-URI pass over embedded HTML, reproduced without its SGML parser.

feedparser runs every HTML-ish text field through ``feedparser.urls.resolve_relative_uris``,
a ``sgmllib`` parser that re-serialises the markup (attributes sorted and re-quoted, entity
references normalised, void elements written ``<br />``...). That pass is most of the CPU
time of a parse. :func:`resolve` walks the same tokens with the same regular expressions and
the same decisions, but inline and with the start tags memoised, and returns None for the
rare constructs it does not reproduce (declarations, SGML short tags, ``<>``, markup cut
off before its end), in which case the caller runs feedparser's own pass. A probe at import time compares both on tricky
samples and disables the shortcut if feedparser or the standard library behaves otherwise.
"""

from __future__ import annotations

import html.entities
import re

from feedparser import urls as _urls
from feedparser.html import _BaseHTMLProcessor, _cp1252
from feedparser.urls import RelativeURIResolver, make_safe_absolute_uri, resolve_relative_uris

PRE_DECL = re.compile(r"<!((?!DOCTYPE|--|\[))", re.IGNORECASE)
PRE_SHORT = re.compile(r"<([^<>\s]+?)\s*/>")
TAGFIND = re.compile("[a-zA-Z][-_.:a-zA-Z0-9]*")
ATTRFIND = re.compile(
    r"\s*([a-zA-Z_][-:.a-zA-Z_0-9]*)[$]?(\s*=\s*"
    r'(\'[^\']*\'|"[^"]*"|[][\-a-zA-Z0-9./,:;+*%?!&$\(\)_#=~\'"@]*))?'
)
#: a start tag of ``name="value"`` attributes only, and one such attribute
_SIMPLE = re.compile(r'<([a-zA-Z][-_.:a-zA-Z0-9]*)((?:\s+[a-zA-Z_][-:.a-zA-Z_0-9]*\s*=\s*"[^"]*")*)\s*/?>')
_SIMPLE_ATTR = re.compile(r'([a-zA-Z_][-:.a-zA-Z_0-9]*)\s*=\s*"([^"]*)"')
#: sgmllib's reference handling in attribute values (``&name;``, ``&name``, ``&#N;`` kept) changes
#: only ``&#N``, which gains its ``;`` (possessive: ``&#12;`` is not read as ``&#1`` + ``2;``)
_NUMERIC_REF_NO_SEMICOLON = re.compile("&#([0-9]++)(?!;)")


def attribute_refs(value: str) -> str:
    """An attribute value after sgmllib's reference handling (both the strict and the loose replay use it)."""
    return _NUMERIC_REF_NO_SEMICOLON.sub(r"&#\1;", value) if "&#" in value else value


#: feedparser's replacement for sgmllib's end-bracket search (quotes may hide ``<`` and ``>``):
#: ``([^'"<>]|"[^"]*"(?=...)|'[^']*'(?=...))*(?=[<>])|.*?(?=[<>])``, written with possessive
#: runs. Same matches: backtracking into the runs could only stop where the lookahead for
#: ``<``/``>`` fails anyway; ``[^<>\n]*+`` stops where ``.*?`` would
ENDBRACKET = r"""(?:(?:[^'"<>]++|"[^"]*"(?=>|/|\s|\w+=)|'[^']*'(?=>|/|\s|\w+=))*+(?=[<>])|[^<>\n]*+(?=[<>]))"""
#: every token sgmllib's ``goahead`` acts on, in the order it tries them at a ``<`` or ``&``;
#: ``brk``: a token it cannot finish, after which it passes the rest through as data
_VOID_NAMES = "|".join(sorted(_BaseHTMLProcessor.elements_no_end_tag))
_SAME_ENTITIES = "amp|lt|gt|quot|apos|nbsp|rsquo|lsquo|rdquo|ldquo|mdash|ndash|hellip|copy|reg|trade|middot|bull"
_URI_NAMES = "|".join(sorted({name for _, name in RelativeURIResolver.relative_uris}))
#: one ``name="value"`` attribute that comes out as it is: lower-case name, no ``<>&"`` in the
#: value, not ``rel``/``type`` (lower-cased) nor one of the URI attributes ``{uris}`` (rewritten,
#: unless there is no base URI: then they only lose surrounding white space)
_CANON_ATTR = (
    rf' (?:(?!(?:rel|type|{_URI_NAMES})=)[a-z_][-:.a-z_0-9]*="[^"<>&]*"'
    r'|(?:{uris})="(?:[^"<>&\s](?:[^"<>&]*[^"<>&\s])?)?")'
)
#: start and end tags whose re-serialisation is the identity, not matched at all: ``<p>``, ``</p>``,
#: ``<br />``, and a tag with one such attribute (``<span class="x">``, ``<img alt="x" />``)
_CANON = (
    rf"/?(?!(?:{_VOID_NAMES})>)[a-z][a-z0-9]*>"
    rf"|(?!(?:{_VOID_NAMES})[ >])[a-z][a-z0-9]*{_CANON_ATTR}>"
    rf"|(?:{_VOID_NAMES})(?:{_CANON_ATTR})? />"
)


def _token(uris: str) -> re.Pattern[str]:
    """The token pattern; ``uris``: the URI attribute names whose values come out as they are."""
    return re.compile(
        # tokens that come out unchanged are not matched at all: ``<p>``, ``&amp;``, ``&#8217;``...
        "<(?!" + _CANON.format(uris=uris) + ")"
        r"(?:(?P<bail>>|[a-zA-Z][-.a-zA-Z0-9]*+/|!(?!--))"
    rf"|(?P<st>[a-zA-Z]{ENDBRACKET})(?P<stgt>>)?"
    rf"|(?P<et>/{ENDBRACKET})(?P<etgt>>)?"
    r"|!--(?P<com>(?s:.*?))--\s*>"
    r"|(?P<pi>\?[^>]*>)"
    r"|(?P<brk>[a-zA-Z/?]|!--))"
    rf"|&(?!(?:{_SAME_ENTITIES});|#0*(?:[0-9]{{1,2}}|1[01][0-9]|12[0-7]|1[6-9][0-9]|[2-9][0-9]{{2}}|[1-9][0-9]{{3,}});)"
    r"(?:#(?P<cr>[0-9]+|[xX][0-9a-fA-F]+);|(?P<er>[a-zA-Z][-.a-zA-Z0-9]*)(?:;|(?=[^a-zA-Z0-9])))"
    )


#: with a base URI, URI attributes change; without one (and with feedparser's scheme list) they
#: come out stripped of surrounding white space
_TOKEN = _token("(?!)")
_TOKEN_NO_BASE = _token(_URI_NAMES)
_BARE_AMP = _BaseHTMLProcessor.bare_ampersand
_VOID = frozenset(_BaseHTMLProcessor.elements_no_end_tag)
#: element → its attributes that hold URIs (``RelativeURIResolver.relative_uris``)
_URI_ATTRS: dict[str, set[str]] = {}
for _tag, _name in RelativeURIResolver.relative_uris:
    _URI_ATTRS.setdefault(_tag, set()).add(_name)
_ABSOLUTE: dict[tuple[str, str], str] = {}


def _absolute(base: str, uri: str) -> str:
    """``make_safe_absolute_uri(base, uri)``; without a base (and with feedparser's scheme list) just ``uri``."""
    if not base and _urls.ACCEPTABLE_URI_SCHEMES:
        return uri
    key = (base, uri)
    known = _ABSOLUTE.get(key)
    if known is None:
        if len(_ABSOLUTE) > _MAX_TAGS:
            _ABSOLUTE.clear()
        known = _ABSOLUTE[key] = make_safe_absolute_uri(base, uri)
    return known


_ENTITIES = frozenset(html.entities.name2codepoint) | {"apos"}
_XHTML = "application/xhtml+xml"
#: start-tag text → output, per (base URI, content type); cleared when it grows large
_TAGS: dict[tuple[str, str], dict[str, tuple[str, bool]]] = {}
_END_TAGS: dict[str, str] = {}
_MAX_TAGS = 20_000


class _Unsupported(Exception):
    """A construct the shortcut leaves to feedparser."""


def resolve(value: str, base: str, content_type: str) -> str:
    """What ``resolve_relative_uris(value, base, 'utf-8', content_type)`` returns."""
    if "<" not in value and "&" not in value:
        return value  # nothing for the parser to rewrite
    if ENABLED:
        try:
            return _resolve(value, base, content_type)
        except _Unsupported:
            pass
    return resolve_relative_uris(value, base, "utf-8", content_type)


def shorttag(match: re.Match[str]) -> str:
    tag = match.group(1)
    return f"<{tag} />" if tag in _VOID else f"<{tag}></{tag}>"


def _resolve(data: str, base: str, content_type: str) -> str:
    if "<!" in data:
        data = PRE_DECL.sub(r"&lt;!\1", data)
    if "/>" in data:
        data = PRE_SHORT.sub(shorttag, data)
    if "&#" in data:
        data = data.replace("&#39;", "'").replace("&#34;", '"')
    tags = _TAGS.get((base, content_type))
    if tags is None or len(tags) > _MAX_TAGS:
        if len(_TAGS) > 32:
            _TAGS.clear()  # many xml:base values: keep the memory bounded
        tags = _TAGS[base, content_type] = {}
    if len(_END_TAGS) > _MAX_TAGS:
        _END_TAGS.clear()
    xhtml = content_type == _XHTML

    def token(match: re.Match[str]) -> str:
        text = match.group()
        kind = match.lastgroup
        if kind == "stgt" or kind == "st":
            key = text if kind == "stgt" else text + "<"
            hit = tags.get(key)
            if hit is None:
                hit = _starttag(data, match.start(), match.end("st"), match.end(), base, xhtml)
                if hit[1]:
                    tags[key] = hit
            return hit[0]
        if kind == "etgt" or kind == "et":
            end = _END_TAGS.get(text)
            if end is None:
                tag = match.group("et")[1:].strip().lower()
                found = TAGFIND.match(tag)
                if found is not None:
                    tag = found.group(0)
                end = _END_TAGS[text] = "" if tag in _VOID else f"</{tag}>"
            return end
        if kind == "er":
            name = match.group("er")
            return f"&{name};" if name in _ENTITIES else f"&amp;{name}"
        if kind == "cr":
            name = match.group("cr").lower()
            code = int(name[1:], 16) if name.startswith("x") else int(name)
            return f"&#{hex(ord(_cp1252[code]))[1:]};" if code in _cp1252 else f"&#{name};"
        if kind == "com":
            return f"<!--{match.group('com')}-->"
        if kind == "pi":
            return text
        # ``brk``: a token sgmllib cannot finish, after which it passes the rest through as it is
        # (left to feedparser: ``sub`` would go on scanning, quadratically for unclosed comments);
        # ``bail``: a declaration, an SGML short tag or ``<>``
        raise _Unsupported

    pattern = _TOKEN_NO_BASE if not base and _urls.ACCEPTABLE_URI_SCHEMES else _TOKEN
    return pattern.sub(token, data)


def _starttag(data: str, i: int, j: int, stop: int, base: str, xhtml: bool) -> tuple[str, bool]:
    """(serialised start tag, whether that depends only on ``data[i : j + 1]``).

    An attribute value opening a quote that does not close inside the tag is read up to
    the next quote anywhere after it, so such a tag must not be memoised.
    """
    attrs: dict[str, str] = {}
    local = True
    simple = _SIMPLE.fullmatch(data, i, stop) if data[stop - 1] == ">" else None
    if simple is not None:  # name="value" pairs only: what the loop below would find, in one go
        tag = simple.group(1).lower()
        for name, value in _SIMPLE_ATTR.findall(simple.group(2)):
            attrs[name.lower()] = attribute_refs(value)
        k = j
    else:
        found = TAGFIND.match(data, i + 1)
        if found is None:
            raise _Unsupported
        k = found.end()
        tag = data[i + 1 : k].lower()
    while k < j:
        match = ATTRFIND.match(data, k)
        if not match:
            break
        name, rest, value = match.group(1, 2, 3)
        if not rest:
            value = name
        else:
            if value[:1] in ("'", '"') and (len(value) < 2 or value[-1] != value[0]):
                local = False  # an unclosed quote: what follows the tag decided this match
            if value[:1] == "'" == value[-1:] or value[:1] == '"' == value[-1:]:
                value = value[1:-1]
            value = attribute_refs(value)
        attrs[name.lower()] = value
        k = match.end()
    local = local and k <= j + 1
    uris = _URI_ATTRS.get(tag, ())
    parts = [f"<{tag}"]
    for name in sorted(attrs):
        value = attrs[name]
        if name in ("rel", "type"):
            value = value.lower() or value
        if name in uris:
            value = _absolute(base, value.strip()) or value
        if "<" in value or ">" in value or '"' in value:
            value = value.replace(">", "&gt;").replace("<", "&lt;").replace('"', "&quot;")
        if "&" in value:
            value = _BARE_AMP.sub("&amp;", value)
        parts.append(f' {name}="{value}"')
    parts.append(" />" if tag in _VOID else ">")
    out = "".join(parts)
    if xhtml and data[stop - 2 : stop] == "/>" and tag not in _VOID:
        out += f"</{tag}>"
    return out, local


_PROBES = (
    "<p>a &amp; b &nbsp;&foo; &#150; &#x80; &#X41; &#39; &#34; &copy &bogus x</p>",
    '<A HREF=" /x " title=\'q"\' Class=a class=b rel=NoFollow TYPE="TEXT/Html">t</A >',
    '<img src="a.png" alt="1 > 2" / ><br/><br /><hr><p/><x:y a:b="c"/>',
    '<a href="x">&amp</a><!-- c -- ><!-- d --><?pi x?></br></p junk></></3>',
    '<input disabled value=a&b&#38;c&#60 name="&lt;&gt;"><td nowrap>x<y z<q>< a >&',
    '<a href="http://a/b c" onclick=\'f("x")\'>&#1234;&#xffff;&#99999999;</a><b>x</b',
    '<p title="a>b" data-x=\'>\'>x</p><a title="x"y>z</a><a "q">w</a><div>&a.b; &a-',
    '<iframe src="//e.test/v"></iframe><svg><path d="M0 0"/></svg><math/>&',
    '<span class="a b"><a href="x"><a href=" x"><a rel="NoFollow"><img alt="x" /><br class="x"><wbr />',
)


def _probe() -> bool:
    """True if the shortcut gives feedparser's output on tricky samples (library drift guard)."""
    for sample in _PROBES:
        for base in ("", "http://example.test/a/b"):
            for content_type in ("text/html", _XHTML):
                try:
                    mine = _resolve(sample, base, content_type)
                except _Unsupported:
                    continue  # left to feedparser anyway
                if mine != resolve_relative_uris(sample, base, "utf-8", content_type):
                    return False
    _TAGS.clear()
    _END_TAGS.clear()
    return True


ENABLED = True
ENABLED = _probe()
