"""Operations: /healthz, /readyz, Prometheus /metrics (computed from the database at scrape time), /docs."""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from aggregator.runtime import Runtime
from aggregator.storage import ItemRow, SourceRow, aware
from aggregator.storage.browse import SOURCE_STATES, queue_lag_seconds, source_state
from web.deps import RuntimeDep, api_user, current_user
from web.errors import not_found

router = APIRouter()


class Health(BaseModel):
    status: str


@router.get("/healthz", response_model=Health, tags=["ops"])
def healthz() -> Health:
    """Liveness: 200 while the process serves requests (whatever the database does: restarting the
    process would not bring a database back)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, tags=["ops"], responses={503: {"model": Health}})
def readyz(runtime: RuntimeDep) -> Response:
    """Readiness: 200 when the database answers, else 503, so a load balancer sends people elsewhere
    instead of to pages that would fail."""
    try:
        with runtime.storage.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


class DatabaseCollector(Collector):
    """Source health and item counts read from the database on every scrape."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        storage, now = self.runtime.storage, self.runtime.clock()
        rows = storage.sources()
        states = Counter(source_state(r) for r in rows)
        g = GaugeMetricFamily("funnelfeed_sources", "Configured sources by health state", labels=["state"])
        for state in SOURCE_STATES:
            g.add_metric([state], states.get(state, 0))
        yield g
        yield GaugeMetricFamily("funnelfeed_queue_lag_seconds",
                                "Now minus the oldest overdue next_due of an enabled source",
                                value=queue_lag_seconds(storage, now))
        hour_ago = now - timedelta(hours=1)
        recent = [r for r in rows if (aware(r.last_attempt) or hour_ago - timedelta(1)) >= hour_ago]
        f = GaugeMetricFamily("funnelfeed_source_fetches_last_hour",
                              "Sources whose last fetch attempt was in the past hour, by outcome",
                              labels=["status"])
        for status, n in sorted(Counter(r.last_status or "unknown" for r in recent).items()):
            f.add_metric([status], n)
        yield f
        yield GaugeMetricFamily("funnelfeed_source_consecutive_failures",
                                "Sum over sources of consecutive failed fetches",
                                value=sum(r.consecutive_failures for r in rows))
        i = GaugeMetricFamily("funnelfeed_items", "Items stored, by visibility", labels=["visibility"])
        with Session(storage.engine) as session:
            col = ItemRow.__table__.c  # type: ignore[attr-defined]
            for visibility, n in session.execute(select(col.visibility, func.count())
                                                 .group_by(col.visibility)):
                i.add_metric([visibility], n)
            s = SourceRow.__table__.c  # type: ignore[attr-defined]
            stored = session.execute(select(func.coalesce(func.sum(s.items_stored), 0))).scalar_one()
        yield i
        yield GaugeMetricFamily("funnelfeed_items_stored_by_sources",
                                "Sum of items_stored over sources (new items ever stored)", value=stored)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text format: database-derived gauges plus this process's default registry.

    Managers and support only (a signed-in session, or a scraper with `funnelfeed users token`
    as `Authorization: Bearer`): the counts of internal items time activity on every account.
    """
    principal = current_user(request) or api_user(request)  # 401 with a challenge when neither
    if not principal.privileged:
        raise not_found()
    registry: CollectorRegistry | None = getattr(request.app.state, "metrics_registry", None)
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(DatabaseCollector(request.app.state.runtime))
        request.app.state.metrics_registry = registry
    body = generate_latest(registry) + generate_latest(REGISTRY)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


@router.get("/docs", include_in_schema=False)
def docs(request: Request) -> HTMLResponse:
    """Swagger UI, with a CSP allowing only its CDN assets and its one inline script (by hash)."""
    page = get_swagger_ui_html(openapi_url="/openapi.json", title="funnelfeed API")
    html = page.body.decode() if isinstance(page.body, bytes) else str(page.body)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.encode()).digest()).decode() + "'"
        for m in _SCRIPT.findall(html)
    )
    csp = ("default-src 'none'; script-src https://cdn.jsdelivr.net " + hashes + "; "
           "style-src https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
           "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'")
    return HTMLResponse(html, headers={"Content-Security-Policy": csp})
