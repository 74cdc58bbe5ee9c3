"""A small world for web tests: config.yaml, a seeded SQLite file, users with passwords and tokens."""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from fastapi.testclient import TestClient

from aggregator.runtime import Runtime, open_runtime
from aggregator.storage import Tag, utcnow
from aggregator.types import ItemData
from web.security import hash_api_token, hash_password

CONFIG = """
database: sqlite:///{db}
web:
  base_url: http://127.0.0.1:8080
  session_secret_env: FUNNELFEED_TEST_SECRET
prospects:
  - id: acme
    name: Acme Corporation
    aliases: [Acme]
    domains: [acme.example]
    people: [Jane Doe]
    description: Industrial manufacturer consolidating its ERP systems.
  - id: globex
    name: Globex Corporation
    aliases: [Globex]
  - id: initech
    name: Initech
sources:
  - id: crm
    title: CRM activity export
    url: http://127.0.0.1:9/crm.csv
    kind: export
    visibility: internal
    columns: {{title: subject, prospect: account}}
  - id: news
    title: Industry news
    url: http://127.0.0.1:9/news.rss
    kind: feed
    visibility: external
  - id: wire
    title: Business wire
    url: http://127.0.0.1:9/wire.rss
    kind: feed
    visibility: external
reps:
  - id: jsmith
    name: Jane Smith
    accounts:
      - {{prospect: acme, stage: pricing}}
      - {{prospect: initech, stage: qualifying}}
  - id: odiaz
    name: Omar Diaz
    accounts:
      - {{prospect: globex, stage: proposing}}
"""

PASSWORD = "correct horse battery"
USERS = {"sam": ("support", None), "mia": ("manager", None), "jane": ("rep", "jsmith"),
         "omar": ("rep", "odiaz")}
HOSTILE_TITLE = '<script>alert("title")</script><img src=x onerror="alert(1)">Acme hostile <b>title</b>'
HOSTILE_HTML = ('<p>Body<script>alert("body")</script><img src=x onerror=alert(2)>'
                '<a href="javascript:alert(3)">click</a><svg onload=alert(4)></svg>'
                '<iframe src="javascript:alert(5)"></iframe><a href="data:text/html,<script>alert(6)</script>">d</a>'
                '<a href="https://ok.example/">fine link</a></p>')


def token_of(username: str) -> str:
    return f"test-token-{username}-0123456789abcdef"


@dataclass(frozen=True)
class Seeded:
    """Titles of the seeded items by role in the tests."""

    acme_internal: str = "CRM: Acme budget call"
    globex_internal: str = "CRM: Globex procurement meeting"
    unowned_internal: str = "CRM: unassigned lead list"
    acme_external: str = "Acme opens a new plant in Ohio"
    duplicate: str = "Acme signs ERP contract"
    hostile: str = HOSTILE_TITLE


SEEDED = Seeded()


def _item(key: str, title: str, text: str = "", days_ago: float = 1, html: str = "", dedupe: str = "",
          link: str | None = None) -> ItemData:
    return ItemData(key=key, title=title, link=link or f"https://news.example/{key}",
                    content_html=html or f"<p>{text or title}</p>", text=text or title,
                    published=utcnow() - timedelta(days=days_ago), content_hash=key + title,
                    dedupe_key=dedupe)


def seed(runtime: Runtime) -> None:
    storage, now = runtime.storage, utcnow()
    tags: dict[str, list[Tag]] = {}

    def store(source: str, visibility: str, rows: Sequence[tuple[ItemData, list[Tag]]]) -> None:
        for data, t in rows:
            tags[data.key] = t
        storage.store_items(source, visibility, [d for d, _ in rows], now,
                            tag=lambda _s, items: [tags[i.key] for i in items])

    stages = ["prospecting", "qualifying", "pricing", "proposing", "negotiating", "closing", "delivering",
              "servicing"]
    store("crm", "internal", [
        (_item("c1", SEEDED.acme_internal, "Budget of 2M approved for ERP", 2),
         [("prospect", "acme", 1.0, "export"), ("stage", "qualifying", 0.9, "model")]),
        (_item("c2", SEEDED.globex_internal, "Procurement wants three bids", 3),
         [("prospect", "globex", 1.0, "export"), ("stage", "negotiating", 0.8, "model")]),
        (_item("c3", SEEDED.unowned_internal, "Leads without an account", 4), []),
    ])
    news = [(_item(f"n{i}", f"Acme news {i}: {stages[i % 8]} signal", f"Acme story number {i}", 5 + i * 9),
             [("prospect", "acme", 0.9, "alias"), ("stage", stages[i % 8], 0.7, "model")]) for i in range(24)]
    news += [
        (_item("x1", SEEDED.acme_external, "Acme expands manufacturing", 1),
         [("prospect", "acme", 1.0, "alias"), ("stage", "prospecting", 0.9, "model")]),
        (_item("d1", SEEDED.duplicate, "ERP deal signed", 1, dedupe="erp-deal"),
         [("prospect", "acme", 1.0, "alias"), ("stage", "closing", 0.9, "model")]),
        (_item("g1", "Globex hires a new CIO", "Globex leadership change", 2),
         [("prospect", "globex", 1.0, "alias"), ("stage", "proposing", 0.8, "model")]),
        (_item("h1", HOSTILE_TITLE, "hostile <script>alert(7)</script>", 0.5, html=HOSTILE_HTML,
               link="javascript:alert(8)"),
         [("prospect", "acme", 1.0, "alias"), ("stage", "pricing", 0.9, "model")]),
    ]
    store("news", "external", news)
    store("wire", "external", [
        (_item("w1", SEEDED.duplicate + " (wire)", "ERP deal signed", 1.2, dedupe="erp-deal"),
         [("prospect", "acme", 1.0, "alias"), ("stage", "closing", 0.9, "model")]),
    ])
    hashed = _password_hash()
    for name, (role, rep) in USERS.items():
        user = storage.upsert_user(name, hashed, role, rep, now)
        assert user.id is not None
        storage.set_user_api_token_hash(user.id, hash_api_token(token_of(name)))




@lru_cache(maxsize=1)
def _password_hash() -> str:
    return hash_password(PASSWORD)


def write_config(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(CONFIG.format(db=folder / "funnelfeed.db"), encoding="utf-8")
    return path


def make_world(template: Path, folder: Path) -> Runtime:
    """A copy of the seeded template database under ``folder``, opened as a runtime."""
    path = write_config(folder)
    shutil.copy(template / "funnelfeed.db", folder / "funnelfeed.db")
    return open_runtime(path)


def build_template(folder: Path) -> Path:
    runtime = open_runtime(write_config(folder))
    try:
        seed(runtime)
    finally:
        runtime.close()
    for suffix in ("-wal", "-shm"):
        extra = folder / f"funnelfeed.db{suffix}"
        if extra.exists():
            extra.unlink()
    return folder


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the CSRF token of the new session."""
    page = client.get("/login")
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": csrf_from(page.text), "next": "/"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_from(client.get("/").text)
