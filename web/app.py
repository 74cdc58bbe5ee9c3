"""The web app: prospect pages, notes and credit, source health, JSON API, metrics.

``create_app(runtime)`` builds everything; nothing happens at import time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from aggregator.config.schema import STAGES
from aggregator.runtime import Runtime
from web import errors, render
from web.cache import TTLCache
from web.security import SESSION_COOKIE, SESSION_MAX_AGE, Session, SessionCodec, session_secret
from web.throttle import SignInThrottle

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent

#: Strict by default: our own scripts, styles and images only; nothing inline, no framing.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def make_templates() -> Jinja2Templates:
    def csrf_context(request: Request) -> dict[str, str]:
        session = getattr(request.state, "session", None)
        return {"csrf": session.csrf if session is not None else ""}

    templates = Jinja2Templates(directory=str(HERE / "templates"), context_processors=[csrf_context])
    env = templates.env
    env.autoescape = True
    env.filters.update(safe_url=render.safe_url, clean_html=render.clean_html, snippet=render.snippet,
                       date=render.fmt_date, stage_label=render.stage_label, headline=render.item_headline)
    env.globals.update(STAGES=STAGES)
    return templates


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="funnelfeed API", version="1", docs_url=None, redoc_url=None,
                  description="Prospects, items and source health; same entitlements as the web view. "
                              "Authenticate with `Authorization: Bearer <token>` (`funnelfeed users token`) "
                              "or HTTP Basic.")
    app.state.runtime = runtime
    app.state.templates = make_templates()
    app.state.aggregates = TTLCache(ttl=30.0)
    app.state.throttle = SignInThrottle()
    codec = SessionCodec(session_secret(runtime.config.web.session_secret_env))

    @app.middleware("http")
    async def session_and_headers(request: Request,
                                  call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        loaded = codec.loads(request.cookies.get(SESSION_COOKIE))
        request.state.session = loaded or Session.anonymous()
        request.state.session_changed = loaded is None
        response = await call_next(request)
        if request.method == "POST":  # a note, mark or correction: aggregates must show it now
            app.state.aggregates.clear()
        if (request.state.session_changed and not errors.is_api(request)
                and not request.url.path.startswith("/f/")):  # private feeds carry no session
            secure = runtime.config.web.base_url.startswith("https://")  # follows a config reload
            response.set_cookie(SESSION_COOKIE, codec.dumps(request.state.session), max_age=SESSION_MAX_AGE,
                                httponly=True, samesite="lax", secure=secure, path="/")
        headers = response.headers
        if "content-security-policy" not in headers:
            headers["Content-Security-Policy"] = CSP
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        # A path under /f/ carries a rep's feed token: not even our own pages may receive it as Referer
        # (a reverse proxy's access log records Referer unredacted).
        headers.setdefault("Referrer-Policy", "no-referrer" if request.url.path.startswith("/f/") else "same-origin")
        if not request.url.path.startswith("/static/"):
            headers.setdefault("Cache-Control", "no-store")
        return response

    errors.install(app)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    from web.routes import api, auth, notes, ops, prospects, sources

    for module in (ops, auth, prospects, notes, sources, api):
        app.include_router(module.router)
    try:
        from web.routes import feeds  # written separately: private per-rep feeds under /f/
    except ModuleNotFoundError as exc:
        if exc.name != "web.routes.feeds":
            raise
        log.info("web.routes.feeds is not available: rep feeds are not served")
    else:
        router = getattr(feeds, "router", None)
        if router is not None:
            app.include_router(router)
    from web.routes.feeds import FeedFastPath

    app.add_middleware(FeedFastPath)  # answers cached feed polls before the stack above runs
    return app
