"""The JSON API: filters, pagination, corrections, and a schemathesis run against /openapi.json."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from aggregator.runtime import Runtime
from tests.web.support import SEEDED, make_world, token_of
from tests.web.test_entitlements import item_id
from web.app import create_app

MIA = {"Authorization": f"Bearer {token_of('mia')}"}

# The same checks on both real databases.
on_both_databases = pytest.mark.parametrize("world_db", ["sqlite", "postgresql"], indirect=True)


@on_both_databases
def test_items_filters_and_pages(client: TestClient) -> None:
    page = client.get("/api/items?prospect=acme&per_page=10", headers=MIA).json()
    assert len(page["items"]) == 10 and page["next_page"] == 2
    dates = [i["published"] for i in page["items"]]
    assert dates == sorted(dates, reverse=True)
    second = client.get("/api/items?prospect=acme&per_page=10&page=2", headers=MIA).json()
    assert {i["id"] for i in page["items"]}.isdisjoint(i["id"] for i in second["items"])
    closing = client.get("/api/items?prospect=acme&stage=closing", headers=MIA).json()["items"]
    assert closing and all(any(s["value"] == "closing" for s in i["stages"]) for i in closing)
    wire = client.get("/api/items?source=wire", headers=MIA).json()["items"]
    assert [i["source_id"] for i in wire] == ["wire"]
    internal = client.get("/api/items?visibility=internal", headers=MIA).json()["items"]
    assert {i["visibility"] for i in internal} == {"internal"} and len(internal) == 3
    recent = client.get("/api/items?since=2000-01-01T00:00:00Z&q=ohio", headers=MIA).json()["items"]
    assert [i["title"] for i in recent] == [SEEDED.acme_external]
    assert client.get("/api/items?since=2999-01-01", headers=MIA).json()["items"] == []
    assert client.get("/api/items?stage=bogus", headers=MIA).status_code == 422


@on_both_databases
def test_prospects(client: TestClient) -> None:
    prospects = {p["id"]: p for p in client.get("/api/prospects", headers=MIA).json()}
    assert prospects["acme"]["reps"] == [{"rep_id": "jsmith", "name": "Jane Smith", "stage": "pricing"}]
    assert prospects["acme"]["items"] == 29 and prospects["initech"]["items"] == 0
    detail = client.get("/api/prospects/acme", headers=MIA).json()
    assert detail["stage_counts"]["closing"] == 5 and detail["notes"] == []
    assert client.get("/api/prospects/nope", headers=MIA).status_code == 404


@on_both_databases
def test_corrections_post(client: TestClient, runtime: Runtime) -> None:
    target = item_id(runtime, SEEDED.acme_external)
    jane = {"Authorization": f"Bearer {token_of('jane')}"}
    response = client.post(f"/api/items/{target}/corrections", json={"kind": "prospect", "values": ["acme", "globex"]},
                           headers=jane)
    assert response.status_code == 200
    assert {(p["value"], p["origin"]) for p in response.json()["prospects"]} == {("acme", "correction"),
                                                                                 ("globex", "correction")}
    bad = client.post(f"/api/items/{target}/corrections", json={"kind": "stage", "values": ["nope"]}, headers=jane)
    assert bad.status_code == 400 and bad.json()["error"]["message"] == "Unknown stage: nope."
    assert client.post(f"/api/items/{target}/corrections", json={"kind": "x", "values": []},
                       headers=jane).status_code == 422


# --- schemathesis: no input an authenticated caller can send makes the server fail -------------

@pytest.fixture(scope="module")
def api_runtime(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    runtime = make_world(template_db, tmp_path_factory.mktemp("schemathesis"))
    yield runtime
    runtime.close()


def test_no_server_errors(api_runtime: Runtime) -> None:
    """Every operation, schema-driven inputs (25 examples each), as a manager and as a rep: never a 5xx."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(api_runtime))
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results) >= 7  # every operation's schema could be read
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            for headers in (MIA, {"Authorization": f"Bearer {token_of('jane')}"}):
                response = case.call(headers=headers)
                assert response.status_code < 500, (case.method, case.formatted_path, case.query, response.text)

        check()
