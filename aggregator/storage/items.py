"""Item upsert (new, updated or unchanged), near-duplicate grouping, and tags."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func
from sqlmodel import Session, select

from aggregator.storage.models import CorrectionRow, ItemRow, TagRow
from aggregator.types import ItemData

#: (kind, value, score, origin) — kind is "prospect" or "stage".
Tag = tuple[str, str, float, str]
#: Called with a source id and that source's new or changed items; returns tags per item.
TagFunction = Callable[[str, Sequence[ItemData]], Sequence[Sequence[Tag]]]


@dataclass(frozen=True)
class StoreCounts:
    new: int
    updated: int
    unchanged: int


@dataclass(frozen=True)
class StoreRequest:
    """One source's parsed items, to be stored (with ``tag`` called on the new and changed ones)."""

    source_id: str
    visibility: str
    items: Sequence[ItemData]
    now: datetime
    tag: TagFunction | None = None


_ITEMS = ItemRow.__table__  # type: ignore[attr-defined]
_CHUNK = 500  # ids or (source, key) pairs per statement; SQLite allows 32,766 parameters, PostgreSQL 65,535


class ItemsMixin:
    engine: Engine

    def store_items(self, source_id: str, visibility: str, items: Sequence[ItemData], now: datetime,
                    tag: TagFunction | None = None) -> StoreCounts:
        """Insert new items, update changed ones, tag both; one transaction, committed here.

        Items that dropped out of the feed are left alone: nothing is ever deleted.
        """
        return self.store_batch([StoreRequest(source_id, visibility, items, now, tag)])[0]

    def store_batch(self, requests: Sequence[StoreRequest]) -> list[StoreCounts]:
        """``store_items`` for several sources in one transaction (sources finishing together
        share one commit and a handful of statements instead of a dozen each).

        Written for CPU: a Connection rather than an ORM Session, one lookup for the whole batch,
        and executemany of plain tuples handed to the driver (values already in the database's
        form), so SQLAlchemy does no per-row work.
        """
        counts = [StoreCounts(0, 0, 0)] * len(requests)
        if not any(r.items for r in requests):
            return counts
        uniques: list[dict[str, ItemData]] = []
        for request in requests:
            unique: dict[str, ItemData] = {}
            for item in request.items:
                unique.setdefault(item.key, item)
            uniques.append(unique)
        with self.engine.begin() as conn:  # a Connection: no ORM unit of work is needed here
            existing = _existing(conn, [(r.source_id, k) for r, u in zip(requests, uniques, strict=True) for k in u])
            to_db = _datetime_to_db(conn)
            fresh: list[tuple[object, ...]] = []
            fresh_owner: list[tuple[int, ItemData]] = []  # (request index, data) per fresh row
            updates: list[tuple[object, ...]] = []
            changed: list[list[tuple[int, ItemData]]] = [[] for _ in requests]  # (item id, data) per request
            updated_keys: dict[int, str] = {}  # item id -> its new dedupe key, for items already stored
            for index, (request, unique) in enumerate(zip(requests, uniques, strict=True)):
                source_id, visibility, now = request.source_id, request.visibility, to_db(request.now)
                new = updated = 0
                for key, data in unique.items():
                    row = existing.get((source_id, key))
                    if row is None:
                        fresh.append((source_id, key, visibility, data.title, data.link, data.content_html,
                                      data.text, data.author, data.prospect_hint,
                                      now if data.published is None else to_db(data.published),
                                      to_db(data.updated), now, now, data.content_hash, data.dedupe_key))
                        fresh_owner.append((index, data))
                        new += 1
                    elif row[1] != data.content_hash or row[2] != data.title:
                        updates.append((data.title, data.link, data.content_html, data.text, data.author,
                                        data.prospect_hint, to_db(data.updated), now, data.content_hash,
                                        data.dedupe_key, to_db(data.published), row[0]))
                        changed[index].append((row[0], data))
                        updated_keys[row[0]] = data.dedupe_key
                        updated += 1
                counts[index] = StoreCounts(new, updated, len(unique) - new - updated)
            if updates:
                _executemany(conn, _UPDATE_SQL, updates)
            if fresh:
                # One executemany, then the new ids by key: SQLite cannot batch an INSERT …
                # RETURNING whose ids must come back in order (SQLAlchemy sends it row by row).
                _executemany(conn, _INSERT_SQL, fresh)
                ids = _existing(conn, [(requests[owner].source_id, data.key) for owner, data in fresh_owner],
                                versions=False)
                for owner, data in fresh_owner:
                    changed[owner].append((ids[(requests[owner].source_id, data.key)][0], data))
            self._group(conn, [item_id for mine in changed for item_id, _ in mine])
            if updated_keys:  # a changed item may have left its group, or now lead another
                self._regroup(conn, list(updated_keys), {key for key in updated_keys.values() if key})
            tagged: list[tuple[int, Iterable[Tag]]] = []
            for request, mine in zip(requests, changed, strict=True):
                if request.tag is not None and mine:
                    tag_sets = request.tag(request.source_id, [data for _, data in mine])
                    tagged.extend((item_id, tags) for (item_id, _), tags in zip(mine, tag_sets, strict=True))
            self._replace_auto_tags_many(conn, tagged)
            stored = [(counts[i].new, r.source_id) for i, r in enumerate(requests) if counts[i].new]
            if stored:
                _executemany(conn, "UPDATE sources SET items_stored = items_stored + ? WHERE id = ?", stored)
        return counts

    @staticmethod
    def _group(conn: Connection, item_ids: Sequence[int]) -> None:
        """Point each item at the first item with its dedupe key (the story's group).

        One UPDATE per 500 items; the lookup of each key's first item runs inside the
        database, on ``ix_items_dedupe_key``.
        """
        for start in range(0, len(item_ids), _CHUNK):
            chunk = item_ids[start:start + _CHUNK]
            _execute(conn, _GROUP_SQL.format(ids=_marks(len(chunk))), tuple(chunk))

    @staticmethod
    def _regroup(conn: Connection, item_ids: Sequence[int], dedupe_keys: Iterable[str]) -> None:
        """After items changed their dedupe keys: regroup the items that followed them, and those
        sharing their new keys (a changed item with a smaller id now leads that group)."""
        for start in range(0, len(item_ids), _CHUNK):
            chunk = item_ids[start:start + _CHUNK]
            _execute(conn, _REGROUP_SQL.format(where=f"group_id IN ({_marks(len(chunk))})"), tuple(chunk))
        keys = sorted(dedupe_keys)
        for start in range(0, len(keys), _CHUNK):
            chunk_keys = keys[start:start + _CHUNK]
            _execute(conn, _REGROUP_SQL.format(where=f"dedupe_key IN ({_marks(len(chunk_keys))})"),
                     tuple(chunk_keys))

    @staticmethod
    def _replace_auto_tags_many(conn: Connection, batch: Sequence[tuple[int, Iterable[Tag]]]) -> None:
        """Replace machine tags of many items in three statements; a person's correction of a
        kind always wins over the machine (corrected kinds hold only 'correction' rows)."""
        ids = [item_id for item_id, _ in batch]
        if not ids:
            return
        corrected: set[tuple[int, str]] = set()
        for start in range(0, len(ids), _CHUNK):
            chunk = tuple(ids[start:start + _CHUNK])
            marks = _marks(len(chunk))
            corrected.update((item_id, kind) for item_id, kind in _fetch(
                conn, f"SELECT item_id, kind FROM corrections WHERE item_id IN ({marks})", chunk))
            _execute(conn, f"DELETE FROM item_tags WHERE item_id IN ({marks}) AND origin <> 'correction'", chunk)
        rows: list[tuple[int, str, str, float, str]] = []
        for item_id, tags in batch:
            seen: set[tuple[str, str]] = set()
            for kind, value, score, origin in tags:
                if (item_id, kind) in corrected or (kind, value) in seen:
                    continue
                seen.add((kind, value))
                rows.append((item_id, kind, value, float(score), origin))
        if rows:
            _executemany(conn, _TAG_SQL, rows)

    def retag(self, tag: TagFunction, batch: int = 500,
              progress: Callable[[int], None] | None = None) -> int:
        """Re-tag every stored item (after a config or model change); returns the count."""
        done, last_id = 0, 0
        while True:
            with Session(self.engine) as session:
                rows = list(session.exec(select(ItemRow).where(ItemRow.id > last_id)  # type: ignore[operator]
                                         .order_by(ItemRow.id).limit(batch)).all())  # type: ignore[arg-type]
                if not rows:
                    return done
                by_source: dict[str, list[ItemRow]] = {}
                for row in rows:
                    by_source.setdefault(row.source_id, []).append(row)
                for source_id, group in by_source.items():
                    tag_sets = tag(source_id, [row_to_item(r) for r in group])
                    self._replace_auto_tags_many(session.connection(), [
                        (r.id, t) for r, t in zip(group, tag_sets, strict=True) if r.id is not None])
                session.commit()
                last_id = rows[-1].id or last_id
                done += len(rows)
                if progress:
                    progress(len(rows))

    def stored_versions(self, source_id: str, keys: Sequence[str]) -> dict[str, tuple[str, str]]:
        """(content_hash, title) of the given items already stored: what is new or changed."""
        with Session(self.engine) as session:
            return {key: (digest, title) for key, digest, title in session.execute(_versions_query(source_id, keys))}

    def item(self, item_id: int) -> ItemRow | None:
        with Session(self.engine) as session:
            return session.get(ItemRow, item_id)

    def tags_for(self, item_ids: Sequence[int]) -> dict[int, list[TagRow]]:
        out: dict[int, list[TagRow]] = {i: [] for i in item_ids}
        if not item_ids:
            return out
        with Session(self.engine) as session:
            for tag in session.exec(select(TagRow).where(TagRow.item_id.in_(list(item_ids)))).all():  # type: ignore[attr-defined]
                out[tag.item_id].append(tag)
        return out

    def count_items(self) -> int:
        with Session(self.engine) as session:
            return int(session.exec(select(func.count()).select_from(ItemRow)).one())

    def correct_tags(self, item_id: int, kind: str, values: Sequence[str], user_id: int | None,
                     now: datetime) -> None:
        """A person sets an item's prospects or stages; kept as training data and credited."""
        with Session(self.engine) as session:
            session.add(CorrectionRow(item_id=item_id, user_id=user_id, kind=kind,
                                      values_csv=",".join(values), created_at=now))
            session.execute(delete(TagRow).where(TagRow.item_id == item_id,  # type: ignore[arg-type]
                                                 TagRow.kind == kind))  # type: ignore[arg-type]
            for value in dict.fromkeys(values):
                session.add(TagRow(item_id=item_id, kind=kind, value=value, score=1.0,
                                   origin="correction", set_by=user_id))
            session.commit()

    def corrections(self) -> list[tuple[ItemRow, CorrectionRow]]:
        """The newest correction per item and kind, joined to its item (training data)."""
        with Session(self.engine) as session:
            rows = session.exec(select(ItemRow, CorrectionRow)
                                .where(ItemRow.id == CorrectionRow.item_id)
                                .order_by(CorrectionRow.id)).all()  # type: ignore[arg-type]
            newest: dict[tuple[int, str], tuple[ItemRow, CorrectionRow]] = {}
            for item, corr in rows:
                newest[(corr.item_id, corr.kind)] = (item, corr)
            return list(newest.values())


