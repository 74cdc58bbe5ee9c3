"""Entitlements over pages, API and exports, for a rep, a manager and support staff."""

from __future__ import annotations

import random

import pytest
from fastapi.testclient import TestClient

from aggregator.entitlements import Viewer, may_see_item
from aggregator.runtime import Runtime
from aggregator.storage import browse, utcnow
from aggregator.types import ItemData
from tests.web.support import SEEDED, sign_in, token_of

# The same checks on both real databases.
pytestmark = pytest.mark.parametrize("world_db", ["sqlite", "postgresql"], indirect=True)


def item_id(runtime: Runtime, title: str) -> int:
    views, _ = browse.items(runtime.storage, Viewer("support"), browse.ItemFilter(query=title), limit=5)
    return next(v.id for v in views if v.title == title)


def api(client: TestClient, user: str, path: str) -> tuple[int, object]:
    response = client.get(path, headers={"Authorization": f"Bearer {token_of(user)}"})
    return response.status_code, response.json()


@pytest.mark.parametrize("user", ["sam", "mia"])
def test_managers_and_support_see_everything(client: TestClient, runtime: Runtime, user: str) -> None:
    sign_in(client, user)
    page = client.get("/prospects/acme?stage=all").text
    assert SEEDED.acme_internal in page and "Account notes" in page and "dossier.html" in page
    assert SEEDED.globex_internal in client.get("/prospects/globex?stage=all").text
    assert SEEDED.unowned_internal in client.get("/search?q=unassigned").text
    for path in ("/sources", "/contributions", "/prospects/globex/dossier.md", "/prospects/acme/dossier.html"):
        assert client.get(path).status_code == 200, path
    status, body = api(client, user, "/api/items?per_page=200")
    assert status == 200
    titles = {i["title"] for i in body["items"]}  # type: ignore[index]
    assert {SEEDED.acme_internal, SEEDED.globex_internal, SEEDED.unowned_internal} <= titles
    assert api(client, user, f"/api/items/{item_id(runtime, SEEDED.globex_internal)}")[0] == 200
    assert api(client, user, "/api/sources")[0] == 200
    assert api(client, user, "/api/prospects/globex")[1]["notes"] == []  # type: ignore[index]


def test_rep_sees_external_everywhere_internal_only_of_their_accounts(client: TestClient,
                                                                       runtime: Runtime) -> None:
    sign_in(client, "jane")  # rep jsmith: acme and initech
    acme = client.get("/prospects/acme?stage=all").text
    assert SEEDED.acme_internal in acme and SEEDED.acme_external in acme and "Account notes" in acme
    globex = client.get("/prospects/globex?stage=all").text
    assert "Globex hires a new CIO" in globex  # external items of every prospect
    assert SEEDED.globex_internal not in globex
    assert 'action="/prospects/globex/notes"' not in globex and "dossier.md" not in globex
    assert SEEDED.globex_internal not in client.get("/search?q=CRM").text
    assert SEEDED.unowned_internal not in client.get("/search?q=CRM").text
    # Everything not theirs answers 404: pages, exports, item actions, API.
    for path in ("/prospects/globex/dossier.html", "/prospects/globex/dossier.md", "/sources", "/contributions",
                 "/prospects/nope"):
        assert client.get(path).status_code == 404, path
    globex_internal = item_id(runtime, SEEDED.globex_internal)
    token = sign_in(client, "jane")
    for path, data in ((f"/items/{globex_internal}/useful", {}),
                       (f"/items/{globex_internal}/tags", {"kind": "stage", "values": "closing"}),
                       (f"/items/{globex_internal}/notes", {"prospect": "globex", "body": "x"}),
                       ("/prospects/globex/notes", {"body": "sneaky"})):
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 404, path
    assert api(client, "jane", f"/api/items/{globex_internal}")[0] == 404
    assert api(client, "jane", f"/api/items/{item_id(runtime, SEEDED.acme_internal)}")[0] == 200
    assert api(client, "jane", "/api/sources")[0] == 404
    _status, body = api(client, "jane", "/api/items?per_page=200")
    titles = {i["title"] for i in body["items"]}  # type: ignore[index]
    assert SEEDED.acme_internal in titles and "Globex hires a new CIO" in titles
    assert SEEDED.globex_internal not in titles and SEEDED.unowned_internal not in titles
    assert api(client, "jane", "/api/items?prospect=globex&visibility=internal")[1]["items"] == []  # type: ignore[index]
    assert api(client, "jane", "/api/prospects/globex")[1]["notes"] is None  # type: ignore[index]
    assert api(client, "jane", "/api/prospects/acme")[1]["notes"] == []  # type: ignore[index]
    # a correction through the API is refused the same way
    response = client.post(f"/api/items/{globex_internal}/corrections", json={"kind": "stage", "values": []},
                           headers={"Authorization": f"Bearer {token_of('jane')}"})
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_other_reps_notes_stay_on_their_account(client: TestClient, runtime: Runtime) -> None:
    token = sign_in(client, "omar")  # rep odiaz: globex
    assert client.post("/prospects/globex/notes", data={"body": "Globex secret: CFO leaving",
                                                        "csrf_token": token}).status_code == 200
    sign_in(client, "jane")
    assert "CFO leaving" not in client.get("/prospects/globex").text
    assert "CFO leaving" not in client.get("/search?q=CFO").text
    sign_in(client, "mia")
    assert "CFO leaving" in client.get("/prospects/globex").text
    assert "CFO leaving" in client.get("/prospects/globex/dossier.md").text


