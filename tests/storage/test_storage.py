"""Storage against both real databases: upsert, identity, grouping, tags, leases."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from sqlalchemy import DateTime

from aggregator.pipeline import Pipeline
from aggregator.runtime import open_runtime
from aggregator.storage import StoreCounts, StoreRequest, Tag, aware, open_storage
from aggregator.types import ItemData, SourceSpec

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def spec(ident: str, visibility: Literal["external", "internal"] = "external") -> SourceSpec:
    return SourceSpec(id=ident, url=f"https://{ident}.example/feed", kind="feed", visibility=visibility,
                      every=timedelta(hours=1))


def item(key: str, title: str = "Acme wins contract", body: str = "body", dedupe: str = "") -> ItemData:
    return ItemData(key=key, title=title, link=f"https://x.example/{key}", content_html=f"<p>{body}</p>",
                    text=body, content_hash=f"{title}|{body}", dedupe_key=dedupe or key)


def test_upsert_counts_new_updated_unchanged(db_url: str) -> None:
    storage = open_storage(db_url)
    storage.sync_sources([spec("a")], NOW)
    assert storage.store_items("a", "external", [item("1"), item("2")], NOW).new == 2
    counts = storage.store_items("a", "external", [item("1"), item("2", body="changed"), item("3")], NOW)
    assert (counts.new, counts.updated, counts.unchanged) == (1, 1, 1)
    assert storage.count_items() == 3
    # An item that drops out of the feed is kept.
    storage.store_items("a", "external", [item("3")], NOW)
    assert storage.count_items() == 3
    storage.close()


def test_same_story_from_two_sources_is_grouped(db_url: str) -> None:
    storage = open_storage(db_url)
    storage.sync_sources([spec("a"), spec("b")], NOW)
    storage.store_items("a", "external", [item("x", dedupe="acme-wins")], NOW)
    storage.store_items("b", "external", [item("y", dedupe="acme-wins"), item("z")], NOW)
    rows = {r.key: r for r in (storage.item(i) for i in (1, 2, 3)) if r}
    assert rows["x"].group_id == rows["y"].group_id == rows["x"].id
    assert rows["z"].group_id == rows["z"].id
    storage.close()


def test_groups_follow_an_item_whose_story_changes(db_url: str) -> None:
    """A story's group is its first item: when an updated item changes story, both groups stay whole."""
    storage = open_storage(db_url)
    storage.sync_sources([spec("a"), spec("b"), spec("c"), spec("d")], NOW)
    storage.store_items("a", "external", [item("leader", dedupe="merger")], NOW)  # id 1
    storage.store_items("b", "external", [item("follower", dedupe="merger")], NOW)  # id 2
    storage.store_items("c", "external", [item("other", dedupe="layoffs")], NOW)  # id 3
    storage.store_items("d", "external", [item("late", dedupe="layoffs")], NOW)  # id 4

    def groups() -> dict[str, int | None]:
        return {r.key: r.group_id for r in (storage.item(i) for i in range(1, 5)) if r}

    assert groups() == {"leader": 1, "follower": 1, "other": 3, "late": 3}
    # The leader turns out to be the layoffs story: it joins (and, being older, leads) that group,
    # and the item it led becomes the first of the merger story.
    storage.store_items("a", "external", [item("leader", body="edited", dedupe="layoffs")], NOW)
    assert groups() == {"leader": 1, "follower": 2, "other": 1, "late": 1}
    storage.close()


def test_a_source_made_internal_takes_its_stored_items_along(db_url: str) -> None:
    """Reclassifying a source internal makes what it already stored internal; never the other way."""
    storage = open_storage(db_url)
    storage.sync_sources([spec("crm"), spec("news")], NOW)
    storage.store_items("crm", "external", [item("1")], NOW)
    storage.store_items("news", "external", [item("2")], NOW)
    storage.sync_sources([spec("crm", "internal"), spec("news")], NOW)
    assert [(r.source_id, r.visibility) for r in (storage.item(i) for i in (1, 2)) if r] == [
        ("crm", "internal"), ("news", "external")]
    storage.sync_sources([spec("crm"), spec("news")], NOW)  # back to external: stored items stay internal
    row = storage.item(1)
    assert row is not None and row.visibility == "internal"
    storage.close()


