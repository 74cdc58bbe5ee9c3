"""Source health for support staff: states, last errors in plain language, effective config, reloads."""

from __future__ import annotations

from collections import Counter
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from aggregator.storage import browse
from web.deps import PageUser, PrivilegedPageUser, RuntimeDep

router = APIRouter(include_in_schema=False)

STATE_LABELS = {"ok": "OK", "backing_off": "Backing off", "failing": "Failing", "disabled": "Disabled",
                "pending": "Not fetched yet"}
_HTTP_MEANING = {401: "the server wants credentials (check the source's auth: settings and env variable)",
                 403: "the server refuses us (blocked, or credentials lack access)",
                 404: "the address no longer exists (the feed moved?)",
                 410: "the address was removed for good",
                 429: "the server says we ask too often; we wait as it asks",
                 500: "the server had an internal error", 502: "a gateway in front of the server failed",
                 503: "the server is overloaded or down for maintenance",
                 504: "a gateway in front of the server timed out"}


def plain_error(health: browse.SourceHealth) -> str:
    """The last error as support staff can act on it."""
    row = health.row
    if health.state in ("ok", "pending", "disabled") and not row.last_error:
        return ""
    message = row.last_error or ""
    meaning = _HTTP_MEANING.get(row.http_status or 0)
    if meaning and meaning not in message:
        message = f"{message} ({meaning})" if message else f"HTTP {row.http_status}: {meaning}"
    return message or "failed (no detail recorded)"


@router.get("/sources")
def sources_page(request: Request, runtime: RuntimeDep, principal: PrivilegedPageUser,
                 state: Annotated[str, Query(max_length=20)] = "",
                 visibility: Annotated[str, Query(max_length=10)] = "",
                 q: Annotated[str, Query(max_length=200)] = "") -> Response:
    now = runtime.clock()
    health = browse.source_health(runtime.storage, now)
    counts = Counter(h.state for h in health)
    needle = q.strip().lower()
    shown = [h for h in health
             if (not state or h.state == state or (state == "broken" and h.state in ("failing", "backing_off")))
             and (not visibility or h.row.visibility == visibility)
             and (not needle or needle in h.row.id.lower() or needle in (h.row.title or "").lower()
                  or needle in h.row.url.lower() or needle in (h.row.last_error or "").lower()
                  or needle in (h.row.notes or "").lower())]
    order = {"failing": 0, "backing_off": 1, "pending": 2, "ok": 3, "disabled": 4}
    shown.sort(key=lambda h: (order.get(h.state, 9), h.row.id))
    return request.app.state.templates.TemplateResponse(request, "sources.html", {
        "me": principal, "rows": [{"h": h, "error": plain_error(h)} for h in shown], "counts": counts,
        "total": len(health), "state": state, "visibility": visibility, "q": q, "labels": STATE_LABELS,
        "specs": runtime.holder.sources, "reload": runtime.holder.last_reload,
        "lag": browse.queue_lag_seconds(runtime.storage, now), "config_path": str(runtime.holder.path)})


@router.get("/sources/{source_id}")
def source_link(runtime: RuntimeDep, principal: PageUser, source_id: str) -> Response:
    """Where rep feeds point an internal or file source (it has no public address of its own).

    Managers and support land on that source's health; anyone else on the prospect list,
    whether or not the source exists, so the link tells a rep nothing about other sources.
    """
    if principal.privileged and runtime.holder.source(source_id) is not None:
        return RedirectResponse("/sources?" + urlencode({"q": source_id}), status_code=303)
    return RedirectResponse("/", status_code=303)
