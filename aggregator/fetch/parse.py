"""``parse_document``: bytes of any source kind → sanitised items (pure; used by preview and tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aggregator.fetch.errors import NotAFeed
from aggregator.fetch.exports import parse_export
from aggregator.fetch.feeds import html_error, looks_like_html, parse_feed
from aggregator.fetch.items import build_items
from aggregator.fetch.pages import base_of, discover_feed, parse_page, soup_of
from aggregator.fetch.politeness import utc_now
from aggregator.types import ItemData, SourceSpec


@dataclass(frozen=True)
class ParsedDocument:
    """What one document holds.

    ``feed_url`` is set when a page without selectors links to a feed: the fetcher
    fetches that feed instead. ``skipped`` counts bad export rows. ``notes`` say what
    support staff may want to fix (selectors that found nothing, dates that are not
    dates, skipped rows); ``funnelfeed preview`` prints them.
    """

    items: tuple[ItemData, ...]
    feed_title: str | None
    feed_url: str | None = None
    skipped: int = 0
    notes: tuple[str, ...] = ()


def parse_document(
    body: bytes,
    *,
    url: str,
    content_type: str | None,
    spec: SourceSpec,
    now: datetime | None = None,
) -> ParsedDocument:
    """Parse ``body`` as ``spec.kind`` says; raises ParseError (NotAFeed...) with a plain message.

    ``url`` is the final URL (relative links resolve against it); ``now`` bounds
    future dates (default: the real clock).

    >>> parse_document(b"<rss version='2.0'><channel><item><title>Hi</title></item></channel></rss>",
    ...     url="https://example.com/feed", content_type=None, spec=spec).items[0].title  # doctest: +SKIP
    'Hi'
    """
    now = now or utc_now()
    if spec.kind == "export":
        export = parse_export(body, url=url, columns=spec.columns)
        skipped = (f"{export.skipped} bad row(s) skipped",) if export.skipped else ()
        return ParsedDocument(
            tuple(build_items(export.entries, base_url=url, now=now)),
            spec.title or None,
            skipped=export.skipped,
            notes=skipped,
        )
    if spec.kind == "page":
        page = parse_page(body, url=url, content_type=content_type, select=spec.select)
        items = build_items(page.entries, base_url=url, now=now)
        return ParsedDocument(tuple(items), page.title, feed_url=page.feed_url, notes=page.notes)
    try:
        feed = parse_feed(body, url=url, content_type=content_type)
    except NotAFeed as exc:
        if looks_like_html(body, anywhere=True):
            raise _html_with_hint(body, url, content_type) from exc
        raise
    return ParsedDocument(tuple(build_items(feed.entries, base_url=url, now=now)), feed.title)


def _html_with_hint(body: bytes, url: str, content_type: str | None) -> NotAFeed:
    """HTML where a feed was expected; name the page's own feed when it links to one."""
    error = html_error(body)
    soup = soup_of(body, content_type)
    found = discover_feed(soup, base_of(soup, url))
    if found:
        error.reword(f"{error.message}; the page links to a feed at {found}: use that URL instead")
    return error
