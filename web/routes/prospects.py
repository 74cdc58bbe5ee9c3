"""Prospect pages (the memory of an account across the funnel), the index, search and dossiers."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from aggregator.config.schema import STAGES, ProspectConfig
from aggregator.entitlements import may_see_prospect_internals
from aggregator.outputs.streams import split_stories
from aggregator.runtime import Runtime
from aggregator.storage import browse
from web import dossier
from web.cache import viewer_key
from web.chart import months_back, volume_svg
from web.deps import PageUser, Principal, RuntimeDep
from web.errors import not_found

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 30
OVERVIEW_PER_STAGE = 4
CHART_MONTHS = 12
_VISIBILITIES = ("", "internal", "external")
#: Item ids fit a 64-bit integer column; a larger number is an invalid request, not a database error (500).
ItemId = Annotated[int, Path(ge=1, le=2**62)]


def find_prospect(runtime: Runtime, prospect_id: str) -> ProspectConfig:
    prospect = next((p for p in runtime.config.prospects if p.id == prospect_id), None)
    if prospect is None:
        raise not_found()
    return prospect


def reps_on(runtime: Runtime, prospect_id: str) -> list[tuple[str, str, str]]:
    """(rep id, rep name, stage of their deal) for every rep following the prospect."""
    return [(rep.id, rep.name, account.stage) for rep in runtime.config.reps for account in rep.accounts
            if account.prospect == prospect_id]


def annotate(runtime: Runtime, principal: Principal, views: list[browse.ItemView],
             prospect_id: str | None) -> list[dict[str, Any]]:
    """Items with their near-duplicates (same story, other sources) and, when entitled, their notes.

    Items of one source that share a group are separate posts (a microblog's posts share one page
    address), so each keeps its card; only other sources' copies fold into "Same story also from"
    (``split_stories``, as in rep feeds).
    """
    groups = browse.group_members(runtime.storage, principal.viewer,
                                  {v.group_id for v in views if v.group_id is not None})
    item_notes: dict[int, list[browse.NoteView]] = {}
    if prospect_id and may_see_prospect_internals(principal.viewer, prospect_id):
        for note in browse.notes(runtime.storage, prospect_id, [v.id for v in views]):
            if note.item_id is not None:
                item_notes.setdefault(note.item_id, []).append(note)
    story_of: dict[int, int] = {}  # item id -> its story's first item id
    members: dict[int, list[browse.ItemView]] = {}  # story -> its visible items
    for group in groups.values():
        for story in split_stories(group):
            members[story[0].id] = story
            story_of.update((m.id, story[0].id) for m in story)
    out: list[dict[str, Any]] = []
    shown: set[int] = set()
    for view in views:
        story_id = story_of.get(view.id, view.id)
        if story_id in shown:
            continue  # the same story is already on this page, from another source
        shown.add(story_id)
        dups = [d for d in members.get(story_id, []) if d.id != view.id]
        out.append({"item": view, "dups": dups, "notes": item_notes.get(view.id, [])})
    return out


@router.get("/")
def index(request: Request, runtime: RuntimeDep, principal: PageUser) -> Response:
    prospects = runtime.config.prospects
    counts = request.app.state.aggregates.get(
        ("index", viewer_key(principal.viewer)),
        lambda: browse.prospect_item_counts(runtime.storage, principal.viewer, [p.id for p in prospects]))
    rows: list[dict[str, Any]] = [
        {"prospect": p, "count": counts.get(p.id, (0, None))[0], "newest": counts.get(p.id, (0, None))[1],
         "reps": reps_on(runtime, p.id), "mine": p.id in principal.viewer.accounts} for p in prospects]
    rows.sort(key=lambda r: (not r["mine"], r["prospect"].name.lower()))
    return request.app.state.templates.TemplateResponse(request, "index.html", {"rows": rows,
                                                                                "me": principal})


@router.get("/prospects/{prospect_id}")
def prospect_page(request: Request, runtime: RuntimeDep, principal: PageUser, prospect_id: str,
                  stage: Annotated[str, Query(max_length=20)] = "",
                  visibility: Annotated[str, Query(max_length=10)] = "",
                  q: Annotated[str, Query(max_length=200)] = "",
                  page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> Response:
    prospect = find_prospect(runtime, prospect_id)
    q = q.replace("\x00", "")  # typed or pasted NUL: no database text can hold it
    if stage not in ("", "all", "none", *STAGES):
        stage = ""
    if visibility not in _VISIBILITIES:
        visibility = ""
    storage, viewer = runtime.storage, principal.viewer
    cache, vkey = request.app.state.aggregates, viewer_key(viewer)
    counts = cache.get(("counts", prospect.id, visibility, vkey),
                       lambda: browse.stage_counts(storage, viewer, prospect.id, visibility or None))
    now = runtime.clock()
    months = months_back(now, CHART_MONTHS)
    since = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) - timedelta(days=31 * (CHART_MONTHS - 1))
    volume = cache.get(("volume", prospect.id, visibility, vkey, months[-1]),
                       lambda: browse.volume_by_month(storage, viewer, prospect.id, since, visibility or None))
    base = browse.ItemFilter(prospect=prospect.id, visibility=visibility or None, query=q or None)
    sections: list[dict[str, Any]] = []
    listing: list[dict[str, Any]] = []
    more = False
    if stage or q:
        f = browse.ItemFilter(prospect=prospect.id, visibility=visibility or None, query=q or None,
                              stage=stage if stage in STAGES else None, untagged_stage=stage == "none")
        views, more = browse.items(storage, viewer, f, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        listing = annotate(runtime, principal, views, prospect.id)
    else:
        anchored: set[int] = set()
        for s in (*STAGES, "none"):
            f = browse.ItemFilter(prospect=base.prospect, visibility=base.visibility,
                                  stage=s if s != "none" else None, untagged_stage=s == "none")
            views, _ = browse.items(storage, viewer, f, limit=OVERVIEW_PER_STAGE)
            if views:
                entries = annotate(runtime, principal, views, prospect.id)
                for entry in entries:  # an item at several stages is listed in each; one id="item-N" only
                    entry["anchor"] = entry["item"].id not in anchored
                    anchored.add(entry["item"].id)
                sections.append({"stage": s, "entries": entries,
                                 "count": counts.get("-" if s == "none" else s, 0)})
    internals = may_see_prospect_internals(viewer, prospect.id)
    notes = [n for n in browse.notes(storage, prospect.id) if n.item_id is None] if internals else []

    def link(**changes: Any) -> str:
        params = {"stage": stage, "visibility": visibility, "q": q, **changes}
        query = urlencode({k: v for k, v in params.items() if v not in ("", None, 1)})
        return f"/prospects/{prospect.id}" + (f"?{query}" if query else "")

    context = {
        "me": principal, "prospect": prospect, "reps": reps_on(runtime, prospect.id), "counts": counts,
        "stage": stage, "visibility": visibility, "q": q, "page": page, "more": more,
        "sections": sections, "listing": listing, "chart": volume_svg(volume, months),
        "internals": internals, "notes": notes, "link": link,
        "all_prospects": [(p.id, p.name) for p in runtime.config.prospects],
        "next_url": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "rep_names": {r.id: r.name for r in runtime.config.reps},
    }
    return request.app.state.templates.TemplateResponse(request, "prospect.html", context)


@router.get("/search")
def search(request: Request, runtime: RuntimeDep, principal: PageUser,
           q: Annotated[str, Query(max_length=200)] = "",
           page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> Response:
    listing: list[dict[str, Any]] = []
    more = False
    q = q.replace("\x00", "")  # typed or pasted NUL: no database text can hold it
    if q.strip():
        views, more = browse.items(runtime.storage, principal.viewer, browse.ItemFilter(query=q),
                                   limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        listing = annotate(runtime, principal, views, None)
    names = {p.id: p.name for p in runtime.config.prospects}
    return request.app.state.templates.TemplateResponse(
        request, "search.html", {"me": principal, "q": q, "q_all": q, "listing": listing, "more": more, "page": page,
                                 "names": names,
                                 "next_page": "/search?" + urlencode({"q": q, "page": page + 1}),
                                 "prev_page": "/search?" + urlencode({"q": q, "page": page - 1})})


@router.get("/items/{item_id}")
def item_page(request: Request, runtime: RuntimeDep, principal: PageUser, item_id: ItemId) -> Response:
    """One item: where rep feeds link items that have no address of their own (CRM rows, notes)."""
    view = browse.item_view(runtime.storage, principal.viewer, item_id)
    if view is None:
        raise not_found()
    known = {p.id for p in runtime.config.prospects}
    own = [p for p in view.prospects if p in known and may_see_prospect_internals(principal.viewer, p)]
    prospect_id = own[0] if own else None  # notes belong to an account the viewer may see internals of
    entry = annotate(runtime, principal, [view], prospect_id)[0]
    return request.app.state.templates.TemplateResponse(request, "item.html", {
        "me": principal, "entry": entry, "prospect_id": prospect_id, "can_note": prospect_id is not None,
        "all_prospects": [(p.id, p.name) for p in runtime.config.prospects], "next_url": request.url.path})


def _dossier_or_404(runtime: Runtime, principal: Principal, prospect_id: str) -> dossier.Dossier:
    prospect = find_prospect(runtime, prospect_id)
    if not may_see_prospect_internals(principal.viewer, prospect.id):
        raise not_found()  # the hand-off document is for the account's own people
    return dossier.gather(runtime, principal, prospect, reps_on(runtime, prospect.id))


@router.get("/prospects/{prospect_id}/dossier.html")
def dossier_html(request: Request, runtime: RuntimeDep, principal: PageUser, prospect_id: str) -> Response:
    d = _dossier_or_404(runtime, principal, prospect_id)
    html, csp = dossier.to_html(request.app.state.templates, d)
    return Response(html, media_type="text/html; charset=utf-8", headers={
        "Content-Security-Policy": csp,
        "Content-Disposition": f'attachment; filename="dossier-{d.prospect.id}.html"'})


@router.get("/prospects/{prospect_id}/dossier.md")
def dossier_md(runtime: RuntimeDep, principal: PageUser, prospect_id: str) -> Response:
    d = _dossier_or_404(runtime, principal, prospect_id)
    return Response(dossier.to_markdown(d), media_type="text/markdown; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="dossier-{d.prospect.id}.md"'})
