"""A source that support reclassifies as internal takes its already stored items with it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from aggregator.runtime import Runtime
from tests.outputs.conftest import TOKENS, Story, store
from tests.outputs.test_feeds_http import parse

ALICE, BOB = TOKENS["alice"], TOKENS["bob"]
BOTH = "Acme and Globex merge their logistics arms"


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
async def test_items_of_a_source_made_internal_are_internal_in_every_feed(
        client: httpx.AsyncClient, runtime: Runtime, fmt: str) -> None:
    store(runtime, [Story("wire", "m1", BOTH, [("prospect", "acme", 0.9, "alias"),
                                                ("prospect", "globex", 0.9, "alias")], hours_ago=0)])
    bob = parse(fmt, (await client.get(f"/f/{BOB}/p/globex.{fmt}")).content)
    assert BOTH in {e["title"] for e in bob}  # external: every rep on either account gets it
    # Support decides the wire is confidential after all; the stored rows still say "external".
    path = Path(runtime.holder.path)
    wire = 'url: "https://wire.example/feed", kind: feed, visibility: '
    path.write_text(path.read_text().replace(wire + "external", wire + "internal"))
    assert runtime.holder.reload().ok
    assert runtime.holder.source("wire").visibility == "internal"  # type: ignore[union-attr]
    bob = parse(fmt, (await client.get(f"/f/{BOB}/p/globex.{fmt}")).content)
    assert not any(BOTH in str(e["title"]) for e in bob)  # owned by Acme and Globex: not all Bob's
    alice_response = await client.get(f"/f/{ALICE}/all.{fmt}")
    assert not any(BOTH in str(e["title"]) for e in parse(fmt, alice_response.content))
    bob_rfp = next(e for e in bob if "Globex issues an RFP" in str(e["title"]))
    assert str(bob_rfp["title"]).startswith("[internal] ") and "internal" in bob_rfp["tags"]  # type: ignore[operator]
    assert "wire.example/feed" not in alice_response.text  # an internal source's address is not published
