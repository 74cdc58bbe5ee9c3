"""Private rep feeds: ``/f/{token}/opml``, ``/f/{token}/all.atom``, ``/f/{token}/p/{prospect}[/{stage}].rss``.

The token in the path is the only credential (feed readers cannot sign in). Every
failure — wrong, rotated, revoked, malformed or missing token, unknown stream —
is the same 404 raised as ``HTTPException``, so it has the app's one error shape
and says nothing about which part was wrong.

The endpoint is a plain ASGI callable rather than a FastAPI handler: feed readers
poll constantly, and a poll answered from memory (304 or cached bytes) should not
pay for request objects, parameter validation and dependency solving. It is
still an ordinary route of this ``APIRouter``; ``include_router`` mounts it as is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import APIRouter, HTTPException
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from aggregator.outputs import PRIVATE_HEADERS, FeedService, Rendered
from aggregator.outputs.conditional import not_modified

__all__ = ["FeedFastPath", "feed_service", "router"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
Receive = Callable[[], Awaitable[Message]]

router = APIRouter(tags=["feeds"])
_CONDITIONAL = (b"if-none-match", b"if-modified-since")


def feed_service(app: Any) -> FeedService:
    """The app's one FeedService, created on first use from ``app.state.runtime``."""
    state = app.state
    service: FeedService | None = getattr(state, "feed_service", None)
    if service is None:
        runtime = state.runtime
        service = state.feed_service = FeedService(runtime.holder, runtime.storage)
    return service


def _not_found() -> HTTPException:
    return HTTPException(status_code=404, detail="Not Found", headers=dict(PRIVATE_HEADERS))


def _conditional_headers(scope: Scope) -> dict[str, str]:
    return {name.decode(): value.decode("latin-1") for name, value in scope["headers"] if name in _CONDITIONAL}


async def _send(send: Send, status: int, rendered: Rendered, body: bytes) -> None:
    headers = [(k.lower().encode(), v.encode("latin-1")) for k, v in rendered.headers.items()]
    if status == 200:
        headers += [(b"content-type", rendered.media_type.encode()),
                    (b"content-length", str(len(rendered.body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _split(path: str) -> tuple[str, str] | None:
    """``/f/<token>/<rest>`` → (token, rest)."""
    token, sep, rest = path[3:].partition("/")
    return (token, rest) if sep and token else None


async def _answer(scope: Scope, send: Send, rendered: Rendered) -> None:
    if not_modified(_conditional_headers(scope), rendered.etag, rendered.last_modified):
        await _send(send, 304, rendered, b"")
    else:
        await _send(send, 200, rendered, b"" if scope["method"] == "HEAD" else rendered.body)


class FeedFastPath:
    """Optional ASGI middleware: answers polls that hit the feed cache before the framework runs.

    Only provably current cached responses are served here (the same bytes and
    headers the route would send); every miss, 404 and other path goes on to the
    wrapped app unchanged. Wrap the app (``FeedFastPath(create_app(runtime))``) or
    ``app.add_middleware(FeedFastPath)``; it roughly doubles 304 throughput.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/f/") and scope["method"] in ("GET", "HEAD"):
            parts = _split(scope["path"])
            owner = scope.get("app", self.app)
            if parts is not None and hasattr(owner, "state") and getattr(owner.state, "runtime", None):
                rendered = feed_service(owner).cached(*parts)
                if rendered is not None:
                    await _answer(scope, send, rendered)
                    return
        await self.app(scope, receive, send)


class RepFeedEndpoint:
    """GET/HEAD ``/f/{token}/{path}``: a rep's OPML or one stream; 304 when the client's copy is current."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        params = scope["path_params"]
        token, path = params["token"], params["path"]
        service = feed_service(scope["app"])
        rendered = service.cached(token, path)
        if rendered is None:
            rendered = await run_in_threadpool(service.render, token, path)
            if rendered is None:
                raise _not_found()
        await _answer(scope, send, rendered)


# Registered before the catch-all below, which must only see what this does not match.
router.routes.append(Route("/f/{token}/{path:path}", RepFeedEndpoint(), methods=["GET", "HEAD"],
                           include_in_schema=False))


@router.api_route("/f/{rest:path}", methods=["GET", "HEAD"], include_in_schema=False)
async def no_token(rest: str) -> None:
    """Anything else under /f/ (e.g. a missing token): the same 404."""
    raise _not_found()
