"""Storage: the one data-access object the rest of funnelfeed talks to.

SQLite (WAL, one file) by default; PostgreSQL through the same URL. The schema is
owned by Alembic migrations that run when storage is opened.
"""

from __future__ import annotations

from sqlalchemy import Engine

from aggregator.storage.engine import aware, make_engine, migrate, utcnow
from aggregator.storage.items import ItemsMixin, StoreCounts, StoreRequest, Tag, TagFunction
from aggregator.storage.models import (
    CorrectionRow,
    ItemRow,
    MarkRow,
    NoteRow,
    RepRow,
    SourceRow,
    TagRow,
    UserRow,
)
from aggregator.storage.people import PeopleMixin
from aggregator.storage.sources import SourcesMixin

__all__ = [
    "CorrectionRow",
    "ItemRow",
    "MarkRow",
    "NoteRow",
    "RepRow",
    "SourceRow",
    "Storage",
    "StoreCounts",
    "StoreRequest",
    "Tag",
    "TagFunction",
    "TagRow",
    "UserRow",
    "aware",
    "open_storage",
    "utcnow",
]


class Storage(SourcesMixin, ItemsMixin, PeopleMixin):
    """Data access for sources, items, tags, reps, users and notes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()


def open_storage(url: str, *, run_migrations: bool = True) -> Storage:
    """Open (and migrate) the database at ``url``."""
    engine = make_engine(url)
    if run_migrations:
        migrate(engine)
    return Storage(engine)
