"""An edit of `fetch:` in config.yaml reaches a running pipeline (serve, worker) at its next fetch."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from aggregator.pipeline import Pipeline
from aggregator.runtime import Runtime, open_runtime
from tests.helpers import CountingServer, feed_server, rss


def _write(config: Path, db: Path, base: str, fetch: str) -> None:
    config.write_text(
        f"database: sqlite:///{db}\n"
        f"fetch:\n{fetch}"
        "sources:\n"
        f"  - {{id: one, url: '{base}/feed/one.xml', kind: feed, visibility: external}}\n"
        f"  - {{id: two, url: '{base}/feed/two.xml', kind: feed, visibility: external}}\n"
    )


def _edit(runtime: Runtime, config: Path, db: Path, base: str, fetch: str) -> None:
    _write(config, db, base, fetch)
    assert runtime.holder.reload().ok


async def _run(pipeline: Pipeline, runtime: Runtime, *ids: str) -> dict[str, tuple[str, str | None]]:
    specs = [s for s in runtime.holder.sources if s.id in ids]
    return {o.source: (o.status, o.error) for o in await pipeline.run_pass(specs)}


def test_allowing_a_network_and_changing_the_contact_take_effect_without_a_restart(tmp_path: Path) -> None:
    agents: list[str] = []

    def respond(path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        agents.append(headers.get("User-Agent", ""))
        return 200, {"Content-Type": "application/rss+xml"}, rss(path.rsplit("/", 1)[-1].removesuffix(".xml"))

    server = CountingServer(respond)
    config, db = tmp_path / "config.yaml", tmp_path / "db.sqlite"
    with server.running():
        _write(config, db, server.base, "  contact: first@example.com\n")
        runtime = open_runtime(config)

        async def scenario() -> None:
            pipeline = Pipeline(runtime, parse_workers=0, tag_workers=0)
            try:
                status, error = (await _run(pipeline, runtime, "one"))["one"]
                assert status == "error" and error and "127.0.0.1" in error and not agents  # loopback refused
                _edit(runtime, config, db, server.base,
                      "  contact: second@example.com\n  allow_networks: [127.0.0.1/32]\n")
                assert await _run(pipeline, runtime, "one") == {"one": ("ok", None)}
            finally:
                await pipeline.aclose()

        try:
            asyncio.run(scenario())
            assert agents and all("second@example.com" in agent for agent in agents)
            assert runtime.storage.count_items() == 3
        finally:
            runtime.close()


def test_a_fetch_running_during_the_edit_finishes_and_its_fetcher_is_closed_after(tmp_path: Path) -> None:
    started, release = threading.Event(), threading.Event()

    def respond(path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if "one" in path:
            started.set()
            release.wait(10)
        return 200, {"Content-Type": "application/rss+xml"}, rss(path.rsplit("/", 1)[-1].removesuffix(".xml"))

    server = CountingServer(respond)
    config, db = tmp_path / "config.yaml", tmp_path / "db.sqlite"
    with server.running():
        _write(config, db, server.base, "  allow_networks: [127.0.0.1/32]\n  timeout: 5s\n")
        runtime = open_runtime(config)
        specs = {s.id: s for s in runtime.holder.sources}

        async def scenario() -> None:
            pipeline = Pipeline(runtime, parse_workers=0, tag_workers=0)
            first_fetcher = pipeline.fetcher
            try:
                slow = asyncio.create_task(pipeline.run_source(specs["one"], None))
                await asyncio.to_thread(started.wait, 10)
                _edit(runtime, config, db, server.base, "  allow_networks: [127.0.0.1/32]\n  timeout: 6s\n")
                quick = await pipeline.run_source(specs["two"], None)
                assert quick.status == "ok"
                assert pipeline.fetcher is not first_fetcher and pipeline.fetchers.retired == [first_fetcher]
                assert not first_fetcher._client.is_closed  # "one" still runs on it
                release.set()
                assert (await slow).status == "ok"
                assert pipeline.fetchers.retired == [] and first_fetcher._client.is_closed
            finally:
                release.set()
                await pipeline.aclose()

        try:
            asyncio.run(scenario())
            assert runtime.storage.count_items() == 6
        finally:
            runtime.close()


def test_a_reload_keeps_each_hosts_request_budget(tmp_path: Path) -> None:
    """A new Fetcher after an edit must not hand every host a fresh budget (politeness)."""
    server = feed_server()
    config, db = tmp_path / "config.yaml", tmp_path / "db.sqlite"
    fetch = "  allow_networks: [127.0.0.1/32]\n  per_host_per_minute: 1\n"
    with server.running():
        _write(config, db, server.base, fetch + "  contact: first@example.com\n")
        runtime = open_runtime(config)

        async def scenario() -> None:
            pipeline = Pipeline(runtime, parse_workers=0, tag_workers=0)
            try:
                assert await _run(pipeline, runtime, "one") == {"one": ("ok", None)}
                _edit(runtime, config, db, server.base, fetch + "  contact: second@example.com\n")
                assert await _run(pipeline, runtime, "two") == {"two": ("deferred", None)}
                _edit(runtime, config, db, server.base,
                      "  allow_networks: [127.0.0.1/32]\n  per_host_per_minute: 5\n")
                assert await _run(pipeline, runtime, "two") == {"two": ("ok", None)}  # a new limit, a new budget
            finally:
                await pipeline.aclose()

        try:
            asyncio.run(scenario())
        finally:
            runtime.close()


def test_the_dispatcher_follows_an_edit_of_concurrency_and_deadline(tmp_path: Path) -> None:
    """serve/worker keep twice fetch.concurrency in flight, on leases that outlive the fetch deadline."""
    from datetime import timedelta

    from aggregator.service import Dispatcher

    config, db = tmp_path / "config.yaml", tmp_path / "db.sqlite"
    _write(config, db, "http://127.0.0.1:9", "  concurrency: 4\n  deadline: 10s\n")
    runtime = open_runtime(config)
    try:
        dispatcher = Dispatcher(runtime)
        assert (dispatcher.capacity, dispatcher.lease) == (8, timedelta(seconds=25))
        _edit(runtime, config, db, "http://127.0.0.1:9", "  concurrency: 2\n  deadline: 30s\n")
        assert (dispatcher.capacity, dispatcher.lease) == (4, timedelta(seconds=65))
    finally:
        runtime.close()
