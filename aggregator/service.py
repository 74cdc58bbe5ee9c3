"""Long-running processes: `serve` (web + scheduler) and `worker` (fetch only).

APScheduler drives two periodic jobs: *dispatch*, which claims due sources from the
database (a lease, so several workers on PostgreSQL never take the same source)
and starts their fetches, and *reload*, which picks up edits of config.yaml.
Per-source intervals live in the database as ``next_due`` times.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import uuid
from collections.abc import Iterator
from datetime import timedelta

import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import Counter

from aggregator.errors import FunnelfeedError, StorageError
from aggregator.pipeline import Pipeline
from aggregator.runtime import Runtime
from aggregator.schedule import lease_length
from aggregator.types import FetchOutcome

log = logging.getLogger(__name__)
FETCHES = Counter("funnelfeed_fetches_total", "Fetch attempts by outcome", ["status"])
NEW_ITEMS = Counter("funnelfeed_items_new_total", "New items stored by fetches")
#: Signals that stop serve and worker cleanly (fetches drained, leases handed back): SIGHUP too,
#: which a closed terminal or `kill -HUP` sends and which would otherwise kill the process outright.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
#: Clock difference from the database server tolerated before a worker warns (leases have 5 s of slack).
CLOCK_TOLERANCE = timedelta(seconds=5)


def owner_id() -> str:
    """A name for this process in lease columns: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Dispatcher:
    """Keeps up to ``capacity`` fetches in flight, claiming due sources as room frees up."""

    def __init__(self, runtime: Runtime, *, owner: str | None = None, capacity: int | None = None) -> None:
        self.runtime = runtime
        self.pipeline = Pipeline(runtime)
        self.owner = owner or owner_id()
        self._capacity = capacity
        self.in_flight: set[asyncio.Task[FetchOutcome]] = set()
        self.completed = 0
        self.database_down = False  # the last claim found the database unreachable

    @property
    def capacity(self) -> int:
        """Fetches kept in flight: twice fetch.concurrency (read at each dispatch, so an edit applies)."""
        return self._capacity or self.runtime.config.fetch.concurrency * 2

    @property
    def lease(self) -> timedelta:
        """How long claimed sources stay leased (follows fetch.deadline across edits)."""
        return lease_length(self.runtime.config.fetch.deadline)

    async def warm_up(self) -> None:
        """Build the tagger (seconds of training on a cold cache) before fetches hold leases."""
        try:
            await asyncio.to_thread(self.pipeline.tagger)
            await asyncio.to_thread(self.pipeline.tag_pool)
            await asyncio.to_thread(self.pipeline.fetcher.start_workers)
        except Exception:
            log.exception("the tagger cannot be built; items will carry source-rule tags only")

    async def check_clock(self) -> timedelta | None:
        """Warn when this host's clock is off from the database server's (PostgreSQL only).

        Leases, due times and the shared host budget compare times written by different hosts: a
        worker whose clock runs ahead by more than the lease slack takes over sources other workers
        are still fetching, one that runs behind waits long after leases expire. Returns the offset.
        """
        try:
            database_now = await asyncio.to_thread(self.runtime.storage.database_time)
        except StorageError as exc:
            log.error("%s", exc)
            return None
        if database_now is None:
            return None
        offset = self.runtime.clock() - database_now
        if abs(offset) > CLOCK_TOLERANCE:
            log.error("this host's clock is %.0f s %s the database server's: workers on hosts whose clocks "
                      "differ fetch sources twice or late (leases and due times are compared across hosts); "
                      "synchronise the clocks (NTP)", abs(offset.total_seconds()),
                      "ahead of" if offset > timedelta(0) else "behind")
        return offset

    async def dispatch(self) -> int:
        """Claim and start what is due; returns how many fetches were started."""
        room = self.capacity - len(self.in_flight)
        if room <= 0:
            return 0
        storage, now = self.runtime.storage, self.runtime.clock()
        try:
            ids = await asyncio.to_thread(storage.claim_due, self.owner, now, self.lease, room)
        except StorageError as exc:
            # PostgreSQL restarting or out of reach: say so once (not a traceback every tick),
            # keep running, and claim again at the next tick.
            if not self.database_down:
                log.error("%s; no sources are claimed until it answers (retrying every few seconds)", exc)
            self.database_down = True
            return 0
        if self.database_down:
            log.warning("the database answers again; claiming due sources")
            self.database_down = False
        started = 0
        for source_id in ids:
            spec = self.runtime.holder.source(source_id)
            if spec is None:
                await asyncio.to_thread(storage.release, source_id, self.owner)
                continue
            task = asyncio.create_task(self.pipeline.run_source(spec), name=f"fetch {source_id}")
            self.in_flight.add(task)
            task.add_done_callback(self._done)
            started += 1
        return started

    def _done(self, task: asyncio.Task[FetchOutcome]) -> None:
        self.in_flight.discard(task)
        self.completed += 1
        if not task.cancelled() and task.exception() is None:
            outcome = task.result()
            FETCHES.labels(outcome.status).inc()
            NEW_ITEMS.inc(outcome.new)
            if outcome.status == "error":
                log.info("source %s failed: %s", outcome.source, outcome.error)

    async def drain(self, timeout: float = 10) -> None:
        """Let running fetches finish (each commits its own items) or cancel them, then hand back
        the leases still held, so other workers take those sources now, not when the leases expire."""
        pending: set[asyncio.Task[FetchOutcome]] = set()
        if self.in_flight:
            _done, pending = await asyncio.wait(self.in_flight, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2)
        try:
            released = await asyncio.to_thread(self.runtime.storage.release_owned, self.owner)
        except StorageError as exc:
            if pending:
                log.warning("stopping with %d fetches unfinished; their leases expire on their own (%s)",
                            len(pending), exc)
        else:
            if pending or released:
                log.warning("stopping: %d fetches did not finish in %.0f s; released %d sources for other "
                            "workers", len(pending), timeout, released)
        await self.pipeline.aclose()