def _existing(conn: Connection, pairs: Sequence[tuple[str, str]],
              versions: bool = True) -> dict[tuple[str, str], tuple[Any, ...]]:
    """(id, content_hash, title) of the stored items with these (source id, key) pairs; just (id,)
    without ``versions``, which the (source_id, key) index answers alone (the hash and title sit
    after the content in the row, often in overflow pages).

    One statement per 500 pairs for a whole batch of sources (one per source before): the pairs
    drive a join on the (source_id, key) unique index, which CROSS JOIN makes SQLite keep.
    """
    found: dict[tuple[str, str], tuple[Any, ...]] = {}
    columns = "i.content_hash, i.title" if versions else ""
    for start in range(0, len(pairs), _CHUNK):
        chunk = pairs[start:start + _CHUNK]
        sql = (f"SELECT i.source_id, i.key, i.id{', ' if columns else ''}{columns} FROM (VALUES "
               f"{', '.join(['(?, ?)'] * len(chunk))}) AS v CROSS JOIN items AS i "
               "WHERE i.source_id = v.column1 AND i.key = v.column2")
        found.update(((row[0], row[1]), row[2:]) for row in _fetch(conn, sql, tuple(v for pair in chunk for v in pair)))
    return found


def _datetime_to_db(conn: Connection) -> Callable[[datetime | None], object]:
    """The dialect's own conversion of an aware datetime to what the driver takes (SQLite: text)."""
    process = _ITEMS.c.published.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process if process is not None else _same


