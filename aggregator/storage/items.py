"""Item upsert (new, updated or unchanged), near-duplicate grouping, and tags."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, func, insert, update
from sqlmodel import Session, select

from aggregator.storage.models import CorrectionRow, ItemRow, SourceRow, TagRow
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


class ItemsMixin:
    engine: Engine

    def store_items(self, source_id: str, visibility: str, items: Sequence[ItemData], now: datetime,
                    tag: TagFunction | None = None) -> StoreCounts:
        """Insert new items, update changed ones, tag both; one transaction, committed here.

        Items that dropped out of the feed are left alone: nothing is ever deleted.
        """
        if not items:
            return StoreCounts(0, 0, 0)
        unique: dict[str, ItemData] = {}
        for item in items:
            unique.setdefault(item.key, item)
        with Session(self.engine) as session:
            existing = {
                row.key: row
                for row in session.exec(
                    select(ItemRow).where(ItemRow.source_id == source_id,
                                          ItemRow.key.in_(list(unique)))  # type: ignore[attr-defined]
                ).all()
            }
            changed: list[tuple[int, ItemData]] = []
            fresh: list[dict[str, object]] = []
            fresh_data: list[ItemData] = []
            updated = 0
            for key, data in unique.items():
                row = existing.get(key)
                if row is None:
                    fresh.append({"source_id": source_id, "key": key, "visibility": visibility,
                                  "title": data.title, "link": data.link, "content_html": data.content_html,
                                  "text": data.text, "author": data.author, "prospect_hint": data.prospect_hint,
                                  "published": data.published or now, "updated": data.updated,
                                  "first_seen": now, "last_changed": now, "content_hash": data.content_hash,
                                  "dedupe_key": data.dedupe_key})
                    fresh_data.append(data)
                elif row.content_hash != data.content_hash or row.title != data.title:
                    row.title, row.link, row.content_html, row.text = (data.title, data.link,
                                                                      data.content_html, data.text)
                    row.author, row.updated, row.last_changed = data.author, data.updated, now
                    row.content_hash, row.dedupe_key = data.content_hash, data.dedupe_key
                    if data.published:
                        row.published = data.published
                    session.add(row)
                    updated += 1
                    assert row.id is not None
                    changed.append((row.id, data))
            new = len(fresh)
            if fresh:
                # One multi-row INSERT … RETURNING instead of an ORM flush per item.
                ids = session.execute(
                    insert(ItemRow).returning(ItemRow.id, sort_by_parameter_order=True),  # type: ignore[call-overload]
                    fresh
                ).scalars().all()
                changed.extend(zip(ids, fresh_data, strict=True))
            session.flush()
            self._group(session, [(item_id, data.dedupe_key) for item_id, data in changed])
            if tag is not None and changed:
                tag_sets = tag(source_id, [data for _, data in changed])
                self._replace_auto_tags_many(
                    session, [(item_id, tags) for (item_id, _), tags in zip(changed, tag_sets, strict=True)])
            if new:
                source = session.get(SourceRow, source_id)
                if source is not None:
                    source.items_stored += new
                    session.add(source)
            session.commit()
            return StoreCounts(new, updated, len(unique) - new - updated)

    @staticmethod
    def _group(session: Session, rows: Sequence[tuple[int, str]]) -> None:
        """Point each (item id, dedupe key) at the first item with that key (the story's group).

        One grouped query and one bulk UPDATE for the whole batch, not one per item.
        """
        keys = list({key for _, key in rows if key})
        first: dict[str, int] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            first.update((k, v) for k, v in session.execute(
                select(ItemRow.dedupe_key, func.min(ItemRow.id))
                .where(ItemRow.dedupe_key.in_(chunk))  # type: ignore[attr-defined]
                .group_by(ItemRow.dedupe_key)
            ).all())
        if rows:
            session.execute(update(ItemRow), [{"id": item_id, "group_id": first.get(key, item_id) if key else item_id}
                                              for item_id, key in rows])

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
            session.execute(insert(TagRow), rows)

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


def row_to_item(row: ItemRow) -> ItemData:
    """Rebuild the parsed form of a stored item (for re-tagging)."""
    return ItemData(key=row.key, title=row.title, link=row.link, content_html=row.content_html,
                    text=row.text, published=row.published, updated=row.updated, author=row.author,
                    prospect_hint=row.prospect_hint, content_hash=row.content_hash,
                    dedupe_key=row.dedupe_key)


def _versions_query(source_id: str, keys: Sequence[str]):  # type: ignore[no-untyped-def]
    return select(ItemRow.key, ItemRow.content_hash, ItemRow.title).where(
        ItemRow.source_id == source_id, ItemRow.key.in_(list(keys)))  # type: ignore[attr-defined]