def test_a_fetch_of_an_address_config_yaml_no_longer_has_records_nothing(db_url: str) -> None:
    """Support fixes a failing source's URL while a fetch of the old one runs: its failure must not
    undo the fix (backoff, failures), and the source is free to fetch at its new address at once."""
    storage = open_storage(db_url)
    old = spec("crm")
    storage.sync_sources([old], NOW)
    storage.record_attempt("crm", now=NOW, status="error", http_status=None, error="timed out",
                           next_due=NOW + timedelta(minutes=2), url=old.url)
    assert storage.claim("worker", NOW, timedelta(minutes=2), ["crm"]) == ["crm"]
    fixed = SourceSpec(id="crm", url="https://crm.example/export.csv", kind="feed", visibility="external",
                       every=timedelta(hours=1))
    storage.sync_sources([fixed], NOW)
    storage.record_attempt("crm", now=NOW, status="error", http_status=None, error="timed out",
                           next_due=NOW + timedelta(hours=4), url=old.url)  # the old fetch ends late
    row = storage.source("crm")
    assert row is not None
    assert (row.consecutive_failures, aware(row.next_due), row.lease_owner) == (1, NOW, None)
    storage.record_attempt("crm", now=NOW, status="ok", http_status=200, error=None, next_due=NOW, url=fixed.url)
    row = storage.source("crm")
    assert row is not None and row.consecutive_failures == 0 and row.last_error is None
    storage.close()


def test_tags_replaced_on_update_but_corrections_win(db_url: str) -> None:
    storage = open_storage(db_url)
    storage.sync_sources([spec("a")], NOW)

    def tagger(stage: str):  # type: ignore[no-untyped-def]
        return lambda _sid, items: [[("stage", stage, 0.9, "model"), ("prospect", "acme", 1.0, "alias")]
                                    for _ in items]

    storage.store_items("a", "external", [item("1")], NOW, tagger("pricing"))
    storage.correct_tags(1, "stage", ["closing"], None, NOW)
    storage.store_items("a", "external", [item("1", body="new text")], NOW, tagger("delivering"))
    tags = {(t.kind, t.value, t.origin) for t in storage.tags_for([1])[1]}
    assert tags == {("stage", "closing", "correction"), ("prospect", "acme", "alias")}
    assert len(storage.corrections()) == 1
    storage.close()


def test_a_batch_stores_several_sources_in_one_transaction(db_url: str) -> None:
    storage = open_storage(db_url)
    storage.sync_sources([spec("a"), spec("b"), spec("c")], NOW)
    storage.store_items("a", "external", [item("1"), item("2")], NOW)

    def tag(_sid: str, items: Sequence[ItemData]) -> list[list[Tag]]:
        return [[("stage", "pricing", 0.8, "model")] for _ in items]

    counts = storage.store_batch([
        StoreRequest("a", "external", [item("1"), item("2", body="changed"), item("3", dedupe="story")], NOW, tag),
        StoreRequest("b", "internal", [], NOW, tag),
        StoreRequest("c", "internal", [item("1", dedupe="story"), item("1", dedupe="story")], NOW, tag),
    ])
    assert [(c.new, c.updated, c.unchanged) for c in counts] == [(1, 1, 1), (0, 0, 0), (1, 0, 0)]
    assert storage.count_items() == 4
    rows = {(r.source_id, r.key): r for r in (storage.item(i) for i in range(1, 5)) if r}
    assert rows[("c", "1")].visibility == "internal"
    assert rows[("c", "1")].group_id == rows[("a", "3")].group_id == rows[("a", "3")].id  # one story
    assert rows[("a", "2")].text == "changed"
    tagged = storage.tags_for([r.id for r in rows.values() if r.id is not None])
    assert {i for i, tags in tagged.items() if tags} == {rows[k].id for k in (("a", "2"), ("a", "3"), ("c", "1"))}
    assert {s.id: s.items_stored for s in storage.sources(["a", "b", "c"])} == {"a": 3, "b": 0, "c": 1}
    storage.close()