def _same(value: datetime | None) -> object:
    return value


def _sql(conn: Connection, sql: str) -> str:
    """``sql`` written with ``?`` placeholders, in the driver's own style (psycopg: ``%s``)."""
    return sql if conn.dialect.paramstyle == "qmark" else sql.replace("?", "%s")


def _marks(n: int) -> str:
    return ", ".join(["?"] * n)


def _execute(conn: Connection, sql: str, params: tuple[object, ...]) -> None:
    """One statement straight to the driver: no SQL compilation, no per-value processing."""
    conn.exec_driver_sql(_sql(conn, sql), params)


def _fetch(conn: Connection, sql: str, params: tuple[object, ...]) -> Sequence[Any]:
    """``_execute`` for a query: all its rows at once (one fetch, not one per row)."""
    return conn.exec_driver_sql(_sql(conn, sql), params).all()


def _executemany(conn: Connection, sql: str, rows: Sequence[tuple[object, ...]]) -> None:
    """executemany straight to the driver, skipping SQLAlchemy's per-row parameter processing:
    the values are already in the database's form (``_datetime_to_db``)."""
    conn.exec_driver_sql(_sql(conn, sql), list(rows))


_INSERT_SQL = (
    'INSERT INTO items (source_id, "key", visibility, title, link, content_html, text, author, prospect_hint, '
    "published, updated, first_seen, last_changed, content_hash, dedupe_key) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
# A missing date keeps the stored one.
_UPDATE_SQL = (
    "UPDATE items SET title = ?, link = ?, content_html = ?, text = ?, author = ?, prospect_hint = ?, updated = ?, "
    "last_changed = ?, content_hash = ?, dedupe_key = ?, published = coalesce(?, published) WHERE id = ?")

_TAG_SQL = "INSERT INTO item_tags (item_id, kind, value, score, origin, set_by) VALUES (?, ?, ?, ?, ?, NULL)"
# An empty dedupe key groups nothing: such an item is its own group.
_GROUP_EXPRESSION = (
    "CASE WHEN dedupe_key = '' THEN id ELSE "
    "(SELECT min(other.id) FROM items AS other WHERE other.dedupe_key = items.dedupe_key) END")
_GROUP_SQL = "UPDATE items SET group_id = " + _GROUP_EXPRESSION + " WHERE id IN ({ids})"
_REGROUP_SQL = "UPDATE items SET group_id = " + _GROUP_EXPRESSION + " WHERE {where}"


def row_to_item(row: ItemRow) -> ItemData:
    """Rebuild the parsed form of a stored item (for re-tagging)."""
    return ItemData(key=row.key, title=row.title, link=row.link, content_html=row.content_html,
                    text=row.text, published=row.published, updated=row.updated, author=row.author,
                    prospect_hint=row.prospect_hint, content_hash=row.content_hash,
                    dedupe_key=row.dedupe_key)


def _versions_query(source_id: str, keys: Sequence[str]):  # type: ignore[no-untyped-def]
    return select(ItemRow.key, ItemRow.content_hash, ItemRow.title).where(
        ItemRow.source_id == source_id, ItemRow.key.in_(list(keys)))  # type: ignore[attr-defined]
