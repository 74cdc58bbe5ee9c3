"""Sign in and sign out (argon2 passwords, signed session cookie, CSRF on both forms)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from web.deps import Csrf, RuntimeDep, csrf_protect, current_user, safe_next
from web.security import Session, verify_password

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    if current_user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return request.app.state.templates.TemplateResponse(request, "login.html",
                                                        {"next": safe_next(next), "error": None})


@router.post("/login", dependencies=[Csrf])
def login(request: Request, runtime: RuntimeDep, username: Annotated[str, Form(max_length=100)],
          password: Annotated[str, Form(max_length=1000)], next: Annotated[str, Form()] = "/") -> Response:
    throttle = request.app.state.throttle
    wait = throttle.retry_after(username)
    if wait:
        return request.app.state.templates.TemplateResponse(
            request, "login.html", {"next": safe_next(next), "username": username,
                                    "error": f"Too many failed sign-ins for this user. Try again in {wait} s."},
            status_code=429, headers={"Retry-After": str(wait)})
    user = runtime.storage.user(username.strip())
    if user is None or not verify_password(user.password_hash, password):
        throttle.failed(username)
        return request.app.state.templates.TemplateResponse(
            request, "login.html", {"next": safe_next(next), "error": "Unknown user name or wrong password.",
                                    "username": username}, status_code=401)
    throttle.succeeded(username)
    request.state.session = Session.for_user(user)  # a fresh session and CSRF token at sign-in
    request.state.session_changed = True
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
async def logout(request: Request, runtime: RuntimeDep) -> Response:
    """Sign out everywhere; a second tab's stale "Sign out" after the first already did is no error page."""
    principal = current_user(request)
    if principal is not None:  # only a signed-in session has anything to protect
        await csrf_protect(request)
        runtime.storage.end_user_sessions(principal.id)  # copies of this cookie stop working too
    request.state.session = Session.anonymous()
    request.state.session_changed = True
    return RedirectResponse("/login", status_code=303)
