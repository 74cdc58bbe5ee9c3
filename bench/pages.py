"""Latency of a prospect page and of the items API at 100,000 stored items (SQLite file).

    .venv/bin/python bench/pages.py [--items 100000] [--requests 100] [--dir bench/results/pages]

Generates items, tags, sources, reps and users straight into a SQLite file (bulk
inserts, no fetching), then times requests through the real ASGI app in-process
(``fastapi.testclient``: routing, dependencies, entitlements, SQL, templates; no
network). Prints p50/p99 per scenario, as a rep (entitlement SQL applied) and as
a manager (no entitlement filter); prospect pages twice: with the 30 s aggregate
cache (stage counts, chart) and "[cold]", recomputing them on every request.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient
from sqlalchemy import insert

from aggregator.config.schema import STAGES
from aggregator.runtime import open_runtime
from aggregator.storage import ItemRow, TagRow, utcnow
from web.app import create_app
from web.security import hash_api_token, hash_password

PROSPECTS = [f"p{i:02d}" for i in range(20)]
PASSWORD = "bench password"


def write_config(folder: Path) -> Path:
    lines = [f"database: sqlite:///{folder / 'bench.db'}", "web: {session_secret_env: FUNNELFEED_BENCH_SECRET}",
             "prospects:"]
    lines += [f"  - {{id: {p}, name: Prospect {p.upper()}, aliases: [{p.upper()} Corp]}}" for p in PROSPECTS]
    lines.append("sources:")
    for i in range(40):
        vis = "internal" if i % 8 == 0 else "external"
        lines.append(f"  - {{id: s{i:02d}, url: 'http://127.0.0.1:9/{i}.rss', kind: feed, visibility: {vis}}}")
    lines += ["reps:", "  - id: rep1", "    name: Rep One", "    accounts:",
              "      - {prospect: p00, stage: pricing}", "      - {prospect: p01, stage: closing}"]
    path = folder / "config.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def generate(folder: Path, n_items: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    runtime = open_runtime(write_config(folder))
    storage, now = runtime.storage, utcnow()
    words = ["ERP", "rollout", "contract", "outage", "renewal", "budget", "hiring", "tender", "procurement",
             "pricing", "partnership", "expansion", "funding", "launch", "compliance", "migration",
             "acquisition", "reorganisation"]
    weights = [1 / (i + 1) for i in range(len(PROSPECTS))]  # a few big accounts, a long tail
    items, tags = [], []
    for i in range(1, n_items + 1):
        source = f"s{rng.randrange(40):02d}"
        visibility = "internal" if int(source[1:]) % 8 == 0 else "external"
        title = " ".join(rng.choice(words) for _ in range(7)).capitalize() + f" #{i}"
        text = " ".join(rng.choice(words) for _ in range(60))
        published = now - timedelta(minutes=rng.randrange(60 * 24 * 730))
        items.append({"id": i, "source_id": source, "key": f"k{i}", "visibility": visibility, "title": title,
                      "link": f"https://news.example/{i}", "content_html": f"<p>{text}</p>", "text": text,
                      "published": published, "first_seen": published, "last_changed": published,
                      "content_hash": str(i), "dedupe_key": f"d{i // 3 if i % 10 == 0 else i}",
                      "group_id": i})
        prospects = set(rng.choices(PROSPECTS, weights, k=1 if rng.random() < 0.85 else 2))
        origin = "source" if visibility == "internal" else "alias"
        tags += [{"item_id": i, "kind": "prospect", "value": p, "score": 0.9, "origin": origin} for p in prospects]
        stages = set(rng.sample(STAGES, 1 if rng.random() < 0.7 else 2)) if rng.random() < 0.9 else set()
        tags += [{"item_id": i, "kind": "stage", "value": s, "score": rng.random(), "origin": "model"}
                 for s in stages]
    with storage.engine.begin() as conn:
        for start in range(0, len(items), 5000):
            conn.execute(insert(ItemRow.__table__), items[start:start + 5000])  # type: ignore[attr-defined]
        for start in range(0, len(tags), 5000):
            conn.execute(insert(TagRow.__table__), tags[start:start + 5000])  # type: ignore[attr-defined]
    hashed = hash_password(PASSWORD)
    for name, role, rep in (("manager", "manager", None), ("rep", "rep", "rep1")):
        user = storage.upsert_user(name, hashed, role, rep, now)
        assert user.id is not None
        storage.set_user_api_token_hash(user.id, hash_api_token(f"bench-token-{name}"))
    with storage.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    runtime.close()


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(client: TestClient, path: str, n: int, headers: dict[str, str] | None = None) -> tuple[float, float]:
    for _ in range(3):  # warm-up
        assert client.get(path, headers=headers).status_code == 200, path
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(path, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(samples), percentile(samples, 0.99)


def sign_in(client: TestClient, user: str) -> None:
    import re

    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": token.group(1)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--dir", type=Path, default=Path("bench/results/pages"))
    args = parser.parse_args()
    os.environ.setdefault("FUNNELFEED_BENCH_SECRET", "bench")
    args.dir.mkdir(parents=True, exist_ok=True)
    for leftover in args.dir.glob("bench.db*"):
        leftover.unlink()
    start = time.perf_counter()
    generate(args.dir, args.items)
    print(f"generated {args.items} items in {time.perf_counter() - start:.1f} s ({args.dir / 'bench.db'})")
    runtime = open_runtime(args.dir / "config.yaml")
    app = create_app(runtime)
    scenarios = [
        ("manager", "prospect page, overview (largest account)", "/prospects/p00"),
        ("manager", "prospect page, stage filter", "/prospects/p00?stage=pricing"),
        ("manager", "prospect page, small account", "/prospects/p15"),
        ("rep", "prospect page, overview (own account)", "/prospects/p00"),
        ("rep", "prospect page, other account (entitlement SQL)", "/prospects/p05?stage=all"),
        ("rep", "prospect page, search in account", "/prospects/p00?q=outage"),
    ]
    api = [
        ("manager", "items API, newest 50", "/api/items"),
        ("manager", "items API, prospect + stage", "/api/items?prospect=p00&stage=closing"),
        ("rep", "items API, newest 50 (entitlement SQL)", "/api/items"),
        ("rep", "items API, prospect, page 20", "/api/items?prospect=p02&page=20"),
    ]
    print(f"\n{'who':8} {'scenario':50} {'p50 ms':>8} {'p99 ms':>8}")
    with TestClient(app) as manager, TestClient(app) as rep:
        clients = {"manager": manager, "rep": rep}
        sign_in(manager, "manager")
        sign_in(rep, "rep")
        for ttl, note in ((30.0, ""), (0.0, " [cold]")):
            app.state.aggregates.ttl = ttl  # 0: account counts and chart recomputed on every request
            for who, label, path in scenarios:
                p50, p99 = measure(clients[who], path, args.requests)
                print(f"{who:8} {label + note:50} {p50:8.1f} {p99:8.1f}")
        for who, label, path in api:
            headers = {"Authorization": f"Bearer bench-token-{who}"}
            p50, p99 = measure(clients[who], path, args.requests, headers)
            print(f"{who:8} {label:50} {p50:8.1f} {p99:8.1f}")
    runtime.close()


if __name__ == "__main__":
    main()
