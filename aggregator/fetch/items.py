"""From what a parser found (RawItem) to sanitised, identified ItemData values."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from aggregator.fetch import identity, sanitize
from aggregator.types import ItemData

DateInput = datetime | time.struct_time | str | None


@dataclass(frozen=True)
class RawItem:
    """One entry as a parser saw it, before sanitising; text fields are untrusted."""

    title: str = ""
    title_is_html: bool = False
    link: str | None = None
    content_html: str = ""
    published: DateInput = None
    updated: DateInput = None
    author: str | None = None
    guid: str | None = None
    prospect_hint: str | None = None


def build_items(raw_items: Sequence[RawItem], *, base_url: str | None, now: datetime) -> list[ItemData]:
    """Sanitise, date and key every entry; exact duplicates (same key) are kept once."""
    staged = []
    for raw in raw_items:
        if raw.title_is_html:
            title = sanitize.html_to_text(raw.title, limit=sanitize.MAX_TITLE_CHARS)
        else:
            title = sanitize.clean_text(raw.title, limit=sanitize.MAX_TITLE_CHARS)
        link = sanitize.safe_url(raw.link, base_url)
        content = sanitize.clean_html(raw.content_html, base_url)
        text = sanitize.text_of_clean_html(content)
        canonical = identity.canonical_link(link)  # once: the hash, the key and the dedupe key all use it
        digest = identity.content_hash(title, canonical, text)
        staged.append((raw, title, link, canonical, content, text, digest))
    keyed = [(raw.guid, canonical, digest) for raw, _, _, canonical, *_, digest in staged]
    keys = identity.assign_keys_canonical(keyed)
    items: list[ItemData] = []
    seen: set[str] = set()
    for key, (raw, title, link, canonical, content, text, digest) in zip(keys, staged, strict=True):
        if key in seen:
            continue
        seen.add(key)
        published = identity.normalise_date(raw.published, now)
        updated = identity.normalise_date(raw.updated, now)
        author = sanitize.clean_text(raw.author, limit=sanitize.MAX_SHORT_CHARS) or None
        hint = sanitize.clean_text(raw.prospect_hint, limit=sanitize.MAX_SHORT_CHARS) or None
        # An export row whose only change is its account is changed: its owner (and who may see it)
        # moves. The account joins the version hash only when there is one, so feed items keep theirs.
        version = digest if hint is None else identity.content_hash(digest, hint)
        items.append(
            ItemData(
                key=key,
                title=title,
                link=link,
                content_html=content,
                text=text,
                published=published or updated,
                updated=updated,
                author=author,
                prospect_hint=hint,
                content_hash=version,
                dedupe_key=identity.dedupe_key_canonical(title, canonical, digest),
            )
        )
    return items