def test_one_bad_source_in_a_store_batch_keeps_the_others(tmp_path: Path) -> None:
    """Sources that finish together share a transaction; if it fails, each is retried alone."""
    config = tmp_path / "config.yaml"
    config.write_text(f"database: sqlite:///{tmp_path / 'db.sqlite'}\nsources:\n" + "".join(
        f"  - {{id: {name}, url: 'https://{name}.example/feed', kind: feed, visibility: external}}\n"
        for name in ("good", "bad", "fine")))
    runtime = open_runtime(config)

    def tag(source_id: str, items: Sequence[ItemData]) -> list[list[Tag]]:
        if source_id == "bad":
            raise RuntimeError("a broken tagger for this source")
        return [[] for _ in items]

    async def store_together() -> list[StoreCounts | BaseException]:
        pipeline = Pipeline(runtime, parse_workers=0, tag_workers=0)
        requests = [StoreRequest(name, "external", [item(name)], NOW, tag) for name in ("good", "bad", "fine")]
        results = await asyncio.gather(*(pipeline._store(r) for r in requests), return_exceptions=True)
        await pipeline.aclose()
        return results

    good, bad, fine = asyncio.run(store_together())
    assert isinstance(bad, RuntimeError)
    assert (getattr(good, "new", None), getattr(fine, "new", None)) == (1, 1)
    assert runtime.storage.count_items() == 2
    runtime.close()


def test_claim_due_leases_each_source_once(db_url: str) -> None:
    storage = open_storage(db_url)
    storage.sync_sources([spec(f"s{i}") for i in range(10)], NOW)
    first = storage.claim_due("w1", NOW, timedelta(minutes=5), 6)
    second = storage.claim_due("w2", NOW, timedelta(minutes=5), 6)
    assert len(first) == 6 and len(second) == 4 and not set(first) & set(second)
    assert storage.claim_due("w3", NOW, timedelta(minutes=5), 6) == []
    # A dead worker's lease expires and the source becomes claimable again.
    later = storage.claim_due("w3", NOW + timedelta(minutes=6), timedelta(minutes=5), 20)
    assert len(later) == 10
    storage.close()


def test_record_attempt_keeps_health(db_url: str) -> None:
    storage = open_storage(db_url)
    storage.sync_sources([spec("a")], NOW)
    storage.record_attempt("a", now=NOW, status="error", http_status=500, error="HTTP 500",
                           next_due=NOW + timedelta(minutes=2))
    storage.record_attempt("a", now=NOW, status="error", http_status=500, error="HTTP 500",
                           next_due=NOW + timedelta(minutes=4))
    row = storage.source("a")
    assert row is not None and row.consecutive_failures == 2 and row.last_error == "HTTP 500"
    storage.record_attempt("a", now=NOW, status="ok", http_status=200, error=None,
                           next_due=NOW + timedelta(hours=1), etag='"v1"')
    row = storage.source("a")
    assert row is not None and row.consecutive_failures == 0 and row.etag == '"v1"'
    storage.close()


def test_removed_source_keeps_items(db_url: str) -> None:
    storage = open_storage(db_url)
    storage.sync_sources([spec("a"), spec("b")], NOW)
    storage.store_items("a", "external", [item("1")], NOW)
    storage.sync_sources([spec("b")], NOW)
    assert [s.id for s in storage.sources()] == ["b"]
    assert storage.count_items() == 1
    storage.close()


def test_migrations_are_idempotent(db_url: str) -> None:
    open_storage(db_url).close()
    storage = open_storage(db_url)  # second start: nothing to do, nothing lost
    storage.sync_sources([spec("a")], NOW)
    storage.close()


def test_host_budget_is_shared(db_url: str) -> None:
    first, second = open_storage(db_url), open_storage(db_url)  # two "workers"
    taken = [s.take_host_slot("news.example", NOW, 5) for s in (first, second) * 4]
    assert taken.count(True) == 5
    assert first.take_host_slot("news.example", NOW + timedelta(minutes=1), 5)
    first.close()
    second.close()


