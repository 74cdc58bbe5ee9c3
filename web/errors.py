"""One error shape for the whole app.

API paths answer ``{"error": {"status", "code", "message", "details"}}``; pages
answer the same fields rendered in ``error.html``. A page that needs a signed-in
user redirects to the sign-in form instead. Nothing internal (tracebacks, SQL)
ever reaches a response.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from aggregator.outputs import redact

log = logging.getLogger(__name__)

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "too_large", 422: "invalid_request",
          429: "too_many_requests", 500: "server_error"}
_MESSAGES = {404: "Not found.", 401: "Sign-in required.", 403: "Forbidden.", 405: "Method not allowed.",
             500: "Something went wrong on our side; it has been logged."}


class ErrorDetail(BaseModel):
    status: int
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    """The one error shape of the JSON API."""

    error: ErrorDetail


class LoginRequired(Exception):
    """A page needs a signed-in user: redirect to the sign-in form."""


def not_found() -> StarletteHTTPException:
    """What anything a viewer may not see (or that does not exist) answers."""
    return StarletteHTTPException(404, "Not found.")


def is_api(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path in ("/api", "/openapi.json", "/healthz", "/metrics")


def error_response(request: Request, status: int, message: str,
                   details: list[dict[str, Any]] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    body = ErrorDetail(status=status, code=_CODES.get(status, "error"), message=message, details=details)
    if is_api(request):
        return JSONResponse({"error": body.model_dump(exclude_none=True)}, status_code=status,
                            headers=headers)
    try:
        templates = request.app.state.templates
        return templates.TemplateResponse(request, "error.html", {"error": body, "me": _signed_in(request, status)},
                                          status_code=status, headers=headers)
    except Exception:  # an error page must never fail: plain text, still the same fields
        log.exception("the error page for %s could not be rendered", redact(request.url.path))
        return PlainTextResponse(f"{status} {body.code}: {message}", status_code=status, headers=headers)


def _signed_in(request: Request, status: int) -> Any:
    """Who is signed in, for the error page's header; None when unknown or when finding out fails.

    An error page is often the answer to a failing database: asking it again must not turn
    a 404 or a 500 into an exception. Feed addresses carry a token, never a session.
    """
    if request.url.path.startswith("/f/") or getattr(request.state, "session", None) is None:
        return None
    if status >= 500:  # often the database failing: only a user this request already loaded
        return getattr(request.state, "principal", None)
    try:
        from web.deps import current_user  # web.deps imports this module

        return current_user(request)
    except Exception:
        log.warning("error page for %s shown without the signed-in header: the user could not be loaded",
                    redact(request.url.path), exc_info=True)
        return None


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else _MESSAGES.get(exc.status_code, "Error.")
        return error_response(request, exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        details = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
                   for e in exc.errors()]
        return error_response(request, 422, "The request is not valid.", details)

    @app.exception_handler(LoginRequired)
    async def login(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, redact(request.url.path))  # no feed tokens
        return error_response(request, 500, _MESSAGES[500])
