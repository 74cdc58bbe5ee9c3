"""Read-only queries behind the web view and the JSON API.

Every item query takes a :class:`~aggregator.entitlements.Viewer`. The SQL narrows
candidates with :func:`visible_clause`, a transcription of ``may_see_item`` so that
pages and counts are right; the caller still applies ``may_see_item`` to every row
(the rule's one authority), and ``tests/web`` checks the two always agree.
Everything here is portable SQL (SQLite and PostgreSQL): LIKE on ``lower()``, no
full-text extensions; only month bucketing needs a per-dialect function.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Engine, and_, exists, func, literal, or_, select
from sqlmodel import Session

from aggregator.entitlements import OWNING_ORIGINS, Viewer, may_see_item
from aggregator.storage.engine import aware
from aggregator.storage.models import CorrectionRow, ItemRow, MarkRow, NoteRow, SourceRow, TagRow, UserRow

__all__ = [
    "Contribution", "ItemFilter", "ItemView", "NoteView", "SourceHealth", "contributions",
    "effective_visibility", "group_members", "item_view", "items", "like_pattern", "notes", "prospect_item_counts",
    "queue_lag_seconds", "source_health", "source_state", "stage_counts", "visible_clause",
    "volume_by_month",
]

_I = ItemRow.__table__.c  # type: ignore[attr-defined]
_T = TagRow.__table__.c  # type: ignore[attr-defined]
_S = SourceRow.__table__.c  # type: ignore[attr-defined]


class _HasEngine(Protocol):
    @property
    def engine(self) -> Engine: ...


# --- entitlement, in SQL ----------------------------------------------------------

def _prospect_tag(owning_only: bool, outside: list[str] | None) -> ColumnElement[bool]:
    """EXISTS a prospect tag on the item (optionally owning-origin, optionally outside ``outside``)."""
    t = TagRow.__table__.alias()  # type: ignore[attr-defined]
    conds = [t.c.item_id == _I.id, t.c.kind == "prospect"]
    if owning_only:
        conds.append(t.c.origin.in_(sorted(OWNING_ORIGINS)))
    if outside is not None:
        conds.append(t.c.value.notin_(outside))
    return exists().where(*conds)


def _internal() -> ColumnElement[bool]:
    """The item is internal: stored so, or its source is configured internal *now*.

    Items keep the visibility their source had when they were stored; a source that
    support later reclassifies as internal must not leave its older items external.
    """
    return or_(_I.visibility == "internal",
               _I.source_id.in_(select(_S.id).where(_S.visibility == "internal")))


def effective_visibility(item_visibility: str | None, source_visibility: str | None) -> str:
    """Internal when either the stored item or its source (as configured now) is internal."""
    return "internal" if "internal" in (item_visibility, source_visibility) else item_visibility or "external"


def _visibility_is(visibility: str) -> ColumnElement[bool]:
    return _internal() if visibility == "internal" else ~_internal()


def visible_clause(viewer: Viewer) -> ColumnElement[bool] | None:
    """SQL form of ``may_see_item`` for items rows; None when the viewer sees everything.

    External: visible. Internal: its owning accounts (owning-origin prospect tags if
    any, else all prospect tags) must be non-empty and all among the viewer's accounts.
    """
    if viewer.privileged:
        return None
    accounts = sorted(viewer.accounts)
    has_owning = _prospect_tag(True, None)
    return or_(
        ~_internal(),
        and_(has_owning, ~_prospect_tag(True, accounts)),
        and_(~has_owning, _prospect_tag(False, None), ~_prospect_tag(False, accounts)),
    )


def like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with % _ and the escape character escaped."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# --- items -------------------------------------------------------------------------

@dataclass(frozen=True)
class ItemFilter:
    prospect: str | None = None
    stage: str | None = None
    source: str | None = None
    visibility: str | None = None
    since: datetime | None = None
    query: str | None = None
    untagged_stage: bool = False  # items of the prospect with no stage tag


@dataclass(frozen=True)
class ItemView:
    id: int
    source_id: str
    source_title: str
    visibility: str
    title: str
    link: str | None
    content_html: str
    text: str
    author: str | None
    published: datetime
    group_id: int | None
    tags: tuple[tuple[str, str, str, float], ...] = ()  # (kind, value, origin, score)
    marks: int = 0

    @property
    def prospects(self) -> list[str]:
        return [v for k, v, _, _ in self.tags if k == "prospect"]

    @property
    def stages(self) -> list[str]:
        return [v for k, v, _, _ in self.tags if k == "stage"]

    @property
    def prospect_tags(self) -> list[tuple[str, str]]:
        return [(v, o) for k, v, o, _ in self.tags if k == "prospect"]


def _has_tag(kind: str, value: str) -> ColumnElement[bool]:
    """EXISTS (kind, value) on the item: a probe of uq_item_tags (item_id, kind, value) per row, so a
    newest-first page walks ix_items_published and stops after LIMIT rows instead of sorting the account."""
    t = TagRow.__table__.alias()  # type: ignore[attr-defined]
    return exists().where(t.c.item_id == _I.id, t.c.kind == kind, t.c.value == value)


def _conditions(viewer: Viewer, f: ItemFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if f.prospect:
        conds.append(_has_tag("prospect", f.prospect))
    if f.stage:
        conds.append(_has_tag("stage", f.stage))
    if f.untagged_stage:
        conds.append(~exists().where(_T.item_id == _I.id, _T.kind == "stage"))
    if f.source:
        conds.append(_I.source_id == f.source)
    if f.visibility:
        conds.append(_visibility_is(f.visibility))
    if f.since:
        conds.append(_I.published >= f.since)
    query = (f.query or "").replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL: it would be a 500
    if query:
        pattern = like_pattern(query)
        conds.append(or_(func.lower(_I.title).like(pattern, escape="\\"),
                         func.lower(_I.text).like(pattern, escape="\\")))
    clause = visible_clause(viewer)
    if clause is not None:
        conds.append(clause)
    return conds


def _views(session: Session, rows: Sequence[Any], viewer: Viewer) -> list[ItemView]:
    ids = [r.id for r in rows]
    tags: dict[int, list[tuple[str, str, str, float]]] = defaultdict(list)
    marks: dict[int, int] = {}
    if ids:
        for t in session.execute(select(_T.item_id, _T.kind, _T.value, _T.origin, _T.score)
                                 .where(_T.item_id.in_(ids)).order_by(_T.kind, _T.score.desc())):
            tags[t.item_id].append((t.kind, t.value, t.origin, float(t.score)))
        m = MarkRow.__table__.c  # type: ignore[attr-defined]
        for item_id, count in session.execute(select(m.item_id, func.count()).where(m.item_id.in_(ids))
                                              .group_by(m.item_id)):
            marks[item_id] = int(count)
    out = []
    for r in rows:
        view = ItemView(id=r.id, source_id=r.source_id, source_title=r.source_title or r.source_id,
                        visibility=effective_visibility(r.visibility, r.source_visibility), title=r.title,
                        link=r.link, content_html=r.content_html, text=r.text, author=r.author,
                        published=aware(r.published) or r.published, group_id=r.group_id,
                        tags=tuple(tags.get(r.id, ())), marks=marks.get(r.id, 0))
        if may_see_item(viewer, view.visibility, view.prospect_tags):  # the rule's one authority
            out.append(view)
    return out


def _item_select() -> Any:
    return (select(_I.id, _I.source_id, _S.title.label("source_title"), _I.visibility,
                   _S.visibility.label("source_visibility"), _I.title, _I.link,
                   _I.content_html, _I.text, _I.author, _I.published, _I.group_id)
            .select_from(ItemRow.__table__.join(SourceRow.__table__,  # type: ignore[attr-defined]
                                                _S.id == _I.source_id)))


def items(storage: _HasEngine, viewer: Viewer, f: ItemFilter, *, limit: int = 50,
          offset: int = 0) -> tuple[list[ItemView], bool]:
    """Visible items matching ``f``, newest first; returns (page, whether more follow)."""
    query = (_item_select().where(*_conditions(viewer, f))
             .order_by(_I.published.desc(), _I.id.desc()).limit(limit + 1).offset(offset))
    with Session(storage.engine) as session:
        rows = list(session.execute(query))
        return _views(session, rows[:limit], viewer), len(rows) > limit


def item_view(storage: _HasEngine, viewer: Viewer, item_id: int) -> ItemView | None:
    """One item, or None when it does not exist or the viewer may not see it."""
    with Session(storage.engine) as session:
        rows = list(session.execute(_item_select().where(_I.id == item_id)))
        views = _views(session, rows, viewer)
        return views[0] if views else None


def group_members(storage: _HasEngine, viewer: Viewer,
                  group_ids: Collection[int]) -> dict[int, list[ItemView]]:
    """Visible items of each near-duplicate group (same story from several sources)."""
    if not group_ids:
        return {}
    query = _item_select().where(_I.group_id.in_(sorted(group_ids)), *_conditions(viewer, ItemFilter()))
    out: dict[int, list[ItemView]] = defaultdict(list)
    with Session(storage.engine) as session:
        for view in _views(session, list(session.execute(query.limit(20 * len(group_ids)))), viewer):
            if view.group_id is not None:
                out[view.group_id].append(view)
    return dict(out)


def _account_rows(viewer: Viewer, prospect: str, visibility: str | None,
                  since: datetime | None = None) -> tuple[Any, list[ColumnElement[bool]]]:
    """FROM item_tags (the prospect's tags, via ix_item_tags_kind_value) JOIN items, with the viewer's rule.

    Aggregates over a whole account are driven from the tag index; page queries (``items``)
    instead walk items newest first and probe tags.
    """
    pt = TagRow.__table__.alias("pt")  # type: ignore[attr-defined]
    source = pt.join(ItemRow.__table__, _I.id == pt.c.item_id)  # type: ignore[attr-defined]
    conds: list[ColumnElement[bool]] = [pt.c.kind == "prospect", pt.c.value == prospect]
    if visibility:
        conds.append(_visibility_is(visibility))
    if since is not None:
        conds.append(_I.published >= since)
    clause = visible_clause(viewer)
    if clause is not None:
        conds.append(clause)
    return source, conds


def stage_counts(storage: _HasEngine, viewer: Viewer, prospect: str,
                 visibility: str | None = None) -> dict[str, int]:
    """Visible items of a prospect per stage, plus '' for all and '-' for no stage."""
    source, conds = _account_rows(viewer, prospect, visibility)
    st = TagRow.__table__.alias("st")  # type: ignore[attr-defined]
    per_stage = (select(st.c.value, func.count())
                 .select_from(source.outerjoin(st, and_(st.c.item_id == _I.id, st.c.kind == "stage")))
                 .where(*conds).group_by(st.c.value))
    with Session(storage.engine) as session:
        counts: dict[str, int] = {}
        for value, n in session.execute(per_stage):
            counts["-" if value is None else str(value)] = int(n)
        total = session.execute(select(func.count()).select_from(source).where(*conds)).scalar_one()
    counts[""] = int(total)
    counts.setdefault("-", 0)
    return counts


def volume_by_month(storage: _HasEngine, viewer: Viewer, prospect: str, since: datetime,
                    visibility: str | None = None) -> dict[tuple[str, str], int]:
    """{(YYYY-MM, stage): visible item count} for a prospect's items published since ``since``."""
    dialect = storage.engine.dialect.name
    # Months are UTC months, as everything is stored: on PostgreSQL to_char would otherwise use the
    # session's TimeZone and move late-evening items into the next month.
    month = (func.strftime("%Y-%m", _I.published) if dialect == "sqlite"
             else func.to_char(func.timezone("UTC", _I.published), "YYYY-MM"))
    source, conds = _account_rows(viewer, prospect, visibility, since)
    st = TagRow.__table__.alias("st")  # type: ignore[attr-defined]
    query = (select(month.label("m"), st.c.value, func.count())
             .select_from(source.join(st, and_(st.c.item_id == _I.id, st.c.kind == "stage")))
             .where(*conds).group_by(month, st.c.value))
    with Session(storage.engine) as session:
        return {(str(m), str(stage)): int(n) for m, stage, n in session.execute(query)}


def prospect_item_counts(storage: _HasEngine, viewer: Viewer,
                         prospects: Collection[str]) -> dict[str, tuple[int, datetime | None]]:
    """{prospect: (visible item count, newest published)} for the index page."""
    if not prospects:
        return {}
    conds = [_T.kind == "prospect", _T.value.in_(sorted(prospects))]
    clause = visible_clause(viewer)
    if clause is not None:
        conds.append(clause)
    query = (select(_T.value, func.count(), func.max(_I.published))
             .select_from(ItemRow.__table__.join(TagRow.__table__, _T.item_id == _I.id))  # type: ignore[attr-defined]
             .where(*conds).group_by(_T.value))
    with Session(storage.engine) as session:
        return {v: (int(n), aware(newest)) for v, n, newest in session.execute(query)}


# --- notes and contributions ---------------------------------------------------------

@dataclass(frozen=True)
class NoteView:
    id: int
    prospect_id: str
    item_id: int | None
    body: str
    created_at: datetime
    user_id: int
    username: str
    role: str
    rep_id: str | None


def notes(storage: _HasEngine, prospect_id: str, item_ids: Collection[int] | None = None) -> list[NoteView]:
    """A prospect's notes with their authors, newest first (caller checks entitlement)."""
    n, u = NoteRow.__table__.c, UserRow.__table__.c  # type: ignore[attr-defined]
    query = (select(n.id, n.prospect_id, n.item_id, n.body, n.created_at, n.user_id, u.username, u.role,
                    u.rep_id)
             .select_from(NoteRow.__table__.outerjoin(UserRow.__table__, u.id == n.user_id))  # type: ignore[attr-defined]
             .where(n.prospect_id == prospect_id).order_by(n.created_at.desc(), n.id.desc()))
    if item_ids is not None:
        query = query.where(n.item_id.in_(sorted(item_ids)))
    with Session(storage.engine) as session:
        return [NoteView(id=r.id, prospect_id=r.prospect_id, item_id=r.item_id, body=r.body,
                         created_at=aware(r.created_at) or r.created_at, user_id=r.user_id,
                         username=r.username or "(removed user)", role=r.role or "", rep_id=r.rep_id)
                for r in session.execute(query)]


@dataclass(frozen=True)
class Contribution:
    kind: str  # note | correction | useful
    at: datetime
    user_id: int | None
    username: str
    role: str
    rep_id: str | None
    prospect_id: str | None
    item_id: int | None
    item_title: str | None
    detail: str
    item_visibility: str | None = None
    item_prospect_tags: tuple[tuple[str, str], ...] = field(default=())


def contributions(storage: _HasEngine, since: datetime | None = None, until: datetime | None = None,
                  limit: int = 2000) -> list[Contribution]:
    """Notes, tag corrections and useful-marks with who made them, newest first."""
    n, c, m, u = (NoteRow.__table__.c, CorrectionRow.__table__.c,  # type: ignore[attr-defined]
                  MarkRow.__table__.c, UserRow.__table__.c)  # type: ignore[attr-defined]
    out: list[Contribution] = []

    def window(col: Any) -> list[ColumnElement[bool]]:
        conds = []
        if since is not None:
            conds.append(col >= since)
        if until is not None:
            conds.append(col < until)
        return conds

    parts: list[tuple[str, Any]] = [
        ("note", select(literal("note"), n.created_at, n.user_id, n.prospect_id, n.item_id, n.body)
         .where(*window(n.created_at))),
        ("correction", select(literal("correction"), c.created_at, c.user_id, literal(None), c.item_id,
                              (c.kind + literal(": ") + c.values_csv)).where(*window(c.created_at))),
        ("useful", select(literal("useful"), m.created_at, m.user_id, literal(None), m.item_id,
                          literal("")).where(*window(m.created_at))),
    ]
    with Session(storage.engine) as session:
        rows: list[Any] = []
        for _name, query in parts:
            rows.extend(session.execute(query.order_by(query.selected_columns[1].desc()).limit(limit)))
        users = {r.id: r for r in session.execute(select(u.id, u.username, u.role, u.rep_id))}
        item_ids = sorted({r[4] for r in rows if r[4] is not None})
        titles: dict[int, tuple[str, str]] = {}
        ptags: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for chunk_start in range(0, len(item_ids), 500):
            chunk = item_ids[chunk_start:chunk_start + 500]
            for iid, title, vis, source_vis in session.execute(
                    select(_I.id, _I.title, _I.visibility, _S.visibility)
                    .select_from(ItemRow.__table__.outerjoin(SourceRow.__table__,  # type: ignore[attr-defined]
                                                             _S.id == _I.source_id))
                    .where(_I.id.in_(chunk))):
                titles[iid] = (title, effective_visibility(vis, source_vis))
            for iid, value, origin in session.execute(select(_T.item_id, _T.value, _T.origin)
                                                      .where(_T.item_id.in_(chunk), _T.kind == "prospect")):
                ptags[iid].append((value, origin))
        for kind, at, user_id, prospect_id, item_id, detail in rows:
            user = users.get(user_id)
            title, vis = titles.get(item_id, (None, None)) if item_id is not None else (None, None)
            out.append(Contribution(kind=kind, at=aware(at) or at, user_id=user_id,
                                    username=user.username if user else "(removed user)",
                                    role=user.role if user else "", rep_id=user.rep_id if user else None,
                                    prospect_id=prospect_id, item_id=item_id, item_title=title,
                                    detail=detail or "", item_visibility=vis,
                                    item_prospect_tags=tuple(ptags.get(item_id, ()))
                                    if item_id is not None else ()))
    out.sort(key=lambda x: x.at, reverse=True)
    return out[:limit]


# --- sources ----------------------------------------------------------------------

FAILING_AFTER = 3  # consecutive failures before a source counts as failing, not just backing off
SOURCE_STATES = ("ok", "backing_off", "failing", "disabled", "pending")


def source_state(row: SourceRow) -> str:
    """ok | backing_off (1-2 failures in a row, retrying) | failing (3+) | disabled | pending (never fetched)."""
    if not row.enabled:
        return "disabled"
    if row.consecutive_failures >= FAILING_AFTER:
        return "failing"
    if row.consecutive_failures > 0:
        return "backing_off"
    if row.last_attempt is None:
        return "pending"
    return "ok"


@dataclass(frozen=True)
class SourceHealth:
    row: SourceRow
    state: str
    items_per_day: float
    last_item: datetime | None

    @property
    def notes(self) -> list[str]:
        """What support staff may want to fix although the last fetch worked (one note per entry)."""
        return self.row.notes.splitlines() if self.row.notes else []


def source_health(storage: _HasEngine, now: datetime, days: int = 7) -> list[SourceHealth]:
    """Every configured source with its state and items per day over the last ``days`` days."""
    since = now - timedelta(days=days)
    with Session(storage.engine) as session:
        rows = list(session.execute(select(SourceRow).where(_S.in_config == True)  # noqa: E712
                                    .order_by(_S.id)).scalars())
        recent = dict(session.execute(select(_I.source_id, func.count()).where(_I.first_seen >= since)
                                      .group_by(_I.source_id)).all())
        newest = dict(session.execute(select(_I.source_id, func.max(_I.published))
                                      .group_by(_I.source_id)).all())
        return [SourceHealth(row=r, state=source_state(r), items_per_day=int(recent.get(r.id, 0)) / days,
                             last_item=aware(newest.get(r.id))) for r in rows]


def queue_lag_seconds(storage: _HasEngine, now: datetime) -> float:
    """How late the most overdue enabled source is (0 when nothing is overdue)."""
    with Session(storage.engine) as session:
        oldest = session.execute(select(func.min(_S.next_due)).where(
            _S.in_config == True, _S.enabled == True, _S.next_due <= now)).scalar()  # noqa: E712
    oldest = aware(oldest)
    return max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
