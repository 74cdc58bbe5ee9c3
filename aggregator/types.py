"""Plain frozen values that cross layers (config → fetch → pipeline → storage → outputs).

They carry no behaviour and import nothing heavy, so every layer can depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # only for annotations: keeps this module import-free
    from aggregator.config.schema import AuthConfig, ExportColumns, Kind, Selectors, Visibility


@dataclass(frozen=True)
class SourceSpec:
    """One source to fetch, after template expansion (what the fetcher needs, nothing more)."""

    id: str
    url: str
    kind: Kind
    visibility: Visibility
    every: timedelta
    title: str = ""
    prospects: tuple[str, ...] = ()
    select: Selectors | None = None
    columns: ExportColumns | None = None
    auth: AuthConfig | None = None
    headers: tuple[tuple[str, str], ...] = ()
    robots: bool = True
    enabled: bool = True
    template: str | None = None  # the template this source was expanded from


@dataclass(frozen=True)
class ItemData:
    """One item as parsed and sanitised, before storage.

    ``key`` is the item's stable identity within its source (guid, canonical link
    or content hash); ``dedupe_key`` groups the same story arriving from several
    sources.
    """

    key: str
    title: str
    link: str | None
    content_html: str
    text: str
    published: datetime | None = None  # UTC, aware
    updated: datetime | None = None  # UTC, aware
    author: str | None = None
    prospect_hint: str | None = None  # an export's account column, raw
    content_hash: str = ""
    dedupe_key: str = ""


FetchStatus = Literal["ok", "not_modified", "error", "deferred"]


@dataclass(frozen=True)
class FetchResult:
    """What fetching and parsing one source produced. A failure is a value, not an exception."""

    source_id: str
    status: FetchStatus
    items: tuple[ItemData, ...] = ()
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None  # plain language, never containing secrets
    retry_after: datetime | None = None  # server asked us to wait until then
    final_url: str | None = None
    feed_title: str | None = None
    elapsed: float = 0.0
    notes: tuple[str, ...] = ()  # advice for whoever configures the source (see ParsedDocument.notes)


@dataclass(frozen=True)
class FetchOutcome:
    """One source's result after storing: what `funnelfeed fetch --json` prints."""

    source: str
    status: FetchStatus
    new: int = 0
    updated: int = 0
    error: str | None = None
    extra: dict[str, object] = field(default_factory=dict)