def test_a_large_batch_groups_tags_and_updates_like_one_source_at_a_time(db_url: str) -> None:
    """Over 500 items (several lookup, grouping and tag chunks) from sources sharing stories;
    an update without a date keeps the stored one, with a date replaces it."""
    storage = open_storage(db_url)
    sources = ["a", "b", "c"]
    storage.sync_sources([spec(s) for s in sources], NOW)

    def dated(key: str, title: str, story: int, when: datetime | None) -> ItemData:
        return ItemData(key=key, title=title, link=None, content_html="<p>x</p>", text="x", published=when,
                        updated=when, author="A. Writer", content_hash=f"{title}|x",
                        dedupe_key="" if story % 7 == 0 else f"story-{story}")

    def tag(source_id: str, items: Sequence[ItemData]) -> list[list[Tag]]:
        return [[("stage", "pricing", 0.5, "model"), ("prospect", source_id, 0.9, "model"),
                 ("stage", "pricing", 0.6, "model")] for _ in items]  # a repeated tag is stored once

    first = NOW - timedelta(days=1, microseconds=7)
    batch = [StoreRequest(s, "external", [dated(f"{s}{n}", f"t{n}", n % 300, first if n % 2 else None)
                                          for n in range(250)], NOW, tag) for s in sources]
    assert [(c.new, c.updated) for c in storage.store_batch(batch)] == [(250, 0)] * 3
    later = NOW + timedelta(hours=1)
    again = [StoreRequest(s, "external", [dated(f"{s}{n}", f"t{n} (v2)" if n < 200 else f"t{n}", n % 300,
                                                later if n % 4 == 1 else None) for n in range(250)], later, tag)
             for s in sources]
    assert [(c.new, c.updated, c.unchanged) for c in storage.store_batch(again)] == [(0, 200, 50)] * 3
    rows = [r for r in (storage.item(i) for i in range(1, 751)) if r]
    assert len(rows) == 750
    first_of: dict[str, int] = {}
    for row in rows:
        assert row.id is not None
        first_of.setdefault(row.dedupe_key, row.id)
        n = int(row.key[1:])
        published = later if n < 200 and n % 4 == 1 else (first if n % 2 else NOW)
        assert aware(row.published) == published, row.key
        assert aware(row.last_changed) == (later if n < 200 else NOW)
        assert aware(row.first_seen) == NOW
    assert all(r.group_id == (r.id if r.dedupe_key == "" else first_of[r.dedupe_key]) for r in rows)
    tags = storage.tags_for([r.id for r in rows if r.id is not None])
    assert all({(t.kind, t.value, t.score) for t in tags[r.id]} == {("stage", "pricing", 0.5),
                                                                     ("prospect", r.source_id, 0.9)}
               for r in rows if r.id is not None)
    assert {s.id: s.items_stored for s in storage.sources(sources)} == {s: 250 for s in sources}
    storage.close()


def test_sqlite_dates_are_stored_in_sqlalchemy_form(sqlite_url: str) -> None:
    """Items are written to the driver directly; the stored text must be what SQLAlchemy writes."""
    storage = open_storage(sqlite_url)
    storage.sync_sources([spec("a")], NOW)
    when = datetime(999, 2, 3, 4, 5, 6, 7, tzinfo=UTC)
    storage.store_items("a", "external", [ItemData(key="k", title="t", link=None, content_html="", text="",
                                                   published=when, updated=None)], NOW)
    with storage.engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT published, updated, first_seen, last_changed FROM items").one()
    process = DateTime(timezone=True).dialect_impl(storage.engine.dialect).bind_processor(storage.engine.dialect)
    assert process is not None
    assert tuple(raw) == (process(when), None, process(NOW), process(NOW)) == (
        "0999-02-03 04:05:06.000007", None, "2026-11-01 12:00:00.000000", "2026-11-01 12:00:00.000000")
    storage.close()


def test_retag_replaces_machine_tags_but_not_corrections(db_url: str) -> None:
    storage = open_storage(db_url)
    storage.sync_sources([spec("a")], NOW)
    storage.store_items("a", "external", [item("1"), item("2")], NOW,
                        lambda _sid, items: [[("stage", "pricing", 0.9, "model")] for _ in items])
    storage.correct_tags(1, "stage", ["closing"], None, NOW)
    assert storage.retag(lambda _sid, items: [[("stage", "delivering", 0.8, "model"),
                                               ("prospect", "acme", 1.0, "alias")] for _ in items]) == 2
    tags = {i: {(t.kind, t.value, t.origin) for t in ts} for i, ts in storage.tags_for([1, 2]).items()}
    assert tags == {1: {("stage", "closing", "correction"), ("prospect", "acme", "alias")},
                    2: {("stage", "delivering", "model"), ("prospect", "acme", "alias")}}
    storage.close()
