"""The tagging process pool: merged batches give every source exactly its own tags."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from aggregator.config import load_config_text
from aggregator.tagging import ItemTagger
from aggregator.tagpool import TagPool
from aggregator.types import ItemData, SourceSpec

CONFIG = """
database: sqlite:///{db}
classifier: {{model_path: '{model}'}}
prospects:
  - {{id: acme, name: Acme Robotics, aliases: [Acme], domains: [acme.example]}}
  - {{id: globex, name: Globex Corporation, aliases: [Globex]}}
sources: []
"""

HEADLINES = [
    "Acme Robotics wins a five-year maintenance contract",
    "Globex Corporation cuts prices on its cloud plans",
    "Acme signs a distribution deal with Globex",
    "Weather: a sunny weekend ahead",
    "Globex opens a support centre in Lyon",
]


def _items(source: int, count: int) -> list[ItemData]:
    return [
        ItemData(key=f"{source}-{n}", title=HEADLINES[(source + n) % len(HEADLINES)], link=None,
                 content_html="", text=f"Story {n} from source {source}. {HEADLINES[n % len(HEADLINES)]}")
        for n in range(count)
    ]


def _spec(source: int) -> SourceSpec:
    prospects = ("acme",) if source % 3 == 0 else ()
    return SourceSpec(id=f"s{source}", url=f"https://news.example/{source}", kind="feed", visibility="external",
                      every=timedelta(hours=1), prospects=prospects)


def test_merged_batches_return_each_source_its_own_tags(tmp_path: Path) -> None:
    config = load_config_text(CONFIG.format(db=tmp_path / "ff.db", model=tmp_path / "model.pkl"))
    here = ItemTagger(config)  # builds and caches the seed model the pool's process will load
    sources = [(_spec(n), _items(n, 1 + n % 7)) for n in range(40)]
    expected = [here.tag(spec, items) for spec, items in sources]

    pool = TagPool(config, 1, model_mtime=None)
    try:
        pool.warm_up()

        async def tag_all() -> list[list[list[tuple[str, str, float, str]]]]:
            return list(await asyncio.gather(*(pool.tag(spec, items) for spec, items in sources)))

        got = asyncio.run(tag_all())
    finally:
        pool.close()
    assert [[sorted(t[:2] for t in tags) for tags in source] for source in got] == [
        [sorted(t[:2] for t in tags) for tags in source] for source in expected
    ]
    assert all(("prospect", "acme", 1.0, "source") in tags for tags in got[0])  # the source rule, per source
    assert not any(t[3] == "source" for tags in got[1] for t in tags)
    assert pool.batches_sent < len(sources)  # requests that waited for the busy process went together


def test_small_requests_wait_for_a_busy_process_instead_of_taking_an_idle_one(tmp_path: Path) -> None:
    """With two processes, one busy: a few waiting items are not sent alone to the other one."""
    config = load_config_text(CONFIG.format(db=tmp_path / "ff.db", model=tmp_path / "model.pkl"))
    here = ItemTagger(config)
    first = (_spec(0), _items(0, 300))  # keeps one process busy
    small = [(_spec(n), _items(n, 2)) for n in range(1, 6)]  # 10 items in all, under MIN_BATCH_ITEMS
    pool = TagPool(config, 2, model_mtime=None)
    try:
        pool.warm_up()

        async def tag_all() -> list[list[list[tuple[str, str, float, str]]]]:
            busy = asyncio.ensure_future(pool.tag(*first))
            await asyncio.sleep(0)  # the big request is sent; the small ones arrive while it runs
            rest = [asyncio.ensure_future(pool.tag(spec, items)) for spec, items in small]
            return [await busy, *[await task for task in rest]]

        got = asyncio.run(tag_all())
    finally:
        pool.close()
    assert pool.batches_sent == 2  # the big request, then the five small ones together
    expected = [here.tag(spec, items) for spec, items in [first, *small]]
    assert [[sorted(t[:2] for t in tags) for tags in source] for source in got] == [
        [sorted(t[:2] for t in tags) for tags in source] for source in expected
    ]


def test_a_pass_cut_short_does_not_stall_the_next_event_loop(tmp_path: Path) -> None:
    """A pass whose loop ends with tagging still in flight leaves the pool usable by the next loop."""
    config = load_config_text(CONFIG.format(db=tmp_path / "ff.db", model=tmp_path / "model.pkl"))
    ItemTagger(config)  # the seed model, cached on disk for the pool's process
    pool = TagPool(config, 1, model_mtime=None)
    try:
        pool.warm_up()

        async def cut_short() -> None:
            tasks = [asyncio.ensure_future(pool.tag(_spec(n), _items(n, 50))) for n in range(6)]
            await asyncio.sleep(0)  # requests sent or queued, none answered yet
            for task in tasks:
                task.cancel()

        asyncio.run(cut_short())

        async def next_pass() -> list[list[tuple[str, str, float, str]]]:
            return await asyncio.wait_for(pool.tag(_spec(0), _items(0, 3)), timeout=20)

        tags = asyncio.run(next_pass())
    finally:
        pool.close()
    assert len(tags) == 3 and all(("prospect", "acme", 1.0, "source") in t for t in tags)