def make_scheduler(runtime: Runtime, dispatcher: Dispatcher | None, *, tick: float = 2.0) -> AsyncIOScheduler:
    """The in-process scheduler: dispatch every ``tick`` seconds, config reload every 2 s."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    if dispatcher is not None:
        scheduler.add_job(dispatcher.dispatch, "interval", seconds=tick, id="dispatch",
                          max_instances=1, coalesce=True, next_run_time=runtime.clock())

    async def reload() -> None:
        await asyncio.to_thread(runtime.holder.reload_if_changed)
        if runtime.sync_pending:  # a reload that found the database unreachable
            await asyncio.to_thread(runtime.sync_if_pending)

    scheduler.add_job(reload, "interval", seconds=2, id="reload", max_instances=1, coalesce=True)
    return scheduler


class _Server(uvicorn.Server):
    """uvicorn re-raises a caught SIGTERM after its own shutdown, which would kill the
    process before the scheduler and database are closed; we handle signals ourselves."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def request_exit(self) -> None:
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


def listen(host: str, port: int) -> socket.socket:
    """Bind the web port before anything starts, so a port in use is one clear error, not uvicorn's
    exit 3 with a scheduler traceback after the first fetches have already run."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        hint = ("is funnelfeed already running? stop it or choose another --port"
                if exc.errno == errno.EADDRINUSE else "check --host and --port")
        raise FunnelfeedError(f"cannot listen on {host}:{port}: {reason}; {hint}") from exc
    sock.set_inheritable(True)
    return sock


async def serve(runtime: Runtime, host: str, port: int, *, fetch: bool = True,
                sock: socket.socket | None = None) -> None:
    """Web app and scheduler in one process; SIGTERM/SIGINT stop both cleanly."""
    # Signals are ours from the start: a SIGTERM or Ctrl-C while the web app is built and the
    # tagger warms up (seconds on a cold cache) stops cleanly too, instead of exit 143 or "Aborted!".
    server: _Server | None = None
    early_stop = False

    def request_exit() -> None:
        nonlocal early_stop
        if server is None:
            early_stop = True
        else:
            server.request_exit()

    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, request_exit)
    from web.app import create_app

    sock = sock or listen(host, port)
    app = create_app(runtime)
    dispatcher = Dispatcher(runtime) if fetch else None
    server = _Server(uvicorn.Config(app, host=host, port=port, log_config=None,
                                    access_log=True, lifespan="on"))
    server.should_exit = early_stop
    if dispatcher is not None and runtime.storage.dialect == "sqlite":
        # Single-process default: leases left by a killed predecessor are ours to reclaim.
        await asyncio.to_thread(runtime.storage.release_all)
    if dispatcher is not None and not server.should_exit:
        await dispatcher.check_clock()
        await dispatcher.warm_up()
    if server.should_exit:
        log.warning("stopped before serving: a signal came during start-up")
        sock.close()
        if dispatcher is not None:
            await dispatcher.drain()
        runtime.close()
        return
    scheduler = make_scheduler(runtime, dispatcher)
    from aggregator.outputs import install_token_redaction

    install_token_redaction()  # private feed tokens never reach the access log
    scheduler.start()
    try:
        await server.serve(sockets=[sock])
    finally:
        scheduler.shutdown(wait=False)
        if dispatcher is not None:
            await dispatcher.drain()
        runtime.close()


async def work(runtime: Runtime, *, stop: asyncio.Event, tick: float = 1.0) -> None:
    """Fetch-only loop for `funnelfeed worker`: many of these share one PostgreSQL database."""
    dispatcher = Dispatcher(runtime)
    await dispatcher.check_clock()
    await dispatcher.warm_up()
    scheduler = make_scheduler(runtime, dispatcher, tick=tick)
    scheduler.start()
    try:
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
        await dispatcher.drain()
        runtime.close()
