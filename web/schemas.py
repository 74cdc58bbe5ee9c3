"""Shapes of the JSON API (tables live in aggregator.storage.models)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class TagOut(BaseModel):
    value: str
    origin: str = Field(description="source | alias | domain | person | model | export | correction")
    score: float


class ItemOut(BaseModel):
    id: int
    title: str
    link: str | None = Field(description="Only http(s) links; anything else is null.")
    source_id: str
    source_title: str
    visibility: Literal["internal", "external"] | str
    published: datetime
    author: str | None
    summary: str = Field(description="Plain text, shortened.")
    content_html: str = Field(description="Sanitised HTML (nh3, http/https links only).")
    prospects: list[TagOut]
    stages: list[TagOut]
    group_id: int | None = Field(description="Items with the same group_id are the same story.")
    useful_marks: int


class ItemPage(BaseModel):
    items: list[ItemOut]
    page: int
    per_page: int
    next_page: int | None


class RepOnAccount(BaseModel):
    rep_id: str
    name: str
    stage: str = Field(description="The funnel stage of this rep's deal.")


class ProspectOut(BaseModel):
    id: str
    name: str
    description: str
    aliases: list[str]
    domains: list[str]
    people: list[str]
    reps: list[RepOnAccount]
    items: int = Field(description="Items visible to the caller.")
    newest: datetime | None


class NoteOut(BaseModel):
    id: int
    item_id: int | None
    body: str
    author: str
    created_at: datetime


class ProspectDetail(ProspectOut):
    stage_counts: dict[str, int] = Field(description="Visible items per stage; 'none' for no stage yet.")
    notes: list[NoteOut] | None = Field(description="Null when the caller may not see the account's notes.")


class SourceOut(BaseModel):
    id: str
    title: str
    url: str
    kind: str
    visibility: str
    template: str | None
    enabled: bool
    state: Literal["ok", "backing_off", "failing", "disabled", "pending"] | str
    last_attempt: datetime | None
    last_success: datetime | None
    http_status: int | None
    consecutive_failures: int
    last_error: str | None
    notes: list[str]  # what may want fixing although the last fetch worked (moved feed, selectors, accounts)
    next_due: datetime | None
    items_stored: int
    items_per_day: float


class CorrectionIn(BaseModel):
    kind: Literal["prospect", "stage"]
    values: list[str] = Field(max_length=50, description="The full corrected set of this kind of tag.")


class MeOut(BaseModel):
    username: str
    role: str
    rep_id: str | None
    accounts: list[str]
