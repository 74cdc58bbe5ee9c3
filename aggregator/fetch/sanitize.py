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
_WS = re.compile(r"\s+")
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
    return _INVALID.sub("", text)


def _cap_depth(markup: str, max_depth: int) -> str:
    """Cut ``markup`` where element nesting would exceed ``max_depth`` (cheap, regex based).

    A ``/`` before ``>`` is ignored, as HTML parsers ignore it on non-void elements, so
    the depth counted here is never lower than the parser's.
    """
    if markup.count("<") - markup.count("</") <= max_depth:
        return markup  # fewer opening tags than the cap: nothing can nest that deep
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
    url = _WS.sub("", strip_invalid(url))[:MAX_URL_CHARS]
    if not url:
        return None
    try:
        absolute = urljoin(base, url) if base else url
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme.lower() not in URL_SCHEMES or not parts.netloc:
        return None
    return absolute


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


_TEXT_ONLY = nh3.Cleaner(tags=set(), clean_content_tags=set(_DROP_WITH_CONTENT), strip_comments=True)


def clean_html(markup: str, base_url: str | None = None, *, limit: int = MAX_HTML_CHARS) -> str:
    """Sanitised HTML: allowlisted tags/attributes, http(s) links resolved against ``base_url``."""
    markup = _cap_depth(strip_invalid(markup[:limit]), MAX_DEPTH)
    return _cleaner(safe_url(base_url)).clean(markup)


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
