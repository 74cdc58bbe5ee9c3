"""Sign-in, sessions, CSRF, the admin from the environment and the `users` commands."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from aggregator.cli import main
from aggregator.runtime import Runtime
from tests.web.support import PASSWORD, csrf_from, sign_in
from web.security import ensure_admin_from_env, hash_password, verify_password


def test_pages_redirect_to_sign_in(client: TestClient) -> None:
    response = client.get("/prospects/acme?stage=pricing", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fprospects%2Facme%3Fstage%3Dpricing"


def test_sign_in_sets_a_hardened_cookie_and_sign_out_ends_it(client: TestClient) -> None:
    page = client.get("/login")
    response = client.post("/login", data={"username": "mia", "password": PASSWORD,
                                           "csrf_token": csrf_from(page.text), "next": "/prospects/acme"},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/prospects/acme"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    token = csrf_from(client.get("/").text)
    assert token != csrf_from(page.text), "a new CSRF token after sign-in"
    assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_wrong_password_and_unknown_user_look_the_same(client: TestClient) -> None:
    for user, password in (("mia", "nope"), ("nobody", PASSWORD)):
        page = client.get("/login")
        response = client.post("/login", data={"username": user, "password": password,
                                               "csrf_token": csrf_from(page.text)})
        assert response.status_code == 401
        assert "Unknown user name or wrong password." in response.text


def test_forms_without_the_session_csrf_token_are_refused(client: TestClient) -> None:
    sign_in(client, "mia")
    for data in ({"body": "x"}, {"body": "x", "csrf_token": "forged"}):
        response = client.post("/prospects/acme/notes", data=data)
        assert response.status_code == 403
    page = client.get("/login")  # the sign-in form is protected too (login CSRF)
    assert client.post("/login", data={"username": "mia", "password": PASSWORD}).status_code == 403
    assert "csrf_token" in page.text


def test_sign_out_needs_the_token_but_a_second_tabs_sign_out_is_no_error(client: TestClient) -> None:
    token = sign_in(client, "mia")
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 403  # no forced sign-out
    assert client.get("/", follow_redirects=False).status_code == 200
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    again = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)  # the other tab
    assert again.status_code == 303 and again.headers["location"] == "/login"


def test_cross_origin_post_refused_even_with_token(client: TestClient) -> None:
    token = sign_in(client, "mia")
    response = client.post("/prospects/acme/notes", data={"body": "x", "csrf_token": token},
                           headers={"Origin": "https://evil.example"})
    assert response.status_code == 403


def test_open_redirects_are_not_followed(client: TestClient) -> None:
    page = client.get("/login")
    response = client.post("/login", data={"username": "mia", "password": PASSWORD, "next": "//evil.example/",
                                           "csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert response.headers["location"] == "/"


def test_changing_the_password_ends_sessions(client: TestClient, runtime: Runtime) -> None:
    sign_in(client, "jane")
    assert client.get("/", follow_redirects=False).status_code == 200
    runtime.storage.set_user_password("jane", hash_password("another password"))
    assert client.get("/", follow_redirects=False).status_code == 303


def test_tampered_cookie_is_ignored(client: TestClient) -> None:
    sign_in(client, "mia")
    value = client.cookies.get("ff_session") or ""
    tampered = value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB")
    for cookie, status in ((value, 200), (tampered, 303)):  # the first proves a cookie set this way is sent
        client.cookies.clear()  # set() alone may add a second cookie beside the signed one (httpx2's jar does)
        client.cookies.set("ff_session", cookie)
        assert client.get("/", follow_redirects=False).status_code == status


def test_admin_from_environment(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUNNELFEED_ADMIN_USER", "admin")
    monkeypatch.setenv("FUNNELFEED_ADMIN_PASSWORD", "s3cret-admin-pw")
    user = ensure_admin_from_env(runtime)
    assert user is not None and user.role == "support"
    monkeypatch.setenv("FUNNELFEED_ADMIN_PASSWORD", "changed-admin-pw")
    ensure_admin_from_env(runtime)
    stored = runtime.storage.user("admin")
    assert stored is not None and verify_password(stored.password_hash, "changed-admin-pw")
    monkeypatch.delenv("FUNNELFEED_ADMIN_PASSWORD")
    assert ensure_admin_from_env(runtime) is None


def test_users_commands(runtime: Runtime) -> None:
    config = str(runtime.holder.path)
    runtime.close()
    cli = CliRunner()

    def run(*args: str, stdin: str | None = None) -> str:
        result = cli.invoke(main, ["users", *args, "--config", config], input=stdin)
        assert result.exit_code == 0, result.output
        return result.output

    assert "added kim (rep, rep jsmith)" in run("add", "kim", "--role", "rep", "--rep", "jsmith",
                                               "--password-stdin", stdin="a long password\n")
    bad = cli.invoke(main, ["users", "add", "lee", "--role", "rep", "--rep", "ghost", "--password-stdin",
                            "--config", config], input="a long password\n")
    assert bad.exit_code == 1 and "no rep 'ghost'" in bad.output
    short = cli.invoke(main, ["users", "add", "lee", "--role", "manager", "--password-stdin", "--config", config],
                       input="short\n")
    assert short.exit_code == 1 and "at least 8" in short.output
    run("passwd", "kim", "--password-stdin", stdin="another long one\n")
    token = run("token", "kim").strip()
    assert len(token) >= 40
    listing = run("list")
    assert "kim\trep\tjsmith\tapi-token" in listing
    assert "removed kim" in run("remove", "kim")
    assert "kim" not in run("list")


def test_api_accepts_bearer_and_basic_only(client: TestClient, tmp_path: Path) -> None:
    assert client.get("/api/items").status_code == 401
    body = client.get("/api/items").json()
    assert body["error"]["status"] == 401 and body["error"]["code"] == "unauthorized"
    assert client.get("/api/me", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/me", auth=("jane", PASSWORD)).json()["role"] == "rep"
    assert client.get("/api/me", auth=("jane", "wrong")).status_code == 401
    sign_in(client, "mia")  # a session cookie is not an API credential
    assert client.get("/api/me").status_code == 401


def test_password_guessing_is_slowed_down(client: TestClient) -> None:
    def attempt(password: str) -> int:
        page = client.get("/login")
        return client.post("/login", data={"username": "mia", "password": password,
                                           "csrf_token": csrf_from(page.text), "next": "/"},
                           follow_redirects=False).status_code

    assert [attempt(f"guess {i}") for i in range(5)] == [401] * 5
    # Now even the right password waits: the account is paused, and says for how long.
    page = client.get("/login")
    blocked = client.post("/login", data={"username": "MIA", "password": PASSWORD,
                                          "csrf_token": csrf_from(page.text), "next": "/"})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in blocked.text
    # The API's HTTP Basic shares the same brake; other accounts are unaffected.
    assert client.get("/api/prospects", auth=("mia", PASSWORD)).status_code == 429
    assert client.get("/api/prospects", auth=("sam", PASSWORD)).status_code == 200


def test_throttle_forgives_after_the_window() -> None:
    from datetime import UTC, datetime, timedelta

    from web.throttle import SignInThrottle

    now = [datetime(2026, 11, 1, tzinfo=UTC)]
    throttle = SignInThrottle(max_failures=2, window=timedelta(minutes=5), clock=lambda: now[0])
    throttle.failed("Mia")
    assert throttle.retry_after("mia") == 0
    throttle.failed("mia")
    assert 0 < throttle.retry_after("mia") <= 301
    now[0] += timedelta(minutes=5)
    assert throttle.retry_after("mia") == 0
    throttle.failed("mia")
    throttle.succeeded("mia")
    assert throttle.retry_after("mia") == 0


@pytest.mark.parametrize("world_db", ["sqlite", "postgresql"], indirect=True)
def test_nul_characters_in_sign_in_and_notes_are_not_server_errors(client: TestClient) -> None:
    """PostgreSQL text cannot hold NUL: a pasted one must not turn a form into a 500."""
    page = client.get("/login")
    response = client.post("/login", data={"username": "mi\x00a", "password": PASSWORD,
                                           "csrf_token": csrf_from(page.text)})
    assert response.status_code == 401
    basic = base64.b64encode(b"mi\x00a:" + PASSWORD.encode()).decode()
    assert client.get("/api/me", headers={"Authorization": f"Basic {basic}"}).status_code == 401
    token = sign_in(client, "mia")
    response = client.post("/prospects/acme/notes", data={"body": "CFO\x00 leaving", "csrf_token": token})
    assert response.status_code == 200 and "CFO leaving" in client.get("/prospects/acme").text
