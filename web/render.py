"""Making untrusted text safe to show: links, HTML fragments, Markdown, dates.

Item titles, summaries, links and notes come from the outside world (or from a
colleague's keyboard). Templates autoescape everything; the only HTML rendered as
HTML is item content passed through nh3 here, with a narrow allowlist and only
http/https links. Links are shown only when they are http/https.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import nh3
from markupsafe import Markup

from aggregator.config.schema import STAGES
from aggregator.outputs.headline import headline

_ALLOWED_TAGS = {"p", "br", "a", "ul", "ol", "li", "b", "i", "em", "strong", "blockquote", "code", "pre",
                 "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "td", "th", "span", "div"}
_ALLOWED_ATTRS = {"a": {"href", "title"}}
_CONTROL = re.compile(r"[\x00-\x20\x7f]")

STAGE_LABELS = {s: s.capitalize() for s in STAGES}


def safe_url(url: str | None) -> str | None:
    """The URL if it is a plain http(s) address, else None (javascript:, data:, relative...)."""
    if not url:
        return None
    url = url.strip()
    if _CONTROL.search(url) or "\\" in url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def clean_html(html: str | None) -> Markup:
    """Sanitise an HTML fragment again (defence in depth) before it is rendered unescaped."""
    if not html:
        return Markup("")
    cleaned = nh3.clean(html, tags=_ALLOWED_TAGS, attributes=_ALLOWED_ATTRS, url_schemes={"http", "https"},
                        link_rel="noopener noreferrer nofollow ugc", strip_comments=True)
    return Markup(cleaned)


def snippet(text: str | None, limit: int = 280) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def item_headline(item: Any) -> str:
    """An item's title, or the start of its text when it has none (see aggregator.outputs.headline)."""
    return headline(item.title, item.text)


def fmt_date(value: datetime | None, with_time: bool = False) -> str:
    if value is None:
        return "never"
    return value.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")


def stage_label(stage: str) -> str:
    return STAGE_LABELS.get(stage, stage)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def md_text(text: str | None) -> str:
    """Plain text for Markdown: HTML-escaped (renderers pass raw HTML through) and Markdown-escaped."""
    text = " ".join((text or "").split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_block(text: str | None) -> str:
    """A multi-line note as a Markdown blockquote, escaped like :func:`md_text`."""
    lines = (text or "").splitlines() or [""]
    return "\n".join("> " + md_text(line) for line in lines)


def md_link(title: str, url: str | None) -> str:
    safe = safe_url(url)
    if safe is None:
        return md_text(title)
    # Angle-bracket destinations may not contain < > or spaces: percent-encode them.
    dest = safe.replace(" ", "%20").replace("<", "%3C").replace(">", "%3E")
    return f"[{md_text(title)}](<{dest}>)"
