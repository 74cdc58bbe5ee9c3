"""The feeds router inside the real web app: its middleware must not undo feed privacy."""

from __future__ import annotations

import httpx
import pytest

from aggregator.runtime import Runtime
from tests.outputs.conftest import TOKENS, web_app


async def test_feeds_keep_their_headers_in_the_web_app(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUNNELFEED_SECRET_KEY", "test-secret-key-for-sessions-0123456789")
    app = web_app(runtime)
    if app is None:
        pytest.skip("web/app.py does not exist yet")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        ok = await client.get(f"/f/{TOKENS['alice']}/all.atom")
        missing = await client.get(f"/f/{'x' * 43}/all.atom")
    assert ok.status_code == 200 and missing.status_code == 404
    for response in (ok, missing):
        assert response.headers["cache-control"] == "private"
        assert response.headers["referrer-policy"] == "no-referrer"


async def test_feed_responses_carry_no_session_cookie(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUNNELFEED_SECRET_KEY", "test-secret-key-for-sessions-0123456789")
    app = web_app(runtime)
    if app is None:
        pytest.skip("web/app.py does not exist yet")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        ok = await client.get(f"/f/{TOKENS['alice']}/all.atom")
    assert "set-cookie" not in ok.headers, "feed readers should not be handed session cookies"
