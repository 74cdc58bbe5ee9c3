"""SQLModel tables. Only tables live here; API shapes belong to ``web.schemas``.

The schema is owned by Alembic migrations (``storage/migrations``); a change here
needs a new revision, which ``tests/storage/test_migrations.py`` checks.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def _utc() -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=True)


class SourceRow(SQLModel, table=True):
    """A source as last seen in config.yaml, with its fetch state and health."""

    __tablename__ = "sources"

    id: str = Field(primary_key=True, max_length=200)
    url: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = Field(max_length=10)
    visibility: str = Field(max_length=10)
    title: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    template: str | None = Field(default=None, max_length=100)
    every_seconds: int = Field(default=3600)
    enabled: bool = Field(default=True)
    in_config: bool = Field(default=True)  # False once removed from config.yaml: items are kept
    etag: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_modified: str | None = Field(default=None, max_length=100)
    content_hash: str | None = Field(default=None, max_length=100)
    last_attempt: datetime | None = Field(default=None, sa_column=_utc())
    last_success: datetime | None = Field(default=None, sa_column=_utc())
    last_status: str | None = Field(default=None, max_length=20)
    http_status: int | None = Field(default=None)
    consecutive_failures: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # What support staff may want to fix although the last fetch worked (one per line): a
    # permanent redirect, page selectors that found nothing, skipped export rows.
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    next_due: datetime | None = Field(default=None, sa_column=_utc())
    items_stored: int = Field(default=0)
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_until: datetime | None = Field(default=None, sa_column=_utc())


class ItemRow(SQLModel, table=True):
    """One item from one source. Items are never deleted when they drop out of a feed."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("source_id", "key", name="uq_items_source_key"),
        Index("ix_items_published", "published"),
        Index("ix_items_dedupe_key", "dedupe_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source_id: str = Field(foreign_key="sources.id", index=True, max_length=200)
    key: str = Field(max_length=500)
    visibility: str = Field(max_length=10)
    title: str = Field(sa_column=Column(Text, nullable=False))
    link: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    content_html: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    author: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    prospect_hint: str | None = Field(default=None, max_length=200)
    published: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated: datetime | None = Field(default=None, sa_column=_utc())
    first_seen: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    last_changed: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    content_hash: str = Field(default="", max_length=100)
    dedupe_key: str = Field(default="", max_length=200)
    group_id: int | None = Field(default=None, index=True)  # id of the first item of its story


class TagRow(SQLModel, table=True):
    """A prospect or stage tag on an item, with what set it (source rule, model, person)."""

    __tablename__ = "item_tags"
    __table_args__ = (
        UniqueConstraint("item_id", "kind", "value", name="uq_item_tags"),
        Index("ix_item_tags_kind_value", "kind", "value"),
        Index("ix_item_tags_kind_value_item", "kind", "value", "item_id"),  # covering: account aggregates
    )

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="items.id", index=True)
    kind: str = Field(max_length=10)  # "prospect" | "stage"
    value: str = Field(max_length=200)
    score: float = Field(default=1.0)
    origin: str = Field(max_length=20)  # source | alias | domain | person | model | correction
    set_by: int | None = Field(default=None, foreign_key="users.id")


class CorrectionRow(SQLModel, table=True):
    """A person's correction of an item's tags: the full corrected set, kept for training."""

    __tablename__ = "corrections"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="items.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="users.id")
    kind: str = Field(max_length=10)
    values_csv: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class RepRow(SQLModel, table=True):
    """A rep from config.yaml and the hash of their private feed token."""

    __tablename__ = "reps"

    id: str = Field(primary_key=True, max_length=100)
    name: str = Field(default="", max_length=200)
    token_hash: str | None = Field(default=None, max_length=128, index=True)
    token_created_at: datetime | None = Field(default=None, sa_column=_utc())


class UserRow(SQLModel, table=True):
    """Someone who signs in to the web view: support, manager or rep."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, unique=True, index=True)
    password_hash: str = Field(max_length=300)
    role: str = Field(max_length=10)  # support | manager | rep
    rep_id: str | None = Field(default=None, max_length=100)
    api_token_hash: str | None = Field(default=None, max_length=128, index=True)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    #: Generation of this user's sessions: a cookie from an older one is refused (sign-out bumps it).
    session_epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class NoteRow(SQLModel, table=True):
    """A note a person adds to a prospect or an item; always internal to that account."""

    __tablename__ = "notes"

    id: int | None = Field(default=None, primary_key=True)
    prospect_id: str = Field(max_length=100, index=True)
    item_id: int | None = Field(default=None, foreign_key="items.id")
    user_id: int = Field(foreign_key="users.id", index=True)
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class MarkRow(SQLModel, table=True):
    """Someone found an item useful: credit for the contributor, signal for ranking."""

    __tablename__ = "item_marks"
    __table_args__ = (UniqueConstraint("item_id", "user_id", name="uq_item_marks"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="items.id", index=True)
    user_id: int = Field(foreign_key="users.id")
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class HostSlotRow(SQLModel, table=True):
    """Requests sent to a host in the current minute, shared by every worker process."""

    __tablename__ = "host_budget"

    host: str = Field(primary_key=True, max_length=255)
    window_start: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    used: int = Field(default=0)
