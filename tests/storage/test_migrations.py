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