def test_rep_cannot_move_an_internal_item_to_another_account(client: TestClient, runtime: Runtime) -> None:
    acme_internal = item_id(runtime, SEEDED.acme_internal)
    token = sign_in(client, "jane")
    response = client.post(f"/items/{acme_internal}/tags",
                           data={"kind": "prospect", "values": ["globex"], "csrf_token": token})
    assert response.status_code == 400
    sign_in(client, "omar")
    assert SEEDED.acme_internal not in client.get("/prospects/globex?stage=all").text


def test_sql_filter_agrees_with_the_entitlement_rule(runtime: Runtime) -> None:
    """visible_clause (SQL) and may_see_item (Python) decide the same for random tag sets."""
    rng = random.Random(7)
    prospects, origins = ["acme", "globex", "initech"], ["source", "export", "correction", "alias", "model"]
    rows, expected_tags = [], {}
    for n in range(150):
        tags = [("prospect", p, 1.0, rng.choice(origins)) for p in prospects if rng.random() < 0.4]
        key = f"r{n}"
        expected_tags[key] = tags
        rows.append(ItemData(key=key, title=f"random {n}", link=None, content_html="", text="",
                             published=utcnow(), content_hash=key))
    runtime.storage.store_items("crm", "internal", rows, utcnow(),
                                tag=lambda _s, items: [expected_tags[i.key] for i in items])
    everything, _ = browse.items(runtime.storage, Viewer("support"), browse.ItemFilter(query="random"), limit=500)
    assert len(everything) == 150
    for accounts in (frozenset(), frozenset({"acme"}), frozenset({"acme", "initech"}), frozenset(prospects)):
        viewer = Viewer("rep", accounts)
        expected = {v.id for v in everything if may_see_item(viewer, v.visibility, v.prospect_tags)}
        got, _ = browse.items(runtime.storage, viewer, browse.ItemFilter(query="random"), limit=500)
        sql_only = _sql_ids(runtime, viewer)
        assert {v.id for v in got} == expected == sql_only, accounts


def _sql_ids(runtime: Runtime, viewer: Viewer) -> set[int]:
    from sqlalchemy import select
    from sqlmodel import Session

    from aggregator.storage import ItemRow

    clause = browse.visible_clause(viewer)
    col = ItemRow.__table__.c  # type: ignore[attr-defined]
    query = select(col.id).where(col.title.like("random %"))
    if clause is not None:
        query = query.where(clause)
    with Session(runtime.storage.engine) as session:
        return {int(i) for i in session.execute(query).scalars()}


def test_a_source_reclassified_internal_takes_its_stored_items_along(client: TestClient,
                                                                      runtime: Runtime) -> None:
    """Stored rows keep the visibility of their fetch; the source's visibility *now* must win."""
    news = "url: http://127.0.0.1:9/news.rss\n    kind: feed\n    visibility: "
    path = runtime.holder.path
    path.write_text(path.read_text().replace(news + "external", news + "internal"))
    assert runtime.holder.reload().ok
    sign_in(client, "omar")  # rep odiaz: globex only; the news items are Acme's
    assert SEEDED.acme_external not in client.get("/prospects/acme?stage=all").text
    assert SEEDED.acme_external not in client.get("/search?q=Ohio").text
    assert "Globex hires a new CIO" not in client.get("/prospects/globex?stage=all&visibility=external").text
    _status, body = api(client, "omar", "/api/items?per_page=200")
    assert SEEDED.acme_external not in {i["title"] for i in body["items"]}  # type: ignore[index]
    sign_in(client, "jane")  # acme is hers: she still sees it, marked internal
    page = client.get("/prospects/acme?stage=all&visibility=internal").text
    assert SEEDED.acme_external in page
    assert SEEDED.acme_external not in client.get("/prospects/acme?stage=all&visibility=external").text
    _status, item = api(client, "jane", f"/api/items/{item_id(runtime, SEEDED.acme_external)}")
    assert item["visibility"] == "internal"  # type: ignore[index]
