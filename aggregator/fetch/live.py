"""The Fetcher for the `fetch:` settings in force, replaced when config.yaml's settings change.

`serve` and `worker` run for months while support staff edit config.yaml: a new network
allowed, a contact, timeouts, limits, a proxy or a CA bundle must apply from the next
fetch, not from the next restart. Fetches already running finish on the Fetcher they
started with, which is closed when the last of them ends.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aggregator.config.schema import FetchSettings
from aggregator.fetch.fetcher import Fetcher

log = logging.getLogger(__name__)


class LiveFetcher:
    """Hands out the Fetcher for the settings ``settings()`` returns now.

    ``parse_workers`` None follows ``fetch.cpu_workers`` of the settings in force.
    """

    def __init__(self, settings: Callable[[], FetchSettings], parse_workers: int | None = None) -> None:
        self._settings = settings
        self._parse_workers = parse_workers
        self._in_force = settings()
        self.current = self._build(self._in_force, None)
        self._running: dict[Fetcher, int] = {}  # fetches running on each Fetcher
        self.retired: list[Fetcher] = []  # replaced Fetchers whose fetches have not all ended

    def _build(self, settings: FetchSettings, previous: Fetcher | None) -> Fetcher:
        workers = settings.cpu_workers if self._parse_workers is None else self._parse_workers
        return Fetcher(settings, parse_workers=workers, previous=previous)

    def _in_force_now(self) -> Fetcher:
        settings = self._settings()
        if settings != self._in_force:
            log.info("the fetch settings in config.yaml changed; fetches from now on use them")
            previous, self._in_force = self.current, settings
            self.current = self._build(settings, previous)  # per-host budgets and robots.txt carry over
            self.retired.append(previous)
        return self.current

    @asynccontextmanager
    async def use(self) -> AsyncIterator[Fetcher]:
        """The Fetcher for one fetch; a replaced one is closed once its last fetch ends."""
        fetcher = self._in_force_now()
        self._running[fetcher] = self._running.get(fetcher, 0) + 1
        try:
            yield fetcher
        finally:
            self._running[fetcher] -= 1
            if not self._running[fetcher]:
                del self._running[fetcher]
            if self.retired:
                idle = [f for f in self.retired if f not in self._running]
                self.retired = [f for f in self.retired if f in self._running]
                for old in idle:
                    await old.aclose()

    async def aclose(self) -> None:
        retired, self.retired = self.retired, []
        for fetcher in [*retired, self.current]:
            await fetcher.aclose()
