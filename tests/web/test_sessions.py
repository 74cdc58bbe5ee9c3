"""Ending sessions: sign-out, `users passwd`, a role change and `users remove` refuse every copy of an
older cookie, on SQLite and PostgreSQL; a session nobody ended keeps working."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from aggregator.cli import main
from aggregator.runtime import Runtime
from tests.web.support import PASSWORD, SEEDED, sign_in
from web.security import SESSION_COOKIE

pytestmark = pytest.mark.parametrize("world_db", ["sqlite", "postgresql"], indirect=True)

CRM_PAGE = "/prospects/globex?stage=all"  # internal CRM material only managers and support see


def use_cookie(client: TestClient, value: str) -> None:
    client.cookies.clear()  # set() alone may add a second cookie beside the signed one (httpx2's jar does)
    client.cookies.set(SESSION_COOKIE, value)


def signed_in(client: TestClient, username: str) -> tuple[str, str]:
    """Sign in afresh; returns the session cookie and its CSRF token."""
    client.cookies.clear()
    token = sign_in(client, username)
    return client.cookies.get(SESSION_COOKIE) or "", token


def refused(client: TestClient, path: str = CRM_PAGE) -> bool:
    response = client.get(path, follow_redirects=False)
    return response.status_code == 303 and response.headers["location"].startswith("/login?")


def users_command(runtime: Runtime, *args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(main, ["users", *args, "--config", str(runtime.holder.path)], input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_cookie_copied_before_sign_out_is_refused_after_it(client: TestClient) -> None:
    copied, token = signed_in(client, "mia")
    assert SEEDED.globex_internal in client.get(CRM_PAGE).text
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    again = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)  # a second tab
    assert again.status_code == 303 and again.headers["location"] == "/login"

    use_cookie(client, copied)  # the copy taken while signed in, replayed after sign-out
    page = client.get(CRM_PAGE, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fprospects%2Fglobex%3Fstage%3Dall"
    assert SEEDED.globex_internal not in page.text
    assert refused(client, "/")
    note = client.post("/prospects/globex/notes", data={"body": "after sign-out", "csrf_token": token},
                       follow_redirects=False)
    assert note.status_code == 303 and note.headers["location"].startswith("/login?")
    stale = client.post("/logout", data={"csrf_token": "anything"}, follow_redirects=False)
    assert stale.status_code == 303 and stale.headers["location"] == "/login"  # nothing left to sign out

    signed_in(client, "mia")  # signing in again gives a session that works
    assert SEEDED.globex_internal in client.get(CRM_PAGE).text


def test_a_session_keeps_working_until_its_user_signs_out(client: TestClient, runtime: Runtime) -> None:
    mia, mia_token = signed_in(client, "mia")
    sam, sam_token = signed_in(client, "sam")
    use_cookie(client, mia)
    for _ in range(3):
        assert SEEDED.globex_internal in client.get(CRM_PAGE).text
    note = client.post("/prospects/globex/notes", data={"body": "Budget holder changed", "csrf_token": mia_token})
    assert note.status_code == 200 and "Budget holder changed" in client.get(CRM_PAGE).text

    use_cookie(client, sam)  # someone else signing out, or getting a new password, is not mia's business
    assert client.post("/logout", data={"csrf_token": sam_token}, follow_redirects=False).status_code == 303
    users_command(runtime, "passwd", "jane", "--password-stdin", stdin="a brand new password\n")
    use_cookie(client, mia)
    assert SEEDED.globex_internal in client.get(CRM_PAGE, follow_redirects=False).text

    other, other_token = signed_in(client, "mia")  # mia on a second device signs out: she is signed out
    assert client.post("/logout", data={"csrf_token": other_token}, follow_redirects=False).status_code == 303
    use_cookie(client, mia)
    assert refused(client)
    use_cookie(client, other)
    assert refused(client)


def test_a_session_from_before_users_passwd_is_refused_after_it(client: TestClient, runtime: Runtime) -> None:
    before, _ = signed_in(client, "jane")
    assert client.get("/", follow_redirects=False).status_code == 200
    assert "password of jane changed" in users_command(runtime, "passwd", "jane", "--password-stdin",
                                                       stdin="a brand new password\n")
    use_cookie(client, before)
    assert refused(client, "/")
    client.cookies.clear()
    sign_in(client, "jane", "a brand new password")
    assert client.get("/", follow_redirects=False).status_code == 200


def test_a_role_change_or_removal_ends_the_old_session(client: TestClient, runtime: Runtime) -> None:
    manager, _ = signed_in(client, "mia")
    assert SEEDED.globex_internal in client.get(CRM_PAGE).text
    users_command(runtime, "add", "mia", "--role", "rep", "--rep", "jsmith", "--password-stdin",
                  stdin=f"{PASSWORD}\n")  # same password, less power
    use_cookie(client, manager)
    assert refused(client)  # not a manager's session any more, nor a rep's
    rep, _ = signed_in(client, "mia")
    assert SEEDED.globex_internal not in client.get(CRM_PAGE).text  # globex is not jsmith's account
    assert "removed mia" in users_command(runtime, "remove", "mia")
    use_cookie(client, rep)
    assert refused(client, "/")
