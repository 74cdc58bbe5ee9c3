"""Request dependencies: the runtime, who is asking (session, bearer token or basic auth), CSRF."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.exceptions import HTTPException

from aggregator.entitlements import Viewer
from aggregator.runtime import Runtime
from aggregator.storage import UserRow
from web.errors import LoginRequired, not_found
from web.security import Session, csrf_matches, hash_api_token, password_fingerprint, verify_password


@dataclass(frozen=True)
class Principal:
    """A signed-in user and what they may see."""

    user: UserRow
    viewer: Viewer

    @property
    def id(self) -> int:
        assert self.user.id is not None
        return self.user.id

    @property
    def privileged(self) -> bool:
        return self.viewer.privileged


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def request_session(request: Request) -> Session:
    session: Session = request.state.session
    return session


def _principal(runtime: Runtime, user: UserRow | None) -> Principal | None:
    if user is None or user.role not in ("support", "manager", "rep"):
        return None
    return Principal(user, runtime.holder.viewer_for(user.role, user.rep_id))


def current_user(request: Request) -> Principal | None:
    """The user signed in through the session cookie, if any.

    A session is refused once the user signed out, got a new password or role (``session_epoch``
    moved on) or was removed, whichever copy of the cookie presents it.
    """
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    session = request_session(request)
    if session.user_id is None:
        return None
    runtime = get_runtime(request)
    user = runtime.storage.user_by_id(session.user_id)
    if (user is None or user.session_epoch != session.epoch
            or password_fingerprint(user.password_hash) != session.fingerprint):
        return None
    principal = _principal(runtime, user)
    request.state.principal = principal
    return principal


def page_user(request: Request) -> Principal:
    principal = current_user(request)
    if principal is None:
        raise LoginRequired()
    return principal


def privileged_page_user(principal: Annotated[Principal, Depends(page_user)]) -> Principal:
    """Managers and support only; a rep gets the same 404 as for anything else not theirs."""
    if not principal.privileged:
        raise not_found()
    return principal


PageUser = Annotated[Principal, Depends(page_user)]
PrivilegedPageUser = Annotated[Principal, Depends(privileged_page_user)]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="funnelfeed", Basic realm="funnelfeed"'}


def api_user(request: Request) -> Principal:
    """API callers: ``Authorization: Bearer <token>`` or HTTP Basic with the user's password."""
    runtime = get_runtime(request)
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    user: UserRow | None = None
    if scheme.lower() == "bearer" and value:
        user = runtime.storage.user_by_api_token_hash(hash_api_token(value))
    elif scheme.lower() == "basic" and value:
        try:
            username, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            username, password = "", ""
        throttle = request.app.state.throttle
        wait = throttle.retry_after(username) if username else 0
        if wait:
            raise HTTPException(429, f"Too many failed sign-ins for this user. Try again in {wait} s.",
                                headers={"Retry-After": str(wait)})
        if username:
            found = runtime.storage.user(username)
            if verify_password(found.password_hash if found else None, password):
                user = found
                throttle.succeeded(username)
            else:
                throttle.failed(username)
    principal = _principal(runtime, user)
    if principal is None:
        raise HTTPException(401, "Send an API token (Authorization: Bearer) or HTTP Basic credentials.",
                            headers=_CHALLENGE)
    return principal


ApiUser = Annotated[Principal, Depends(api_user)]


async def csrf_protect(request: Request) -> None:
    """Every form POST carries the session's CSRF token (and, when sent, a same-origin Origin)."""
    form = await request.form()
    token = form.get("csrf_token")
    if not csrf_matches(request_session(request).csrf, token if isinstance(token, str) else None):
        raise HTTPException(403, "This form has expired or did not come from this site; reload and retry.")
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise HTTPException(403, "Cross-site form submission refused.")


Csrf = Depends(csrf_protect)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site relative paths are followed after a form (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(ch) < 32 for ch in target):
        return default
    return target
