"""Queries behind rep feeds: the candidate items of a stream, and a cheap version of it.

A stream is "items tagged with any of these prospects (and, optionally, this
stage)". These queries return candidates only; *which* of them a rep may see is
decided by ``aggregator.outputs.streams`` with the one entitlement rule.

The version is a handful of aggregates over the same candidate set: a poller's
conditional request is answered by comparing it, without loading a single item.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Select, Table, and_, func, select

from aggregator.storage.browse import effective_visibility
from aggregator.storage.engine import aware, is_sqlite
from aggregator.storage.models import CorrectionRow, ItemRow, SourceRow, TagRow

if TYPE_CHECKING:  # the package imports its modules; only annotations need the DAO here
    from aggregator.storage import Storage

__all__ = ["DataProbe", "StreamItem", "StreamVersion", "last_correction", "stream_items", "stream_version"]

_items = cast(Table, ItemRow.__table__)  # type: ignore[attr-defined]
_tags = cast(Table, TagRow.__table__)  # type: ignore[attr-defined]
_corrections = cast(Table, CorrectionRow.__table__)  # type: ignore[attr-defined]
_sources = cast(Table, SourceRow.__table__)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class StreamItem:
    """One candidate item with everything a feed entry needs, tags included."""

    id: int
    source_id: str
    source_title: str
    source_url: str
    key: str
    visibility: str
    title: str
    link: str | None
    content_html: str
    author: str | None
    published: datetime
    updated: datetime | None
    last_changed: datetime
    group_id: int
    tags: tuple[tuple[str, str, str], ...]  # (kind, value, origin)
    text: str = ""  # plain text: names an item that has no title


@dataclass(frozen=True)
class StreamVersion:
    """Aggregates that change whenever anything shown in a stream may have changed."""

    items: int
    max_item_id: int
    last_changed: datetime | None
    tags: int
    max_tag_id: int
    corrections: int
    last_corrected: datetime | None

    @property
    def last_modified(self) -> datetime | None:
        """Newest item change or tag correction: the stream's Last-Modified."""
        stamps = [d for d in (self.last_changed, self.last_corrected) if d is not None]
        return max(stamps) if stamps else None


def _candidate_ids(prospects: Collection[str], stage: str | None) -> Select[Any]:
    ids = select(_tags.c.item_id).where(_tags.c.kind == "prospect", _tags.c.value.in_(sorted(prospects)))
    if stage is not None:
        staged = select(_tags.c.item_id).where(_tags.c.kind == "stage", _tags.c.value == stage)
        ids = ids.where(_tags.c.item_id.in_(staged))
    return ids


def stream_version(storage: Storage, prospects: Collection[str], stage: str | None = None) -> StreamVersion:
    """The version of the stream over ``prospects`` (and ``stage``): one round trip."""
    ids = _candidate_ids(prospects, stage)

    def scalar(column: Any, table: Table, key: Any) -> Any:
        return select(column).select_from(table).where(key.in_(ids)).scalar_subquery()

    query = select(
        scalar(func.count(), _items, _items.c.id),
        scalar(func.coalesce(func.max(_items.c.id), 0), _items, _items.c.id),
        scalar(func.max(_items.c.last_changed), _items, _items.c.id),
        scalar(func.count(), _tags, _tags.c.item_id),
        scalar(func.coalesce(func.max(_tags.c.id), 0), _tags, _tags.c.item_id),
        scalar(func.count(), _corrections, _corrections.c.item_id),
        scalar(func.max(_corrections.c.created_at), _corrections, _corrections.c.item_id),
    )
    with storage.engine.connect() as conn:
        row = conn.execute(query).one()
    return StreamVersion(items=int(row[0]), max_item_id=int(row[1]), last_changed=aware(_dt(row[2])),
                         tags=int(row[3]), max_tag_id=int(row[4]), corrections=int(row[5]),
                         last_corrected=aware(_dt(row[6])))


def last_correction(storage: Storage, item_ids: Collection[int]) -> datetime | None:
    """When a person last corrected any of these items (None if never): one aggregate query."""
    if not item_ids:
        return None
    query = select(func.max(_corrections.c.created_at)).where(_corrections.c.item_id.in_(list(item_ids)))
    with storage.engine.connect() as conn:
        return aware(_dt(conn.execute(query).scalar_one_or_none()))


def _dt(value: object) -> datetime | None:
    """Aggregates over DateTime columns come back as strings on SQLite."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def stream_items(storage: Storage, prospects: Collection[str], stage: str | None = None, *,
                 limit: int = 200, offset: int = 0) -> list[StreamItem]:
    """Candidates, newest first (published, then id), with their tags and source names."""
    query = (
        select(_items, _sources.c.title.label("source_title"), _sources.c.url.label("source_url"),
               _sources.c.visibility.label("source_visibility"))
        .join(_sources, and_(_sources.c.id == _items.c.source_id), isouter=True)
        .where(_items.c.id.in_(_candidate_ids(prospects, stage)))
        .order_by(_items.c.published.desc(), _items.c.id.desc())
        .limit(limit).offset(offset)
    )
    with storage.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
        ids = [int(r["id"]) for r in rows]
        tags: dict[int, list[tuple[str, str, str]]] = {i: [] for i in ids}
        if ids:
            tag_rows = conn.execute(select(_tags.c.item_id, _tags.c.kind, _tags.c.value, _tags.c.origin)
                                    .where(_tags.c.item_id.in_(ids))
                                    .order_by(_tags.c.kind, _tags.c.value)).all()
            for item_id, kind, value, origin in tag_rows:
                tags[int(item_id)].append((str(kind), str(value), str(origin)))
    return [
        StreamItem(
            id=int(r["id"]), source_id=r["source_id"], source_title=r["source_title"] or r["source_id"],
            source_url=r["source_url"] or "", key=r["key"],
            visibility=effective_visibility(r["visibility"], r["source_visibility"]), title=r["title"],
            link=r["link"], content_html=r["content_html"] or "", author=r["author"],
            published=_aware(r["published"]), updated=aware(r["updated"]),
            last_changed=_aware(r["last_changed"]), group_id=int(r["group_id"] or r["id"]),
            tags=tuple(tags[int(r["id"])]), text=r["text"] or "",
        )
        for r in rows
    ]


def _aware(value: datetime) -> datetime:
    result = aware(value)
    assert result is not None
    return result


class DataProbe:
    """Answers "has anything been committed since I last asked?" in microseconds.

    On SQLite it reads ``PRAGMA data_version`` on a connection of its own, which
    changes whenever any *other* connection (any process) commits: polls of an
    unchanged database then need no query at all. On other databases it cannot
    tell, and says "maybe" (``None``), so callers query every time.
    """

    def __init__(self, storage: Storage) -> None:
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        engine = storage.engine
        database = engine.url.database
        if is_sqlite(engine) and database and database != ":memory:":
            self._conn = sqlite3.connect(database, check_same_thread=False, isolation_level=None)

    def generation(self) -> int | None:
        """A number that differs after any commit by anyone; ``None`` when unknowable."""
        if self._conn is None:
            return None
        with self._lock:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
