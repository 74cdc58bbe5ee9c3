"""The one HTML sanitising policy (nh3), and plain text for the classifier.

Everything that came from a source passes through here before it is stored: text is
capped in size and nesting depth *before* nh3 sees it (so hostile input costs bounded
work), NUL and XML-invalid characters are stripped (they break XML outputs and
databases), links keep only http/https (nh3 decodes entities first, so encoded
``javascript:`` variants are caught), and scripts, styles and event handlers go.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from itertools import accumulate
from urllib.parse import urljoin, urlsplit

import nh3

MAX_HTML_CHARS = 200_000
MAX_TEXT_CHARS = 50_000
MAX_TITLE_CHARS = 500
MAX_SHORT_CHARS = 300  # author and similar one-line fields
MAX_URL_CHARS = 2_048
MAX_DEPTH = 64

TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "dfn", "div",
        "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
        "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span",
        "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u",
        "ul",
    }
)  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "blockquote": {"cite"},
    "img": {"src", "alt", "title", "width", "height"},
    "q": {"cite"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"},
}
URL_SCHEMES = frozenset({"http", "https"})
_DROP_WITH_CONTENT = {"script", "style", "noscript", "template", "iframe", "object", "svg", "math"}

# C0 controls except tab/LF/CR, surrogates, U+FFFE/U+FFFF: not allowed in XML 1.0.
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: the same characters minus the surrogates, one by one: ``in`` is a memchr-speed scan
_INVALID_CHARS = tuple(chr(c) for c in [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF])
_CHECK_FROM = 256  # below this length one regex pass is cheaper than 31 scans
#: an absolute http(s) URL that urljoin and urlsplit give back unchanged: lowercase scheme, a plain
#: host, no ";" (urlparse would split path parameters off), no empty "?" or "#" (urlunsplit drops them)
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?:/[^?#;\s]*)?(?:\?[^#\s]+)?(?:#\S+)?")
_TAG_START = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)")
_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)
#: the tags whose step in ``_cap_depth`` is not 0: a closing tag ("/") or a non-void opening tag ("");
#: ASCII-only case folding, as ``name.lower() in _VOID`` (re.I alone would fold "K" to "k")
_DEPTH_TAG = re.compile(
    rf"<(?:(/)[a-zA-Z]|(?!(?:{'|'.join(sorted(_VOID))})(?![a-zA-Z0-9:-]))[a-zA-Z])", re.IGNORECASE | re.ASCII
)
_STEP = {"": 1, "/": -1}.__getitem__
#: a tag as nh3 serialises it: attribute values are double-quoted and may hold ">".
_CLEAN_TAG = re.compile(r'<[^">]*(?:"[^"]*"[^">]*)*>')
_BLOCK = re.compile(
    r"<(?:/?(?:p|div|br|li|ul|ol|h[1-6]|tr|td|th|table|blockquote|pre|dd|dt|dl|figure|figcaption|hr|section|article)\b)",
    re.I,
)
#: a whole block-level tag in nh3's output (lowercase names, no re.I: several times faster);
#: it becomes a space, without a Python call per match as a group-reference template needs
_CLEAN_BLOCK = re.compile(_BLOCK.pattern + _CLEAN_TAG.pattern[1:])


def strip_invalid(text: str) -> str:
    """Remove NUL and other characters XML 1.0 cannot carry."""
    if len(text) >= _CHECK_FROM and _all_valid(text):
        return text  # the common case, found 2-5x faster than the regex scans
    return _INVALID.sub("", text)


def _all_valid(text: str) -> bool:
    """True when ``_INVALID`` matches nothing in ``text``.

    Surrogates are the one range not scanned for: only a non-ASCII string can hold one, and
    then strict UTF-8 encoding refuses it.
    """
    for char in _INVALID_CHARS:
        if char in text:
            return False
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


def _cap_depth(markup: str, max_depth: int) -> str:
    """Cut ``markup`` where element nesting would exceed ``max_depth`` (cheap, regex based).

    A ``/`` before ``>`` is ignored, as HTML parsers ignore it on non-void elements, so
    the depth counted here is never lower than the parser's.
    """
    if markup.count("<") <= max_depth:
        return markup  # fewer tags than the cap: nothing can nest that deep
    # A bound at C level: no depth exceeds the highest running sum minus the lowest (or 0).
    # Nearly every entry stops here; the exact pass below runs Python per tag.
    totals = list(accumulate(map(_STEP, _DEPTH_TAG.findall(markup))))
    if max(totals, default=0) - min(0, min(totals, default=0)) <= max_depth:
        return markup
    found = _TAG_START.findall(markup)
    steps = [-1 if closing else (0 if name.lower() in _VOID else 1) for closing, name in found]
    # Depth after each tag, never below 0 (a stray closing tag closes nothing): the running
    # sum minus the lowest it has been so far, when that is negative.
    totals = list(accumulate(steps))
    depths = [total - low if low < 0 else total for total, low in zip(totals, accumulate(totals, min), strict=True)]
    if max(depths, default=0) <= max_depth:
        return markup
    too_deep = next(i for i, depth in enumerate(depths) if depth > max_depth)
    for index, match in enumerate(_TAG_START.finditer(markup)):
        if index == too_deep:
            return markup[: match.start()]
    return markup  # not reached: both scans see the same tags


def safe_url(url: str | None, base: str | None = None) -> str | None:
    """An absolute http(s) URL, or None: resolves against ``base`` and refuses other schemes."""
    if not url:
        return None
    url = "".join(strip_invalid(url).split())[:MAX_URL_CHARS]  # split() = the regex \s, 10x faster
    if not url:
        return None
    if _PLAIN_URL.fullmatch(url) and (not base or _joinable(base)):
        return url  # most links: what the join and the scheme check below return, 5x faster
    try:
        absolute = urljoin(base, url) if base else url
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme.lower() not in URL_SCHEMES or not parts.netloc:
        return None
    return absolute


@lru_cache(maxsize=256)
def _joinable(base: str) -> bool:
    """False when urljoin would raise on ``base`` itself (safe_url then refuses every link)."""
    try:
        urlsplit(base)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=256)
def _cleaner(base: str | None) -> nh3.Cleaner:
    """One configured nh3 cleaner per base URL (building one per call cost as much as cleaning)."""
    relative: object = ("rewrite_with_base", base) if base else "deny"
    return nh3.Cleaner(
        tags=set(TAGS),
        clean_content_tags=set(_DROP_WITH_CONTENT),
        attributes={k: set(v) for k, v in ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        url_relative=relative,  # type: ignore[arg-type]
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


@lru_cache(maxsize=256)
def _cleaner_for(base_url: str | None) -> nh3.Cleaner:
    """``_cleaner`` of the checked base URL, without checking it again for every entry of a document."""
    return _cleaner(safe_url(base_url))


_TEXT_ONLY = nh3.Cleaner(tags=set(), clean_content_tags=set(_DROP_WITH_CONTENT), strip_comments=True)


def clean_html(markup: str, base_url: str | None = None, *, limit: int = MAX_HTML_CHARS) -> str:
    """Sanitised HTML: allowlisted tags/attributes, http(s) links resolved against ``base_url``."""
    markup = _cap_depth(strip_invalid(markup[:limit]), MAX_DEPTH)
    cleaned = _cleaner_for(base_url).clean(markup)
    # nh3 decodes numeric character references, so "&#1;" or "&#xFFFE;" would come out as
    # characters XML cannot carry: the only way such a character can appear after the strip above.
    return strip_invalid(cleaned) if "&#" in markup else cleaned


def html_to_text(markup: str, *, limit: int = MAX_TEXT_CHARS) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, whitespace collapsed."""
    markup = _cap_depth(strip_invalid(markup[:MAX_HTML_CHARS]), MAX_DEPTH)
    markup = _BLOCK.sub(r" \g<0>", markup)
    return clean_text(html.unescape(_TEXT_ONLY.clean(markup)), limit=limit)


def text_of_clean_html(markup: str, *, limit: int = MAX_TEXT_CHARS) -> str:
    """``html_to_text`` for markup that ``clean_html`` produced, without parsing it again.

    nh3 serialises text with ``<`` escaped and attribute values double-quoted, and has
    already dropped comments, scripts and styles, so every ``<`` starts a tag that one
    regular expression can remove. ``tests/fetch/test_sanitize_text.py`` checks that both
    give the same text over the corpus.
    """
    markup = _CLEAN_BLOCK.sub(" ", markup[:MAX_HTML_CHARS])
    return clean_text(html.unescape(_CLEAN_TAG.sub("", markup)), limit=limit)


def clean_text(text: str | None, *, limit: int = MAX_TEXT_CHARS) -> str:
    """One-line plain text: invalid characters stripped, whitespace collapsed, capped."""
    if not text:
        return ""
    return " ".join(strip_invalid(text[: limit * 2]).split())[:limit]  # split() = the regex \s, 3x faster


def text_to_html(text: str) -> str:
    """Plain text as safe HTML paragraphs (for sources that only give text)."""
    paragraphs = [p.strip() for p in strip_invalid(text[:MAX_HTML_CHARS]).split("\n\n") if p.strip()]
    return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
