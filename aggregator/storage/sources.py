"""Sources and their fetch state: sync with config, due selection, leases, health."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, or_, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session, select

from aggregator.errors import StorageError
from aggregator.storage.engine import aware, is_sqlite
from aggregator.storage.models import HostSlotRow, ItemRow, SourceRow
from aggregator.types import SourceSpec

_SOURCES = SourceRow.__table__  # type: ignore[attr-defined]


@contextmanager
def unreachable_as_storage_error() -> Iterator[None]:
    """A database that is down or restarting (connection refused, server closed the connection)
    becomes one StorageError with a one-line message; long-running callers log it and retry."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        # No SQLSTATE: the connection failed; class 08 (connection) or 57 (shut down, restarting).
        state = getattr(exc.orig, "sqlstate", None) or ""
        down = exc.connection_invalidated or not state or state[:2] in ("08", "57")
        raise StorageError(f"the database is {'unreachable' if down else 'failing'}: {reason}") from exc


class SourcesMixin:
    engine: Engine

    def sync_sources(self, specs: Sequence[SourceSpec], now: datetime) -> None:
        """Make the sources table match config; sources removed from config keep their items."""
        wanted = {s.id: s for s in specs}
        with unreachable_as_storage_error(), Session(self.engine) as session:
            if not is_sqlite(self.engine):  # several workers may start at once
                session.execute(text("SELECT pg_advisory_xact_lock(7240134)"))
            rows = {r.id: r for r in session.exec(select(SourceRow)).all()}
            for spec in specs:
                row = rows.get(spec.id)
                if row is None:
                    # A new source is due at once (`funnelfeed fetch` right after adding it fetches it).
                    row = SourceRow(id=spec.id, url=spec.url, kind=spec.kind, visibility=spec.visibility,
                                    next_due=now)
                    session.add(row)
                changed_url = row.url != spec.url or row.kind != spec.kind
                if row.visibility == "external" and spec.visibility == "internal":
                    # Reclassified internal: what it already stored is internal too. (The other
                    # way round, stored items stay internal: they were fetched as internal.)
                    session.execute(update(ItemRow).where(ItemRow.source_id == spec.id)  # type: ignore[arg-type]
                                    .values(visibility="internal"))
                row.url, row.kind, row.visibility = spec.url, spec.kind, spec.visibility
                row.title, row.template = spec.title, spec.template
                row.every_seconds = int(spec.every.total_seconds())
                row.enabled, row.in_config = spec.enabled, True
                if changed_url:  # a new address: forget validators, fetch soon (a fetch of the old one
                    row.etag = row.last_modified = row.content_hash = None  # still running keeps no lease)
                    row.next_due = now
                    row.lease_owner = row.lease_until = None
            for ident, row in rows.items():
                if ident not in wanted and row.in_config:
                    row.in_config = False
                    session.add(row)
            session.commit()

    def source(self, source_id: str) -> SourceRow | None:
        with Session(self.engine) as session:
            return session.get(SourceRow, source_id)

    def sources(self, ids: Iterable[str] | None = None, *, include_removed: bool = False) -> list[SourceRow]:
        with Session(self.engine) as session:
            query = select(SourceRow).order_by(SourceRow.id)  # type: ignore[arg-type]
            if ids is not None:
                query = query.where(SourceRow.id.in_(list(ids)))  # type: ignore[attr-defined]
            if not include_removed:
                query = query.where(SourceRow.in_config == True)  # noqa: E712
            return list(session.exec(query).all())

    def claim_due(self, owner: str, now: datetime, lease: timedelta, limit: int) -> list[str]:
        """Lease up to ``limit`` due sources to ``owner``.

        On PostgreSQL, ``FOR UPDATE SKIP LOCKED`` lets any number of workers claim
        concurrently without two of them ever taking the same source; an expired
        lease (a dead worker) makes the source claimable again. Raises StorageError when
        the database is unreachable.
        """
        query = (
            select(SourceRow.id)
            .where(SourceRow.in_config == True, SourceRow.enabled == True)  # noqa: E712
            .where(or_(SourceRow.next_due == None, SourceRow.next_due <= now))  # type: ignore[arg-type,operator]  # noqa: E711
            .order_by(SourceRow.next_due)  # type: ignore[arg-type]
            .limit(limit)
        )
        return self._lease(query, owner, now, lease)

    def claim(self, owner: str, now: datetime, lease: timedelta, ids: Sequence[str]) -> list[str]:
        """Lease these sources to ``owner``, due or not, except those another process is fetching now.

        `funnelfeed fetch --source/--all` uses it, so a manual pass beside running workers
        never fetches a source twice nor takes over a worker's lease.
        """
        if not ids:
            return []
        query = select(SourceRow.id).where(SourceRow.id.in_(list(ids)))  # type: ignore[attr-defined]
        return self._lease(query, owner, now, lease)

    def _lease(self, query: Any, owner: str, now: datetime, lease: timedelta) -> list[str]:
        """Lease the sources ``query`` selects that no live lease holds (SKIP LOCKED on PostgreSQL)."""
        with unreachable_as_storage_error(), Session(self.engine) as session:
            query = query.where(or_(SourceRow.lease_until == None, SourceRow.lease_until < now))  # type: ignore[arg-type,operator]  # noqa: E711
            if not is_sqlite(self.engine):
                query = query.with_for_update(skip_locked=True)
            ids = list(session.exec(query).all())
            if ids:
                session.execute(
                    update(SourceRow)
                    .where(SourceRow.id.in_(ids))  # type: ignore[attr-defined]
                    .values(lease_owner=owner, lease_until=now + lease)
                )
            session.commit()
            return ids

    def release(self, source_id: str, owner: str) -> None:
        with Session(self.engine) as session:
            session.execute(
                update(SourceRow)
                .where(SourceRow.id == source_id, SourceRow.lease_owner == owner)  # type: ignore[arg-type]
                .values(lease_owner=None, lease_until=None)
            )
            session.commit()

    def release_owned(self, owner: str) -> int:
        """Drop every lease ``owner`` still holds (a worker stopping with fetches unfinished),
        so other workers take those sources at once instead of after the lease expires.
        Returns how many were released; raises StorageError when the database is unreachable."""
        with unreachable_as_storage_error(), Session(self.engine) as session:
            result = session.execute(
                update(SourceRow)
                .where(SourceRow.lease_owner == owner)  # type: ignore[arg-type]
                .values(lease_owner=None, lease_until=None)
            )
            session.commit()
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def record_attempt(self, source_id: str, **attempt: Any) -> None:
        """Store the health of one fetch (one UPDATE). Called only after its items were committed."""
        self.record_attempts([(source_id, attempt)])

    def record_attempts(self, attempts: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Store the health of many fetches in one transaction (a pass of 304s costs one commit).

        Attempts that set the same columns share one executemany UPDATE: one ORM statement
        per source cost more than the fetch of a 304.
        """
        # (columns set, failure count incremented in SQL, only if the url is still the one fetched) -> rows
        groups: dict[tuple[tuple[str, ...], bool, bool], list[dict[str, object]]] = {}
        for source_id, attempt in attempts:
            # ``url``: the address fetched. If config.yaml has given the source another one since,
            # this attempt says nothing about it: recording it would undo the fix (failures, backoff).
            attempt = dict(attempt)
            fetched_url = attempt.pop("url", None)
            values = _attempt_values(**attempt)
            failed = attempt["status"] == "error"  # consecutive_failures is then an SQL expression
            columns = tuple(sorted(k for k in values if not (failed and k == "consecutive_failures")))
            params: dict[str, object] = {f"v_{k}": values[k] for k in columns}
            params["v_source_id"] = source_id
            if fetched_url is not None:
                params["w_url"] = fetched_url
            groups.setdefault((columns, failed, fetched_url is not None), []).append(params)
        with Session(self.engine) as session:
            for (columns, failed, same_url), rows in groups.items():
                statement = update(_SOURCES).where(_SOURCES.c.id == bindparam("v_source_id")).values(
                    {c: bindparam(f"v_{c}") for c in columns})
                if same_url:
                    statement = statement.where(_SOURCES.c.url == bindparam("w_url"))
                if failed:
                    statement = statement.values(consecutive_failures=_SOURCES.c.consecutive_failures + 1)
                session.execute(statement, rows)
            session.commit()

    def next_due_time(self) -> datetime | None:
        with Session(self.engine) as session:
            value = session.exec(
                select(SourceRow.next_due)
                .where(SourceRow.in_config == True, SourceRow.enabled == True)  # noqa: E712
                .order_by(SourceRow.next_due)  # type: ignore[arg-type]
                .limit(1)
            ).first()
            return aware(value)

    def database_time(self) -> datetime | None:
        """The database server's clock (PostgreSQL), to compare with this host's; None on SQLite,
        whose clock is this host's. Raises StorageError when the database is unreachable."""
        if is_sqlite(self.engine):
            return None
        with unreachable_as_storage_error(), Session(self.engine) as session:
            return aware(session.execute(text("SELECT clock_timestamp()")).scalar_one())

    def release_all(self) -> None:
        """Drop every lease (single-process start-up: nobody else can hold one)."""
        with Session(self.engine) as session:
            session.execute(update(SourceRow).values(lease_owner=None, lease_until=None))
            session.commit()

    def take_host_slot(self, host: str, now: datetime, per_minute: int) -> bool:
        """Use one request of ``host``'s per-minute budget, shared by every worker process.

        The row lock (``FOR UPDATE``) serialises workers on PostgreSQL; returns False
        when this minute's budget is spent, and the caller defers the fetch.
        """
        with Session(self.engine) as session:
            query = select(HostSlotRow).where(HostSlotRow.host == host)
            if not is_sqlite(self.engine):
                session.execute(
                    pg_insert(HostSlotRow).values(host=host, window_start=now, used=0)
                    .on_conflict_do_nothing(index_elements=["host"])
                )
                query = query.with_for_update()
            row = session.exec(query).first()
            if row is None:
                row = HostSlotRow(host=host, window_start=now, used=0)
            start = aware(row.window_start)
            if start is None or now - start >= timedelta(minutes=1):
                row.window_start, row.used = now, 0
            if row.used >= per_minute:
                session.rollback()
                return False
            row.used += 1
            session.add(row)
            session.commit()
            return True


def _attempt_values(*, now: datetime, status: str, http_status: int | None, error: str | None,
                    next_due: datetime, etag: str | None = None, last_modified: str | None = None,
                    content_hash: str | None = None, keep_validators: bool = True,
                    notes: Sequence[str] = ()) -> dict[str, object]:
    """Column values recording one fetch attempt; validators and notes change only on success."""
    values: dict[str, object] = {
        "last_attempt": now, "last_status": status, "http_status": http_status, "next_due": next_due,
        "lease_owner": None, "lease_until": None,
    }
    if status in ("ok", "not_modified"):
        values.update(last_success=now, consecutive_failures=0, last_error=None)
    elif status == "error":
        values.update(consecutive_failures=SourceRow.consecutive_failures + 1, last_error=error)
    if status == "ok":
        values["notes"] = "\n".join(notes) or None
    if status == "ok" or not keep_validators:
        values.update(etag=etag, last_modified=last_modified)
        if content_hash is not None:
            values["content_hash"] = content_hash
    return values
