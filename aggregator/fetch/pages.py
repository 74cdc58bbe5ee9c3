"""Plain web pages: CSS-selector scraping, feed discovery, or the page watched as one item.

Selector syntax: a CSS selector, optionally followed by ``@attribute`` to take an
attribute instead of the text (``a@href``, ``time@datetime``); ``@href`` alone reads
the item element itself. Relative links resolve against the page's final URL (or its
``<base href>``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urljoin

from bs4 import BeautifulSoup, Tag
from soupsieve import SelectorSyntaxError

from aggregator.config.schema import Selectors, split_selector
from aggregator.fetch.errors import ParseError
from aggregator.fetch.identity import parse_date_text
from aggregator.fetch.items import RawItem
from aggregator.fetch.sanitize import clean_text, safe_url

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/json")
MAX_PAGE_ITEMS = 500


@dataclass(frozen=True)
class ParsedPage:
    """Items found on a page, its title, and a discovered feed URL to fetch instead."""

    entries: list[RawItem]
    title: str | None
    feed_url: str | None = None
    notes: tuple[str, ...] = ()  # selectors that found nothing in some items, dates that are not dates


def charset_of(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, if any."""
    if not content_type:
        return None
    message = Message()
    message["content-type"] = content_type
    charset = message.get_param("charset")
    return charset if isinstance(charset, str) else None


def soup_of(body: bytes, content_type: str | None) -> BeautifulSoup:
    """Parse HTML bytes with lxml, trusting the header charset first, then the page's own."""
    return BeautifulSoup(body, "lxml", from_encoding=charset_of(content_type))


def base_of(soup: BeautifulSoup, url: str) -> str:
    """The URL relative links resolve against: ``<base href>`` if present, else the page URL."""
    base = soup.find("base", href=True)
    if isinstance(base, Tag):
        resolved = safe_url(str(base["href"]), url)
        if resolved:
            return resolved
    return url


def discover_feed(soup: BeautifulSoup, base: str) -> str | None:
    """The first ``<link rel=alternate>`` feed of the page (RSS, Atom or JSON Feed)."""
    for link in soup.find_all("link", href=True):
        rel: object = link.get("rel") or []
        rels = [str(r).lower() for r in (rel if isinstance(rel, list) else str(rel).split())]
        kind = str(link.get("type", "")).split(";")[0].strip().lower()
        if "alternate" in rels and kind in FEED_TYPES:
            url = safe_url(str(link["href"]), base)
            if url:
                return url
    return None


def _select_one(element: Tag, selector: str | None, *, html: bool = False) -> str | None:
    if not selector:
        return None
    css, attr = split_selector(selector)
    try:
        found = element.select_one(css) if css else element
    except SelectorSyntaxError as exc:
        raise ParseError(f"the CSS selector {selector!r} is not valid") from exc
    if found is None:
        return None
    if attr:
        value = found.get(attr)
        if isinstance(value, list):
            value = " ".join(value)
        return value
    return found.decode_contents() if html else found.get_text(" ", strip=True)


def _page_title(soup: BeautifulSoup) -> str | None:
    return clean_text(soup.title.get_text(" ", strip=True), limit=500) if soup.title else None


def scrape(soup: BeautifulSoup, select: Selectors, base: str) -> tuple[list[RawItem], tuple[str, ...]]:
    """One RawItem per element matching ``select.item`` (an item selector matching nothing is an error),
    and notes on the field selectors that found nothing in some items."""
    try:
        elements = soup.select(select.item, limit=MAX_PAGE_ITEMS)
    except SelectorSyntaxError as exc:
        raise ParseError(f"the CSS selector {select.item!r} is not valid") from exc
    if not elements:
        raise ParseError(f"the item selector {select.item!r} matched nothing on the page (did the page change?)")
    entries = []
    missed: Counter[str] = Counter()
    not_dates: list[str] = []
    for element in elements:
        title = _select_one(element, select.title) if select.title else None
        if title is None:
            missed["title"] += bool(select.title)
            heading = element.find(["h1", "h2", "h3", "h4", "a"])
            title = heading.get_text(" ", strip=True) if heading else element.get_text(" ", strip=True)[:200]
        link = _select_one(element, select.link or "a@href")
        missed["link"] += not link
        summary = _select_one(element, select.summary, html=True) if select.summary else None
        missed["summary"] += bool(select.summary) and summary is None
        date = _select_one(element, select.date)
        missed["date"] += bool(select.date) and not date
        if date and parse_date_text(date) is None:
            not_dates.append(date)
        entries.append(
            RawItem(
                title=title,
                link=urljoin(base, link) if link else None,
                content_html=summary if summary is not None else "",
                published=date,
            )
        )
    return entries, _notes(select, missed, not_dates, len(elements))


_CONSEQUENCE = {
    "title": "those items are named by their first heading or text",
    "link": "those items have no link",
    "summary": "those items have no summary",
    "date": "those items are dated when first seen",
}


def _notes(select: Selectors, missed: Counter[str], not_dates: list[str], count: int) -> tuple[str, ...]:
    """What preview tells support staff about selectors that do not fit every item."""
    notes = []
    for field, consequence in _CONSEQUENCE.items():
        if missed[field]:
            selector = getattr(select, field) or ("a@href" if field == "link" else "")
            notes.append(f"the {field} selector {selector!r} found nothing in {missed[field]} of {count} items: "
                         f"{consequence}")
    if not_dates:
        notes.append(f"the date selector {select.date!r} gave {len(not_dates)} of {count} values that are not dates "
                     f"(such as {clean_text(not_dates[0], limit=80)!r}): {_CONSEQUENCE['date']}")
    return tuple(notes)


def parse_page(body: bytes, *, url: str, content_type: str | None, select: Selectors | None) -> ParsedPage:
    """Items of a page by ``select``; without selectors, a discovered feed or the page as one item."""
    if not body.strip():
        raise ParseError("the page is empty")
    soup = soup_of(body, content_type)
    base = base_of(soup, url)
    title = _page_title(soup)
    if select is not None:
        entries, notes = scrape(soup, select, base)
        return ParsedPage(entries, title, notes=notes)
    feed_url = discover_feed(soup, base)
    if feed_url:
        return ParsedPage([], title, feed_url)
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    root = soup.body or soup
    text = root.get_text("\n", strip=True)
    # The page's visible text, as paragraphs: markup churn (nonces, ads) does not change the hash.
    content = "".join(f"<p>{_escape(line)}</p>" for line in text.splitlines() if line.strip())
    return ParsedPage([RawItem(title=title or url, link=url, content_html=content, guid=url)], title)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
