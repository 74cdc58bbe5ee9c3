"""The security review's findings, each pinned: redirects, error pages, headers, logs, metrics."""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from aggregator.outputs.tokens import hash_token
from aggregator.runtime import Runtime
from aggregator.storage import utcnow
from tests.web.support import PASSWORD, csrf_from, sign_in, token_of
from web.app import create_app

FEED_TOKEN = "F" * 43
HOSTILE_NEXT = ["//evil.example", "https://evil.example", "/\\evil.example", "\\/evil.example", "%2F%2Fevil",
                "///evil.example", "/\t/evil.example", "http:evil.example", "javascript:alert(1)",
                "//%2fevil.example", " //evil.example", "/\x00/evil.example"]


def _same_site(location: str) -> bool:
    return location.startswith("/") and not location.startswith("//") and "\\" not in location


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_no_next_parameter_leaves_the_site(client: TestClient, target: str) -> None:
    page = client.get("/login", params={"next": target})
    assert target not in page.text or page.status_code != 200
    response = client.post("/login", data={"username": "mia", "password": PASSWORD, "next": target,
                                           "csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert response.status_code == 303 and _same_site(response.headers["location"])
    again = client.get("/login", params={"next": target}, follow_redirects=False)  # signed in: redirects
    assert again.status_code == 303 and _same_site(again.headers["location"])
    token = csrf_from(client.get("/").text)
    for path, data in (("/items/1/useful", {}), ("/items/1/tags", {"kind": "stage", "values": "pricing"}),
                       ("/prospects/acme/notes", {"body": "hi"}),
                       ("/items/1/notes", {"prospect": "acme", "body": "hi"})):
        posted = client.post(path, data={"csrf_token": token, "next": target, **data}, follow_redirects=False)
        assert posted.status_code == 303 and _same_site(posted.headers["location"]), path


def test_error_pages_keep_the_header_for_signed_in_users(client: TestClient) -> None:
    anonymous = client.get("/nope")
    assert anonymous.status_code == 404 and "Sign out" not in anonymous.text
    token = sign_in(client, "jane")
    for path, status in (("/prospects/nope", 404), ("/sources", 404), ("/items/abc", 422), ("/nope", 404)):
        page = client.get(path)
        assert page.status_code == status, path
        assert 'action="/logout"' in page.text and f'value="{token}"' in page.text, path
        assert ">jane<" in page.text and 'href="/sources"' not in page.text, path  # a rep's own header
    assert client.post("/prospects/acme/notes", data={"body": "x"}).status_code == 403


def test_error_pages_render_when_the_database_is_down(runtime: Runtime, tmp_path: Path) -> None:
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        sign_in(client, "mia")
        runtime.storage.engine.dispose()
        database = Path(str(runtime.storage.engine.url.database))
        shutil.move(database, tmp_path / "moved.db")
        database.mkdir()  # "unable to open database file" from now on
        try:
            for path, status in (("/prospects/acme", 500), ("/nope", 404), ("/static/nope.css", 404)):
                page = client.get(path)
                assert page.status_code == status, path
                assert f"{status} · " in page.text and "Sign out" not in page.text, path
        finally:
            database.rmdir()
            shutil.move(tmp_path / "moved.db", database)


def test_readiness_follows_the_database_and_liveness_does_not(runtime: Runtime, tmp_path: Path) -> None:
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        assert client.get("/readyz").json() == {"status": "ok"}
        runtime.storage.engine.dispose()
        database = Path(str(runtime.storage.engine.url.database))
        shutil.move(database, tmp_path / "moved.db")
        database.mkdir()  # "unable to open database file" from now on
        try:
            down = client.get("/readyz")
            assert (down.status_code, down.json()) == (503, {"status": "database unavailable"})
            assert client.get("/healthz").status_code == 200
        finally:
            database.rmdir()
            shutil.move(tmp_path / "moved.db", database)
        assert client.get("/readyz").status_code == 200


@pytest.fixture
def feed_client(runtime: Runtime) -> Iterator[TestClient]:
    runtime.storage.set_rep_token_hash("jsmith", hash_token(FEED_TOKEN), utcnow())
    with TestClient(create_app(runtime)) as client:
        yield client


def test_every_feed_response_carries_the_security_headers(feed_client: TestClient) -> None:
    """The fast path answers repeated polls before the app's middleware: it must send the same headers."""
    paths = [f"/f/{FEED_TOKEN}/{p}" for p in ("opml", "all.rss", "all.atom", "p/acme.json")]
    responses = [feed_client.get(p) for p in paths for _ in range(2)]  # the second is a cache hit
    responses += [feed_client.get(f"/f/{'x' * 43}/all.rss"), feed_client.post(paths[1]),
                  feed_client.get(paths[1], headers={"If-None-Match": responses[2].headers["etag"]})]
    for r in responses:
        assert r.headers["referrer-policy"] == "no-referrer", r.request.url
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert "set-cookie" not in r.headers
    assert [r.status_code for r in responses[-3:]] == [404, 405, 304]


def test_html_pages_and_api_carry_the_security_headers(client: TestClient) -> None:
    sign_in(client, "mia")
    for path in ("/", "/prospects/acme", "/items/1", "/search?q=acme", "/sources", "/contributions", "/login",
                 "/nope", "/prospects/acme/dossier.html"):
        r = client.get(path)
        assert r.status_code in (200, 303, 404), path
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "'unsafe-eval'" not in csp, path
        assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] in ("same-origin", "no-referrer"), path


def test_session_cookie_is_secure_behind_https_even_after_a_reload(runtime: Runtime) -> None:
    with TestClient(create_app(runtime), base_url="https://testserver") as client:
        assert "Secure" not in client.get("/login").headers["set-cookie"]  # base_url is http://
        https = runtime.config.model_copy(update={"web": runtime.config.web.model_copy(
            update={"base_url": "https://funnelfeed.example"})})
        runtime.holder.config = https  # what a reload of an edited config.yaml does
        client.cookies.clear()
        cookie = client.get("/login").headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_feed_tokens_stay_out_of_the_error_log(runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    runtime.storage.set_rep_token_hash("jsmith", hash_token(FEED_TOKEN), utcnow())
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        client.get(f"/f/{FEED_TOKEN}/opml")
        runtime.storage.engine.dispose()
        database = Path(str(runtime.storage.engine.url.database))
        moved = database.with_name("moved.db")
        shutil.move(database, moved)
        database.mkdir()
        try:
            with caplog.at_level(logging.INFO):
                response = client.get(f"/f/{FEED_TOKEN}/all.rss")
        finally:
            database.rmdir()
            shutil.move(moved, database)
    assert response.status_code == 500
    server = [r for r in caplog.records if not r.name.startswith("httpx")]  # not the test's own client
    assert server and all(FEED_TOKEN not in caplog.handler.format(r) for r in server)


def test_metrics_are_for_privileged_users_only(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {token_of('jane')}"}).status_code == 404
    for who in ("sam", "mia"):
        scrape = client.get("/metrics", headers={"Authorization": f"Bearer {token_of(who)}"})
        assert scrape.status_code == 200 and "funnelfeed_items" in scrape.text
    sign_in(client, "mia")  # the sources page links to it
    assert client.get("/metrics").status_code == 200


def test_every_state_changing_request_needs_the_csrf_token_or_api_credentials(client: TestClient) -> None:
    """Walks the app's routes, so a form added later without ``Csrf`` fails here."""
    sign_in(client, "mia")  # a valid session cookie: what a forged cross-site form would carry

    def walk(routes: list[Any]) -> Iterator[Any]:
        for r in routes:
            nested = getattr(r, "original_router", None)  # an included router
            yield from walk(nested.routes) if nested is not None else (r,)

    posts = [r for r in walk(client.app.routes)  # type: ignore[attr-defined]
             if {"POST", "PUT", "PATCH", "DELETE"} & set(getattr(r, "methods", None) or ())]
    assert len(posts) >= 7
    for route in posts:
        path = route.path.replace("{prospect_id}", "acme").replace("{item_id}", "1")
        for data in ({}, {"csrf_token": "forged", "body": "x", "kind": "stage", "prospect": "acme",
                          "username": "mia", "password": PASSWORD}):
            response = client.post(path, data=data, follow_redirects=False)
            expected = 401 if path.startswith("/api/") else 403  # the API ignores session cookies
            assert response.status_code == expected, (path, data, response.status_code)
    assert client.get("/", follow_redirects=False).status_code == 200  # nothing signed us out


def test_hostile_text_is_inert_on_every_page(client: TestClient, runtime: Runtime) -> None:
    """Titles, content, notes, search terms and rejected form values: escaped on every page, the item page too."""
    evil = '"><script>alert(1)</script><img src=x onerror=alert(2)><a href="javascript:alert(3)">x</a>'
    with runtime.storage.engine.connect() as conn:
        hostile = conn.exec_driver_sql("SELECT id FROM items WHERE key = 'h1'").scalar_one()
    token = sign_in(client, "mia")
    client.post(f"/items/{hostile}/notes", data={"csrf_token": token, "prospect": "acme", "body": evil})
    client.post("/prospects/acme/notes", data={"csrf_token": token, "body": evil})
    client.post(f"/items/{hostile}/useful", data={"csrf_token": token})
    rejected = client.post(f"/items/{hostile}/tags", data={"csrf_token": token, "kind": "prospect", "values": evil})
    pages = [rejected] + [client.get(p, params=q) for p, q in (
        (f"/items/{hostile}", {}), ("/prospects/acme", {}), ("/prospects/acme", {"q": evil}),
        ("/prospects/acme", {"stage": "pricing"}), ("/search", {"q": evil}), ("/search", {"q": "hostile"}),
        ("/contributions", {}), ("/sources", {"q": evil}), ("/login", {"next": evil}), ("/nope" + evil, {}),
        ("/prospects/acme/dossier.html", {}))]
    assert rejected.status_code == 400
    for page in pages:
        soup = BeautifulSoup(page.text, "html.parser")  # what a browser builds, not the escaped text
        assert not soup.find_all(["script", "iframe", "object", "embed"]), page.request.url
        for tag in soup.find_all(True):
            for name, value in tag.attrs.items():
                assert not name.lower().startswith("on"), (page.request.url, tag)
                if name in ("href", "src", "action", "formaction"):
                    assert not re.match(r"\s*(javascript|data|vbscript):", str(value), re.I), (page.request.url, tag)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[1].text  # the note, shown as text on the item page
