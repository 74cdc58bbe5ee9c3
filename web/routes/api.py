"""The JSON API under /api/: items, prospects, sources, tag corrections. Same entitlements as pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.exceptions import HTTPException

from aggregator.config.schema import STAGES, Stage
from aggregator.entitlements import may_see_prospect_internals
from aggregator.storage import aware, browse
from web.deps import ApiUser, RuntimeDep
from web.errors import ErrorBody, not_found
from web.render import clean_html, safe_url, snippet
from web.routes.notes import check_correction, visible_item
from web.routes.prospects import find_prospect, reps_on
from web.schemas import (
    CorrectionIn,
    ItemOut,
    ItemPage,
    MeOut,
    NoteOut,
    ProspectDetail,
    ProspectOut,
    RepOnAccount,
    SourceOut,
    TagOut,
)

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong credentials"},
    404: {"model": ErrorBody, "description": "Not found, or not yours to see"},
    422: {"model": ErrorBody, "description": "Invalid parameters"},
}
router = APIRouter(prefix="/api", tags=["api"], responses=_ERRORS)
Text = Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")]
IdParam = Annotated[int, Path(ge=1, le=2**62)]


def item_out(view: browse.ItemView) -> ItemOut:
    return ItemOut(id=view.id, title=view.title, link=safe_url(view.link), source_id=view.source_id,
                   source_title=view.source_title, visibility=view.visibility, published=view.published,
                   author=view.author, summary=snippet(view.text, 500),
                   content_html=str(clean_html(view.content_html)),
                   prospects=[TagOut(value=v, origin=o, score=s) for k, v, o, s in view.tags if k == "prospect"],
                   stages=[TagOut(value=v, origin=o, score=s) for k, v, o, s in view.tags if k == "stage"],
                   group_id=view.group_id, useful_marks=view.marks)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise HTTPException(422, "since is out of range.") from None


@router.get("/me", response_model=MeOut)
def me(principal: ApiUser) -> MeOut:
    """Who the credentials belong to, and their accounts."""
    return MeOut(username=principal.user.username, role=principal.user.role, rep_id=principal.user.rep_id,
                 accounts=sorted(principal.viewer.accounts))


@router.get("/items", response_model=ItemPage)
def list_items(runtime: RuntimeDep, principal: ApiUser, prospect: Text = None,
               stage: Annotated[Stage | None, Query()] = None, source: Text = None,
               visibility: Annotated[str | None, Query(pattern="^(internal|external)$")] = None,
               since: Annotated[datetime | None, Query(description="ISO 8601; items published since")] = None,
               q: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$",
                                              description="Text search in title and body")] = None,
               page: Annotated[int, Query(ge=1, le=10_000)] = 1,
               per_page: Annotated[int, Query(ge=1, le=200)] = 50) -> ItemPage:
    """Items the caller may see, newest first, filtered and paginated."""
    f = browse.ItemFilter(prospect=prospect or None, stage=stage, source=source or None,
                          visibility=visibility, since=_utc(since), query=q or None)
    views, more = browse.items(runtime.storage, principal.viewer, f, limit=per_page,
                               offset=(page - 1) * per_page)
    return ItemPage(items=[item_out(v) for v in views], page=page, per_page=per_page,
                    next_page=page + 1 if more else None)


@router.get("/items/{item_id}", response_model=ItemOut)
def get_item(runtime: RuntimeDep, principal: ApiUser, item_id: IdParam) -> ItemOut:
    return item_out(visible_item(runtime, principal, item_id))


@router.post("/items/{item_id}/corrections", response_model=ItemOut)
def correct(runtime: RuntimeDep, principal: ApiUser, item_id: IdParam, body: CorrectionIn) -> ItemOut:
    """Set an item's full set of prospect or stage tags (credited to the caller; trains the classifier)."""
    item = visible_item(runtime, principal, item_id)
    values = check_correction(runtime, principal, item, body.kind, body.values)
    runtime.storage.correct_tags(item.id, body.kind, values, principal.id, runtime.clock())
    return item_out(visible_item(runtime, principal, item_id))


@router.get("/prospects", response_model=list[ProspectOut])
def list_prospects(runtime: RuntimeDep, principal: ApiUser) -> list[ProspectOut]:
    prospects = runtime.config.prospects
    counts = browse.prospect_item_counts(runtime.storage, principal.viewer, [p.id for p in prospects])
    return [ProspectOut(id=p.id, name=p.name, description=p.description, aliases=p.aliases,
                        domains=p.domains, people=p.people,
                        reps=[RepOnAccount(rep_id=r, name=n, stage=s) for r, n, s in reps_on(runtime, p.id)],
                        items=counts.get(p.id, (0, None))[0], newest=counts.get(p.id, (0, None))[1])
            for p in prospects]


@router.get("/prospects/{prospect_id}", response_model=ProspectDetail)
def get_prospect(runtime: RuntimeDep, principal: ApiUser,
                 prospect_id: Annotated[str, Path(max_length=100)]) -> ProspectDetail:
    p = find_prospect(runtime, prospect_id)
    counts = browse.stage_counts(runtime.storage, principal.viewer, p.id)
    newest = browse.prospect_item_counts(runtime.storage, principal.viewer, [p.id]).get(p.id, (0, None))[1]
    notes = None
    if may_see_prospect_internals(principal.viewer, p.id):
        notes = [NoteOut(id=n.id, item_id=n.item_id, body=n.body, author=n.username, created_at=n.created_at)
                 for n in browse.notes(runtime.storage, p.id)]
    return ProspectDetail(id=p.id, name=p.name, description=p.description, aliases=p.aliases,
                          domains=p.domains, people=p.people,
                          reps=[RepOnAccount(rep_id=r, name=n, stage=s) for r, n, s in reps_on(runtime, p.id)],
                          items=counts.get("", 0), newest=newest,
                          stage_counts={s: counts.get(s, 0) for s in STAGES} | {"none": counts.get("-", 0)},
                          notes=notes)


@router.get("/sources", response_model=list[SourceOut])
def list_sources(runtime: RuntimeDep, principal: ApiUser) -> list[SourceOut]:
    """Every configured source with its health (managers and support; 404 for reps)."""
    if not principal.privileged:
        raise not_found()
    return [SourceOut(id=h.row.id, title=h.row.title, url=h.row.url, kind=h.row.kind,
                      visibility=h.row.visibility, template=h.row.template, enabled=h.row.enabled,
                      state=h.state, last_attempt=aware(h.row.last_attempt),
                      last_success=aware(h.row.last_success), http_status=h.row.http_status,
                      consecutive_failures=h.row.consecutive_failures, last_error=h.row.last_error,
                      notes=h.notes, next_due=aware(h.row.next_due), items_stored=h.row.items_stored,
                      items_per_day=h.items_per_day)
            for h in browse.source_health(runtime.storage, runtime.clock())]
