"""One source end to end: fetch → parse → sanitise → tag → store → record health.

``run_source`` never raises for a bad source: every failure becomes a
``FetchOutcome`` with an error message, so one broken source never stops a pass.
Items are committed *before* the new ETag is stored, so a crash between the two
makes the next pass refetch rather than lose anything.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures.process import BrokenProcessPool
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from aggregator.config.schema import Config, FetchSettings
from aggregator.runtime import Runtime
from aggregator.schedule import next_due
from aggregator.storage import SourceRow, StoreCounts, StoreRequest, Tag, TagFunction
from aggregator.tagging import ItemTagger, unmatched_accounts_note
from aggregator.tagpool import TagPool
from aggregator.types import FetchOutcome, FetchResult, ItemData, SourceSpec

if TYPE_CHECKING:
    from aggregator.fetch import Fetcher

log = logging.getLogger(__name__)
STORE_BATCH = 32  # sources per transaction: enough to amortise a commit, small enough to keep it short


def _settle(future: asyncio.Future[StoreCounts], counts: list[StoreCounts] | None = None,
            exc: BaseException | None = None) -> None:
    if future.done():
        return
    if counts is not None:
        future.set_result(counts[0])
    else:
        future.set_exception(exc or RuntimeError("storing failed"))


def _watched_page_hash(spec: SourceSpec, result: FetchResult) -> str | None:
    """A page without selectors is watched as one item; its hash tells "unchanged" next time."""
    if spec.kind == "page" and spec.select is None and len(result.items) == 1:
        return result.items[0].content_hash
    return None


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


class Pipeline:
    """Runs fetch passes for a runtime with one shared Fetcher (and its politeness state)."""

    def __init__(self, runtime: Runtime, *, rng: random.Random | None = None, parse_workers: int | None = None,
                 tag_workers: int | None = None) -> None:
        from aggregator.fetch.live import LiveFetcher

        self.runtime = runtime
        # parse_workers > 0: parse and sanitise in that many processes (fetch.cpu_workers;
        # off by default: several worker processes on one host already use its cores).
        self.fetchers = LiveFetcher(lambda: runtime.config.fetch, parse_workers)
        tag_workers = runtime.config.fetch.cpu_workers if tag_workers is None else tag_workers
        self.rng = rng or random.Random()
        self._tagger: ItemTagger | None = None
        self._tagger_config: Config | None = None
        self._tagger_lock = threading.Lock()
        self._model_mtime: float | None = None
        self._store_lock = asyncio.Lock()  # SQLite has one writer; PostgreSQL doesn't mind
        # tag_workers > 0: tag new and changed items in that many processes, outside the
        # store lock, so tagging runs on every core while the database writes.
        self._tag_workers = tag_workers
        self._attempts: list[tuple[str, dict[str, Any], asyncio.Future[None]]] = []
        self._stores: list[tuple[StoreRequest, asyncio.Future[StoreCounts]]] = []
        self._store_writer: asyncio.Task[None] | None = None
        self._attempt_writer: asyncio.Task[None] | None = None
        self._tag_pool: TagPool | None = None

    @property
    def settings(self) -> FetchSettings:
        """The `fetch:` settings in force (an edit of config.yaml applies from the next fetch)."""
        return self.runtime.config.fetch

    @property
    def fetcher(self) -> Fetcher:
        """The Fetcher for the settings in force until the next change."""
        return self.fetchers.current

    async def aclose(self) -> None:
        await self.fetchers.aclose()
        if self._tag_pool is not None:
            self._tag_pool.close()

    def tag_pool(self) -> TagPool | None:
        """The process pool for the configuration and model in force (rebuilt after a change)."""
        if self._tag_workers <= 0:
            return None
        config = self.runtime.config
        model_mtime = _mtime(config.classifier.model_path)
        pool = self._tag_pool
        if pool is None or pool.config is not config or pool.model_mtime != model_mtime or pool.broken:
            self.tagger()  # builds (and caches on disk) the seed model once, in this process
            if pool is not None:
                pool.close()
            pool = self._tag_pool = TagPool(config, self._tag_workers, model_mtime)
            pool.warm_up()
        return pool

    async def _pretag(self, spec: SourceSpec, items: Sequence[ItemData],
                      has_items: bool = True) -> dict[str, list[Tag]] | None:
        """Tags for the new and changed items, computed in the pool; None without a pool.

        ``has_items`` False (the source has never stored an item) skips asking the database.
        """
        pool = await asyncio.to_thread(self.tag_pool) if self._tag_workers > 0 else None
        if pool is None:
            return None
        stored: dict[str, tuple[str, str]] = {}
        if has_items:
            stored = await asyncio.to_thread(self.runtime.storage.stored_versions, spec.id, [i.key for i in items])
        changed = [i for i in items if stored.get(i.key) != (i.content_hash, i.title)]
        if not changed:
            return {}
        try:
            tags = await pool.tag(spec, changed)
        except BrokenProcessPool:
            log.warning("a tagging process died; tagging %s in-process, and starting new tagging processes", spec.id)
            return None
        except Exception:
            log.exception("tagging in the process pool failed for %s; tagging in-process", spec.id)
            return None
        return {item.key: item_tags for item, item_tags in zip(changed, tags, strict=True)}

    def tagger(self) -> ItemTagger | None:
        """The tagger for the configuration in force, rebuilt (once) after a reload."""
        with self._tagger_lock:  # built once, in whichever worker thread asks first
            config = self.runtime.config
            model_mtime = _mtime(config.classifier.model_path)
            if self._tagger_config is not config or model_mtime != self._model_mtime:
                # A config reload or a newly trained model (`funnelfeed train`) takes effect here.
                self._tagger_config, self._model_mtime = config, model_mtime
                self._tagger = None
                self._tagger = ItemTagger(config)
            return self._tagger

    def _tag_function(self, spec: SourceSpec, pretagged: dict[str, list[Tag]] | None = None) -> TagFunction:
        """Tags for new items; if tagging breaks, items are still stored (with the source's rule only)."""

        def tag(source_id: str, items: Sequence[ItemData]) -> list[list[Tag]]:
            if pretagged is not None and all(i.key in pretagged for i in items):
                return [pretagged[i.key] for i in items]
            return tag_here(source_id, items)

        def tag_here(_source_id: str, items: Sequence[ItemData]) -> list[list[Tag]]:
            # Runs in a worker thread (inside store_items), never on the event loop.
            try:
                tagger = self.tagger()
            except Exception:
                log.exception("the tagger cannot be built; storing items with source-rule tags only")
                tagger = None  # not retried until the configuration changes
            if tagger is not None:
                try:
                    return tagger.tag(spec, items)
                except Exception:
                    log.exception("tagging failed for %s; storing with source-rule tags only", spec.id)
            return [[("prospect", p, 1.0, "source") for p in spec.prospects] for _ in items]

        return tag

    def _notes(self, spec: SourceSpec, result: FetchResult) -> tuple[str, ...]:
        """Health notes: the fetch's own, and for an export the account names no prospect has."""
        if spec.kind != "export" or result.status != "ok":
            return result.notes
        accounts = unmatched_accounts_note(result.items, self.runtime.config.prospects)
        return (*result.notes, accounts) if accounts else result.notes

    async def run_source(self, spec: SourceSpec, state: SourceRow | Literal[False] | None = False) -> FetchOutcome:
        """Fetch, store and record one source; ``state`` may be prefetched by the caller."""
        storage, now = self.runtime.storage, self.runtime.clock()
        try:
            if state is False:
                state = await asyncio.to_thread(storage.source, spec.id)
            assert state is not False
            if await self._host_budget_allows(spec):
                result = await self._fetch(spec, state)
            else:
                result = FetchResult(spec.id, "deferred")
            counts_new = counts_updated = 0
            if result.status == "ok" and result.items:
                has_items = state is None or state.items_stored > 0  # None: not read; ask the database
                tag = self._tag_function(spec, await self._pretag(spec, result.items, has_items))
                counts = await self._store(StoreRequest(spec.id, spec.visibility, result.items, now, tag))
                counts_new, counts_updated = counts.new, counts.updated
            failures = (state.consecutive_failures if state else 0) + (result.status == "error")
            due = next_due(now, spec.every, status=result.status, consecutive_failures=failures,
                           backoff_max=self.settings.backoff_max, jitter=self.settings.jitter,
                           retry_after=result.retry_after, rng=self.rng)
            await self._record(spec.id, now=now, status=result.status, http_status=result.http_status,
                               error=result.error, next_due=due, etag=result.etag,
                               last_modified=result.last_modified, content_hash=_watched_page_hash(spec, result),
                               notes=self._notes(spec, result), url=spec.url)
            return FetchOutcome(spec.id, result.status, counts_new, counts_updated, result.error)
        except Exception as exc:  # a bug or a database hiccup for one source stays with that source
            log.exception("source %s failed unexpectedly", spec.id)
            message = f"internal error: {type(exc).__name__}: {exc}"[:500]
            try:
                due = now + timedelta(minutes=5)
                await asyncio.to_thread(storage.record_attempt, spec.id, now=now, status="error",
                                        http_status=None, error=message, next_due=due)
            except Exception:
                log.exception("cannot record the failure of %s", spec.id)
            return FetchOutcome(spec.id, "error", error=message)

    async def _store(self, request: StoreRequest) -> StoreCounts:
        """Store one source's items; sources finishing together share one transaction.

        A batch that fails is retried source by source, so one bad source's items never
        keep the others' out of the database.
        """
        future: asyncio.Future[StoreCounts] = asyncio.get_running_loop().create_future()
        self._stores.append((request, future))
        if self._store_writer is None or self._store_writer.done():
            self._store_writer = asyncio.create_task(self._write_stores())
        return await future

    async def _write_stores(self) -> None:
        storage = self.runtime.storage
        while self._stores:
            batch, self._stores = self._stores[:STORE_BATCH], self._stores[STORE_BATCH:]
            async with self._store_lock:
                try:
                    counts = await asyncio.to_thread(storage.store_batch, [request for request, _ in batch])
                except Exception as exc:
                    if len(batch) == 1:
                        _settle(batch[0][1], exc=exc)
                        continue
                    log.warning("storing %d sources together failed; storing them one by one", len(batch))
                    for request, future in batch:
                        try:
                            _settle(future, await asyncio.to_thread(storage.store_batch, [request]))
                        except Exception as exc:
                            _settle(future, exc=exc)
                    continue
            for (_, future), one in zip(batch, counts, strict=True):
                _settle(future, [one])

    async def _record(self, source_id: str, **attempt: Any) -> None:
        """Record a fetch attempt; attempts finishing together share one transaction.

        Returns once this attempt is committed, so "items before ETag" still holds.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._attempts.append((source_id, attempt, future))
        if self._attempt_writer is None or self._attempt_writer.done():
            self._attempt_writer = asyncio.create_task(self._write_attempts())
        await future

    async def _write_attempts(self) -> None:
        while self._attempts:
            batch, self._attempts = self._attempts, []
            try:
                async with self._store_lock:
                    await asyncio.to_thread(self.runtime.storage.record_attempts,
                                            [(source_id, attempt) for source_id, attempt, _ in batch])
            except Exception as exc:
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def _host_budget_allows(self, spec: SourceSpec) -> bool:
        """On PostgreSQL, the per-host request budget is shared by every worker process."""
        host = urlsplit(spec.url).hostname
        if self.runtime.storage.dialect == "sqlite" or not host:
            return True  # one process: the Fetcher's own budget is the whole truth
        return await asyncio.to_thread(self.runtime.storage.take_host_slot, host, self.runtime.clock(),
                                       self.settings.per_host_per_minute)

    async def _fetch(self, spec: SourceSpec, state: SourceRow | None) -> FetchResult:
        async with self.fetchers.use() as fetcher:
            if state is None:
                return await fetcher.fetch(spec, etag=None, last_modified=None)
            return await fetcher.fetch(spec, etag=state.etag, last_modified=state.last_modified,
                                       previous_hash=state.content_hash)

    async def run_pass(self, specs: Iterable[SourceSpec],
                       on_done: Callable[[FetchOutcome], None] | None = None) -> list[FetchOutcome]:
        """Fetch the given sources concurrently (the Fetcher enforces global and per-host limits)."""

        specs = list(specs)
        states = {row.id: row for row in await asyncio.to_thread(
            self.runtime.storage.sources, [s.id for s in specs], include_removed=True)}

        async def one(spec: SourceSpec) -> FetchOutcome:
            outcome = await self.run_source(spec, states.get(spec.id))
            if on_done:
                on_done(outcome)
            return outcome

        return list(await asyncio.gather(*(one(s) for s in specs)))

    async def run_due(self, owner: str, lease: timedelta, limit: int = 200) -> list[FetchOutcome]:
        """Claim due sources (a lease in the database) and fetch them."""
        now = self.runtime.clock()
        ids = await asyncio.to_thread(self.runtime.storage.claim_due, owner, now, lease, limit)
        specs = [s for s in (self.runtime.holder.source(i) for i in ids) if s is not None]
        for missing in set(ids) - {s.id for s in specs}:
            await asyncio.to_thread(self.runtime.storage.release, missing, owner)
        return await self.run_pass(specs)
