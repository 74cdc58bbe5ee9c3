"""Render a stream as RSS 2.0 or Atom 1.0 (feedgen) or JSON Feed 1.1 (json).

Output is a pure function of its input: the same entries always give the same
bytes, so every worker process builds identical feeds for one stream and an ETag
computed from the bytes is the same everywhere. No "now" is ever written.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from feedgen.feed import FeedGenerator

from aggregator.fetch import sanitize
from aggregator.outputs.headline import headline
from aggregator.outputs.streams import Entry
from aggregator.storage.streams import StreamItem

__all__ = ["MEDIA_TYPES", "FeedDoc", "clean_text", "entry_id", "render_feed"]

MEDIA_TYPES: Mapping[str, str] = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
#: Written when a stream is empty, so an empty feed is still byte-for-byte stable.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
INTERNAL_PREFIX = "[internal] "
# Characters XML 1.0 forbids (controls, surrogates, U+FFFE/U+FFFF); a lone one breaks a whole feed.
_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean_text(value: str | None) -> str:
    """``value`` without the characters XML cannot carry (and JSON should not)."""
    return _INVALID_XML.sub("", value or "")


def entry_id(item: StreamItem) -> str:
    """A stable id for an item: from its source and source key, so it survives a rebuilt database."""
    digest = hashlib.sha256(f"{item.source_id}\n{item.key}".encode()).hexdigest()[:32]
    return f"urn:funnelfeed:item:{digest}"


@dataclass(frozen=True)
class FeedDoc:
    """Everything a feed file says besides its entries' own fields."""

    id: str
    title: str
    description: str
    self_url: str  # this file's own address (carries the rep's token)
    home_url: str  # the web app, from config web.base_url
    author: str
    entries: Sequence[Entry]


def _title(entry: Entry) -> str:
    title = headline(clean_text(entry.item.title), clean_text(entry.item.text))
    return INTERNAL_PREFIX + title if entry.internal else title


def _link(entry: Entry, home_url: str) -> str:
    return _link_of(entry.item, home_url)


def _categories(entry: Entry) -> list[str]:
    cats = [f"prospect:{p}" for p in entry.prospects] + [f"stage:{s}" for s in entry.stages]
    return [*cats, "internal" if entry.internal else "external"]


def _source_label(item: StreamItem) -> str:
    label = clean_text(item.source_title) or item.source_id
    return f"{label} (internal)" if item.visibility == "internal" else label


def _source_url(item: StreamItem, home_url: str) -> str:
    """A source's public address; internal and file sources point at the web app instead."""
    url = item.source_url
    if item.visibility == "external" and url.startswith(("http://", "https://")):
        return clean_text(url)
    return f"{home_url}/sources/{item.source_id}"


def _content(entry: Entry, home_url: str) -> str:
    """The item's (already sanitised) HTML, then its source and the other sources of the story."""
    parts = [sanitize.clean_html(entry.item.content_html)]  # sanitised at fetch; again, as the web view does
    parts.append(f"<p>Source: {html.escape(_source_label(entry.item))}</p>")
    if entry.also:
        links = ", ".join(
            f'<a href="{html.escape(_link_of(other, home_url))}">{html.escape(_source_label(other))}</a>'
            for other in entry.also
        )
        parts.append(f"<p>Also reported by: {links}</p>")
    return "\n".join(parts)


def _link_of(item: StreamItem, home_url: str) -> str:
    # Checked again, as the web view does: a stored javascript: or data: link would be one click
    # away in a feed reader that trusts its feeds. Anything but http(s) links to the item's page.
    return sanitize.safe_url(item.link) or f"{home_url}/items/{item.id}"


def _updated(item: StreamItem) -> datetime:
    return max(item.published, item.updated or item.published)


def _feed_updated(doc: FeedDoc) -> datetime:
    return max((_updated(e.item) for e in doc.entries), default=EPOCH)


def render_feed(fmt: str, doc: FeedDoc) -> bytes:
    """The feed as bytes in ``fmt`` ("rss", "atom" or "json")."""
    if fmt == "json":
        return _json_feed(doc)
    fg = FeedGenerator()
    fg.id(doc.id)
    fg.title(clean_text(doc.title))
    fg.subtitle(clean_text(doc.description))
    fg.description(clean_text(doc.description))
    fg.author({"name": clean_text(doc.author)})
    fg.link(href=doc.self_url, rel="self")
    fg.link(href=doc.home_url, rel="alternate")  # after self: feedgen's RSS <link> is the last one
    fg.language("en")
    fg.generator("funnelfeed")
    fg.updated(_feed_updated(doc))
    for entry in doc.entries:
        item = entry.item
        fe = fg.add_entry(order="append")
        ident = entry_id(item)
        fe.id(ident)
        fe.guid(ident, permalink=False)
        fe.title(_title(entry))
        fe.link(href=_link(entry, doc.home_url), rel="alternate")
        fe.published(item.published)
        fe.updated(_updated(item))
        fe.content(_content(entry, doc.home_url), type="html")
        if item.author:
            fe.author({"name": clean_text(item.author)})
        fe.category([{"term": term} for term in _categories(entry)])
        fe.source(url=_source_url(item, doc.home_url), title=_source_label(item))
    if fmt == "rss":
        return bytes(fg.rss_str(pretty=False))
    if fmt == "atom":
        return bytes(fg.atom_str(pretty=False))
    raise ValueError(f"unknown feed format {fmt!r}")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json_feed(doc: FeedDoc) -> bytes:
    items = []
    for entry in doc.entries:
        item = entry.item
        obj: dict[str, object] = {
            "id": entry_id(item),
            "url": _link(entry, doc.home_url),
            "title": _title(entry),
            "content_html": _content(entry, doc.home_url),
            "date_published": _iso(item.published),
            "date_modified": _iso(_updated(item)),
            "tags": _categories(entry),
            "_funnelfeed": {
                "visibility": item.visibility,
                "source": {"id": item.source_id, "title": _source_label(item)},
                "also_from": [{"id": o.source_id, "title": _source_label(o), "url": _link_of(o, doc.home_url)}
                              for o in entry.also],
            },
        }
        if item.author:
            obj["authors"] = [{"name": clean_text(item.author)}]
        items.append(obj)
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": clean_text(doc.title),
        "description": clean_text(doc.description),
        "home_page_url": doc.home_url,
        "feed_url": doc.self_url,
        "authors": [{"name": clean_text(doc.author)}],
        "language": "en",
        "items": items,
    }
    return json.dumps(feed, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
