"""Contributions with credit: notes, useful-marks, tag corrections, and the managers' credit page."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from aggregator.config.schema import STAGES
from aggregator.entitlements import may_see_prospect_internals
from aggregator.runtime import Runtime
from aggregator.storage import browse
from web.deps import Csrf, PageUser, Principal, PrivilegedPageUser, RuntimeDep, safe_next
from web.errors import not_found
from web.routes.prospects import ItemId, find_prospect

router = APIRouter(include_in_schema=False)
MAX_NOTE = 5000


def visible_item(runtime: Runtime, principal: Principal, item_id: int) -> browse.ItemView:
    view = browse.item_view(runtime.storage, principal.viewer, item_id)
    if view is None:
        raise not_found()
    return view


def check_correction(runtime: Runtime, principal: Principal, item: browse.ItemView, kind: str,
                     values: list[str]) -> list[str]:
    """Validate a tag correction; returns the cleaned values or raises 400/404.

    A rep may re-assign an internal item only among their own accounts: otherwise a
    correction (an owning tag) could hand one account's internal material to another's reps.
    """
    values = [v for v in dict.fromkeys(v.strip() for v in values) if v]
    if kind == "stage":
        bad = [v for v in values if v not in STAGES]
    elif kind == "prospect":
        known = {p.id for p in runtime.config.prospects}
        bad = [v for v in values if v not in known]
        if not bad and item.visibility == "internal" and not principal.privileged:
            outside = [v for v in values if v not in principal.viewer.accounts]
            if outside or not values:
                raise HTTPException(400, "An internal item can only be assigned to your own accounts.")
    else:
        raise HTTPException(400, "kind must be 'prospect' or 'stage'.")
    if bad:
        raise HTTPException(400, f"Unknown {kind}: {', '.join(bad)}.")
    return values


@router.post("/prospects/{prospect_id}/notes", dependencies=[Csrf])
def add_prospect_note(runtime: RuntimeDep, principal: PageUser, prospect_id: str,
                      body: Annotated[str, Form(min_length=1, max_length=MAX_NOTE)],
                      next: Annotated[str, Form()] = "") -> Response:
    prospect = find_prospect(runtime, prospect_id)
    if not may_see_prospect_internals(principal.viewer, prospect.id):
        raise not_found()
    if body.strip():
        runtime.storage.add_note(prospect.id, principal.id, body.strip(), runtime.clock())
    return RedirectResponse(safe_next(next, f"/prospects/{prospect.id}") + "#notes", status_code=303)


@router.post("/items/{item_id}/notes", dependencies=[Csrf])
def add_item_note(runtime: RuntimeDep, principal: PageUser, item_id: ItemId,
                  prospect: Annotated[str, Form(max_length=100)],
                  body: Annotated[str, Form(min_length=1, max_length=MAX_NOTE)],
                  next: Annotated[str, Form()] = "") -> Response:
    item = visible_item(runtime, principal, item_id)
    found = find_prospect(runtime, prospect)
    if found.id not in item.prospects or not may_see_prospect_internals(principal.viewer, found.id):
        raise not_found()
    if body.strip():
        runtime.storage.add_note(found.id, principal.id, body.strip(), runtime.clock(), item_id=item.id)
    return RedirectResponse(safe_next(next, f"/prospects/{found.id}") + f"#item-{item.id}", status_code=303)


@router.post("/items/{item_id}/useful", dependencies=[Csrf])
def mark_useful(runtime: RuntimeDep, principal: PageUser, item_id: ItemId,
                next: Annotated[str, Form()] = "") -> Response:
    item = visible_item(runtime, principal, item_id)
    runtime.storage.mark_useful(item.id, principal.id, runtime.clock())
    return RedirectResponse(safe_next(next) + f"#item-{item.id}", status_code=303)


@router.post("/items/{item_id}/tags", dependencies=[Csrf])
def correct_tags(runtime: RuntimeDep, principal: PageUser, item_id: ItemId,
                 kind: Annotated[str, Form(max_length=10)],
                 values: Annotated[list[str] | None, Form()] = None,
                 next: Annotated[str, Form()] = "") -> Response:
    item = visible_item(runtime, principal, item_id)
    cleaned = check_correction(runtime, principal, item, kind, values or [])
    runtime.storage.correct_tags(item.id, kind, cleaned, principal.id, runtime.clock())
    return RedirectResponse(safe_next(next) + f"#item-{item.id}", status_code=303)


_PERIODS = {"week": 7, "month": 30, "quarter": 91, "year": 365}


def period_key(at: datetime, bucket: str) -> str:
    if bucket == "month":
        return at.strftime("%Y-%m")
    iso = at.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


@router.get("/contributions")
def contributions_page(request: Request, runtime: RuntimeDep, principal: PrivilegedPageUser,
                       period: Annotated[str, Query(max_length=10)] = "month",
                       bucket: Annotated[str, Query(max_length=10)] = "week") -> Response:
    """Who shared what: per person and per week or month, with the latest contributions."""
    period = period if period in _PERIODS else "month"
    bucket = bucket if bucket in ("week", "month") else "week"
    since = runtime.clock() - timedelta(days=_PERIODS[period])
    items = browse.contributions(runtime.storage, since=since)
    rep_names = {r.id: r.name for r in runtime.config.reps}
    people: dict[str, dict[str, Any]] = {}
    buckets: set[str] = set()
    for c in items:
        person = people.setdefault(c.username, {"username": c.username, "role": c.role,
                                                "rep": rep_names.get(c.rep_id or "", c.rep_id),
                                                "totals": Counter(), "by_period": defaultdict(Counter)})
        key = period_key(c.at, bucket)
        buckets.add(key)
        person["totals"][c.kind] += 1
        person["by_period"][key][c.kind] += 1
    ranked = sorted(people.values(), key=lambda p: -sum(p["totals"].values()))
    names = {p.id: p.name for p in runtime.config.prospects}
    return request.app.state.templates.TemplateResponse(request, "contributions.html", {
        "me": principal, "people": ranked, "buckets": sorted(buckets, reverse=True), "period": period,
        "bucket": bucket, "recent": items[:100], "periods": list(_PERIODS), "names": names})

