"""Item upsert (new, updated or unchanged), near-duplicate grouping, and tags."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, bindparam, delete, func, text, update
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
_TAGS = TagRow.__table__  # type: ignore[attr-defined]
_CHUNK = 500  # bound parameters per IN (...) list; SQLite allows 32,766, PostgreSQL 65,535


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
        share one commit and a handful of statements instead of a dozen each)."""
        counts = {index: StoreCounts(0, 0, 0) for index in range(len(requests))}
        if not any(r.items for r in requests):
            return list(counts.values())
        with Session(self.engine) as session:
            fresh: list[dict[str, object]] = []
            fresh_owner: list[tuple[int, ItemData]] = []  # (request index, data) per fresh row
            updates: list[dict[str, object]] = []
            changed: list[tuple[int, int, ItemData]] = []  # (request index, item id, data)
            for index, request in enumerate(requests):
                unique: dict[str, ItemData] = {}
                for item in request.items:
                    unique.setdefault(item.key, item)
                existing = self._existing(session, request.source_id, list(unique))
                new = updated = 0
                for key, data in unique.items():
                    row = existing.get(key)
                    if row is None:
                        fresh.append(_fresh_row(request, data))
                        fresh_owner.append((index, data))
                        new += 1
                    elif row[1] != data.content_hash or row[2] != data.title:
                        change: dict[str, object] = {
                            "id": row[0], "title": data.title, "link": data.link,
                            "content_html": data.content_html, "text": data.text, "author": data.author,
                            "updated": data.updated, "last_changed": request.now,
                            "content_hash": data.content_hash, "dedupe_key": data.dedupe_key}
                        if data.published:
                            change["published"] = data.published
                        updates.append(change)
                        changed.append((index, row[0], data))
                        updated += 1
                counts[index] = StoreCounts(new, updated, len(unique) - new - updated)
            for change in updates:  # rows differ in which columns they set; one statement each
                session.execute(update(ItemRow).where(ItemRow.id == change["id"])  # type: ignore[arg-type]
                                .values({k: v for k, v in change.items() if k != "id"}))
            if fresh:
                # One executemany, then the new ids by key: SQLite cannot batch an INSERT …
                # RETURNING whose ids must come back in order (SQLAlchemy sends it row by row).
                session.execute(_ITEMS.insert(), fresh)
                for index, request in enumerate(requests):
                    keys = [data.key for owner, data in fresh_owner if owner == index]
                    ids = self._existing(session, request.source_id, keys)
                    changed.extend((index, ids[data.key][0], data) for owner, data in fresh_owner if owner == index)
            self._group(session, [item_id for _, item_id, _ in changed])
            tagged: list[tuple[int, Iterable[Tag]]] = []
            for index, request in enumerate(requests):
                mine = [(item_id, data) for owner, item_id, data in changed if owner == index]
                if request.tag is not None and mine:
                    tag_sets = request.tag(request.source_id, [data for _, data in mine])
                    tagged.extend((item_id, tags) for (item_id, _), tags in zip(mine, tag_sets, strict=True))
            self._replace_auto_tags_many(session, tagged)
            stored = [{"sid": r.source_id, "n": counts[i].new} for i, r in enumerate(requests) if counts[i].new]
            if stored:
                session.execute(text("UPDATE sources SET items_stored = items_stored + :n WHERE id = :sid"), stored)
            session.commit()
        return [counts[i] for i in range(len(requests))]

    @staticmethod
    def _existing(session: Session, source_id: str, keys: list[str]) -> dict[str, tuple[int, str, str]]:
        """(id, content_hash, title) of the source's stored items with these keys."""
        found: dict[str, tuple[int, str, str]] = {}
        for start in range(0, len(keys), _CHUNK):
            found.update((key, (item_id, digest, title)) for item_id, key, digest, title in session.execute(
                select(ItemRow.id, ItemRow.key, ItemRow.content_hash, ItemRow.title).where(
                    ItemRow.source_id == source_id,
                    ItemRow.key.in_(keys[start:start + _CHUNK]))))  # type: ignore[attr-defined]
        return found

    @staticmethod
    def _group(session: Session, item_ids: Sequence[int]) -> None:
        """Point each item at the first item with its dedupe key (the story's group).

        One UPDATE per 500 items; the lookup of each key's first item runs inside the
        database, on ``ix_items_dedupe_key``.
        """
        for start in range(0, len(item_ids), _CHUNK):
            session.execute(_GROUP_SQL, {"ids": list(item_ids[start:start + _CHUNK])})

    @staticmethod
    def _replace_auto_tags_many(session: Session, batch: Sequence[tuple[int, Iterable[Tag]]]) -> None:
        """Replace machine tags of many items in three statements; a person's correction of a
        kind always wins over the machine (corrected kinds hold only 'correction' rows)."""
        ids = [item_id for item_id, _ in batch]
        if not ids:
            return
        corrected: set[tuple[int, str]] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            corrected.update((i, k) for i, k in session.execute(
                select(CorrectionRow.item_id, CorrectionRow.kind)
                .where(CorrectionRow.item_id.in_(chunk))  # type: ignore[attr-defined]
            ).all())
            session.execute(delete(TagRow).where(TagRow.item_id.in_(chunk),  # type: ignore[attr-defined]
                                                 TagRow.origin != "correction"))  # type: ignore[arg-type]
        rows: list[dict[str, object]] = []
        for item_id, tags in batch:
            seen: set[tuple[str, str]] = set()
            for kind, value, score, origin in tags:
                if (item_id, kind) in corrected or (kind, value) in seen:
                    continue
                seen.add((kind, value))
                rows.append({"item_id": item_id, "kind": kind, "value": value, "score": float(score),
                             "origin": origin, "set_by": None})
        if rows:
            session.execute(_TAGS.insert(), rows)  # Core executemany: no ORM bookkeeping per row

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
                    self._replace_auto_tags_many(
                        session, [(r.id, t) for r, t in zip(group, tag_sets, strict=True) if r.id is not None])
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


def _fresh_row(request: StoreRequest, data: ItemData) -> dict[str, object]:
    now = request.now
    return {"source_id": request.source_id, "key": data.key, "visibility": request.visibility,
            "title": data.title, "link": data.link, "content_html": data.content_html, "text": data.text,
            "author": data.author, "prospect_hint": data.prospect_hint, "published": data.published or now,
            "updated": data.updated, "first_seen": now, "last_changed": now, "content_hash": data.content_hash,
            "dedupe_key": data.dedupe_key}


# An empty dedupe key groups nothing: such an item is its own group.
_GROUP_SQL = text(
    "UPDATE items SET group_id = CASE WHEN dedupe_key = '' THEN id ELSE "
    "(SELECT min(other.id) FROM items AS other WHERE other.dedupe_key = items.dedupe_key) END "
    "WHERE id IN :ids"
).bindparams(bindparam("ids", expanding=True))


def row_to_item(row: ItemRow) -> ItemData:
    """Rebuild the parsed form of a stored item (for re-tagging)."""
    return ItemData(key=row.key, title=row.title, link=row.link, content_html=row.content_html,
                    text=row.text, published=row.published, updated=row.updated, author=row.author,
                    prospect_hint=row.prospect_hint, content_hash=row.content_hash,
                    dedupe_key=row.dedupe_key)


def _versions_query(source_id: str, keys: Sequence[str]):  # type: ignore[no-untyped-def]
    return select(ItemRow.key, ItemRow.content_hash, ItemRow.title).where(
        ItemRow.source_id == source_id, ItemRow.key.in_(list(keys)))  # type: ignore[attr-defined]
