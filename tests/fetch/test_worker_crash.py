"""A parsing or tagging process that dies (the OOM killer, a crash in a C parser) never stops fetching.

`serve` runs for months: a pool broken once must not fail every later source.
These tests kill real worker processes with SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

from aggregator.fetch import Fetcher
from aggregator.pipeline import Pipeline
from aggregator.runtime import open_runtime
from tests.fetch.support import settings, spec
from tests.helpers import feed_server


def _kill(pool: ProcessPoolExecutor | None) -> int:
    """SIGKILL every process of ``pool``; how many were killed."""
    processes = list((pool._processes or {}).values()) if pool is not None else []  # type: ignore[attr-defined]
    pids = [process.pid for process in processes if process.pid is not None]
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(pids)


@contextmanager
def killing(fetcher: Fetcher) -> Iterator[None]:
    """Kill the fetcher's parsing processes over and over, as they start, until the block ends."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(0.005):
            _kill(fetcher._pool)

    assert _kill(fetcher._pool)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_parsing_goes_on_after_its_processes_are_killed() -> None:
    async def scenario(base: str) -> list[tuple[str, str | None]]:
        async with Fetcher(settings(deadline=30), parse_workers=2) as fetcher:
            fetcher.start_workers()
            first = await fetcher.fetch(spec(base + "/feed/a.xml"), etag=None, last_modified=None)
            assert _kill(fetcher._pool) == 2
            await asyncio.sleep(0.2)
            later = await asyncio.gather(*(fetcher.fetch(spec(f"{base}/feed/{name}.xml"), etag=None,
                                                          last_modified=None) for name in ("b", "c", "d")))
            return [(r.status, r.error) for r in (first, *later)]

    with feed_server().running() as server:
        assert asyncio.run(scenario(server.base)) == [("ok", None)] * 4


def test_a_document_that_kills_its_parser_twice_is_an_error_for_that_source_only() -> None:
    async def scenario(base: str) -> tuple[str | None, str]:
        async with Fetcher(settings(deadline=30), parse_workers=1) as fetcher:
            fetcher.start_workers()
            with killing(fetcher):
                doomed = await fetcher.fetch(spec(base + "/feed/doomed.xml"), etag=None, last_modified=None)
            after = await fetcher.fetch(spec(base + "/feed/fine.xml"), etag=None, last_modified=None)
            return doomed.error, after.status

    with feed_server().running() as server:
        error, after = asyncio.run(scenario(server.base))
    assert error and error.startswith("the parsing process died on this document twice")
    assert after == "ok"


def test_tagging_goes_on_in_a_new_pool_after_its_processes_are_killed(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    with feed_server().running() as server:
        config.write_text(
            f"database: sqlite:///{tmp_path / 'db.sqlite'}\nfetch: {{allow_networks: [127.0.0.1/32]}}\nsources:\n"
            + "".join(f"  - {{id: {name}, url: '{server.base}/feed/{name}.xml', kind: feed, visibility: external}}\n"
                      for name in ("a", "b", "c")))
        runtime = open_runtime(config)

        async def scenario() -> None:
            pipeline = Pipeline(runtime, parse_workers=0, tag_workers=1)
            try:
                [a, b, c] = runtime.holder.sources
                assert (await pipeline.run_source(a, None)).new == 3
                first = pipeline.tag_pool()
                assert first is not None and _kill(first._pool) == 1
                await asyncio.sleep(0.2)
                assert (await pipeline.run_source(b, None)).new == 3  # tagged in-process meanwhile
                assert first.broken
                assert (await pipeline.run_source(c, None)).new == 3
                second = pipeline.tag_pool()
                assert second is not None and second is not first and second.batches_sent == 1
            finally:
                await pipeline.aclose()

        try:
            asyncio.run(scenario())
            assert runtime.storage.count_items() == 9
        finally:
            runtime.close()
