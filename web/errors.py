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
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

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
    templates = request.app.state.templates
    return templates.TemplateResponse(request, "error.html", {"error": body}, status_code=status,
                                      headers=headers)


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
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, _MESSAGES[500])
