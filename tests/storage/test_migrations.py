"""The Alembic migrations and the SQLModel tables describe the same schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from aggregator.storage import open_storage


def test_models_match_migrations(db_url: str) -> None:
    storage = open_storage(db_url)
    with storage.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    storage.close()
    assert diff == [], f"models changed without a migration: {diff}"


def test_a_database_from_before_this_release_upgrades_with_its_data(db_url: str) -> None:
    """A database at revision 0002 (before source notes and session epochs) keeps every row and gains
    the new columns with their defaults: an upgrade never needs a fresh database."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from aggregator.storage.engine import make_engine, migrate

    engine = make_engine(db_url)
    migrate(engine, "0002")
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO sources (id, url, kind, visibility, title, every_seconds, enabled, in_config, "
            "consecutive_failures, items_stored, last_error) VALUES ('crm', 'file:///x.csv', 'export', 'internal', "
            "'CRM', 900, true, true, 2, 1, 'HTTP 500')"))
        conn.execute(text(
            "INSERT INTO items (source_id, key, visibility, title, content_html, text, published, first_seen, "
            "last_changed, content_hash, dedupe_key) VALUES ('crm', 'r1', 'internal', 'Renewal call', '', 'seats', "
            ":now, :now, :now, 'h', '')"), {"now": now})
        conn.execute(text(
            "INSERT INTO users (username, password_hash, role, created_at) VALUES ('sam', 'x', 'support', :now)"),
            {"now": now})
    engine.dispose()

    storage = open_storage(db_url)  # migrates to the newest revision
    source = storage.source("crm")
    assert source is not None
    assert (source.last_error, source.consecutive_failures, source.notes) == ("HTTP 500", 2, None)
    item = storage.item(1)
    assert item is not None and (item.key, item.title, item.visibility) == ("r1", "Renewal call", "internal")
    user = storage.user("sam")
    assert user is not None and user.session_epoch == 0
    storage.record_attempt("crm", now=now, status="ok", http_status=200, error=None, next_due=now,
                           notes=["a note"])
    source = storage.source("crm")
    assert source is not None and source.notes == "a note" and source.last_error is None
    storage.close()
