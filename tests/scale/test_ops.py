"""What an operator of several workers on one PostgreSQL hits: stops, restarts, time zones.

Real PostgreSQL servers (one shared, one of our own that the tests stop and start) and a
real loopback feed server; no mocks.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text

from aggregator.errors import StorageError
from aggregator.runtime import Runtime, open_runtime
from aggregator.service import Dispatcher
from aggregator.storage import open_storage, utcnow
from tests.helpers import feed_server
from tests.pg import _free_port, _wait, find_pg_bin
from tests.scale.test_workers import MODEL_DIR

pytestmark = pytest.mark.postgres


def write_config(path: Path, db_url: str, base: str, n: int, *, deadline: str = "3s") -> None:
    lines = [f"database: '{db_url}'", f"classifier: {{model_path: '{MODEL_DIR / 'model.pkl'}'}}",
             "fetch:", "  allow_networks: [127.0.0.1/32]", "  concurrency: 8", "  per_host: 8",
             "  per_host_per_minute: 100000", "  timeout: 3s", f"  deadline: {deadline}", "sources:"]
    lines += [f"  - {{id: s{i}, url: '{base}/feed/{i}.xml', kind: feed, visibility: external, every: 1h}}"
              for i in range(n)]
    path.write_text("\n".join(lines) + "\n")


def leases(db_url: str) -> list[tuple[str, str]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, lease_owner FROM sources WHERE lease_owner IS NOT NULL"))
            return [(r[0], r[1]) for r in rows]
    finally:
        engine.dispose()


class OwnPostgres:
    """A PostgreSQL server of our own, so a test can stop and restart it under running code."""

    def __init__(self, base: Path) -> None:
        initdb, pg_ctl = find_pg_bin("initdb"), find_pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            pytest.skip("PostgreSQL binaries not installed (apt-get install postgresql); .ci/run installs them")
        self.pg_ctl, self.data, self.port = pg_ctl, base / "data", _free_port()
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        (base / "sock").mkdir()
        if self.prefix:
            shutil.chown(base, "postgres")
            shutil.chown(base / "sock", "postgres")
        subprocess.run([*self.prefix, initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
        self.opts = (f"-p {self.port} -k {base / 'sock'} -c listen_addresses=127.0.0.1 -c fsync=off "
                     # A server whose default TimeZone is not UTC, as many operators' are.
                     "-c timezone=America/Los_Angeles")
        self.log = base / "log"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        subprocess.run([*self.prefix, self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", self.opts,
                        "-w", "start"], check=True, capture_output=True)
        _wait(self.port)

    def stop(self) -> None:
        subprocess.run([*self.prefix, self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop"],
                       check=True, capture_output=True)


@pytest.fixture(scope="module")
def own_pg() -> Iterator[OwnPostgres]:
    base = Path(tempfile.mkdtemp(prefix="funnelfeed-own-pg-"))  # pytest's tmp is not the postgres user's
    try:
        server = OwnPostgres(base)
        server.start()
        try:
            yield server
        finally:
            subprocess.run([*server.prefix, server.pg_ctl, "-D", str(server.data), "-m", "immediate", "stop"],
                           capture_output=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def fresh_db(server: OwnPostgres, name: str) -> str:
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{server.port}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.url.rsplit("/", 1)[0] + "/" + name


def test_times_come_back_in_utc_whatever_the_server_time_zone(own_pg: OwnPostgres, tmp_path: Path) -> None:
    """A server whose TimeZone is America/Los_Angeles: the web page printed 07:33 "UTC" for 15:33 UTC."""
    db = fresh_db(own_pg, "tz")
    config = tmp_path / "config.yaml"
    write_config(config, db, "http://127.0.0.1:9", 1)
    runtime = open_runtime(config)
    try:
        row = runtime.storage.source("s0")
        assert row is not None and row.next_due is not None
        assert row.next_due.utcoffset() == timedelta(0), row.next_due
        with runtime.storage.engine.connect() as conn:
            assert conn.execute(text("SHOW TimeZone")).scalar() == "UTC"
    finally:
        runtime.close()


async def test_a_stopping_worker_hands_back_the_leases_of_fetches_it_cancels(pg_url: str, tmp_path: Path) -> None:
    """SIGTERM while fetches hang: they are cancelled after the drain timeout, and their sources
    must be claimable by other workers at once, not after the lease (2 x deadline + 5 s) expires."""
    server = feed_server(latency=4)
    with server.running():
        config = tmp_path / "config.yaml"
        write_config(config, pg_url, server.base, 4, deadline="20s")
        runtime = open_runtime(config)
        try:
            dispatcher = Dispatcher(runtime, capacity=4)
            assert await dispatcher.dispatch() == 4
            deadline = time.monotonic() + 5
            while sum(server.hits.values()) < 4 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert len(leases(pg_url)) == 4
            await dispatcher.drain(timeout=0.2)
            assert leases(pg_url) == []
            # Another worker claims them straight away.
            other = Dispatcher(runtime, capacity=4)
            claimed = await asyncio.to_thread(runtime.storage.claim_due, other.owner, runtime.clock(),
                                              other.lease, 4)
            assert sorted(claimed) == ["s0", "s1", "s2", "s3"]
        finally:
            runtime.close()


async def test_dispatch_survives_a_database_restart_with_one_clear_log_line(
        own_pg: OwnPostgres, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = fresh_db(own_pg, "restart")
    server = feed_server()
    with server.running():
        config = tmp_path / "config.yaml"
        write_config(config, db, server.base, 3)
        runtime: Runtime = open_runtime(config)
        dispatcher = Dispatcher(runtime, capacity=8)
        try:
            own_pg.stop()
            try:
                with caplog.at_level(logging.WARNING, logger="aggregator.service"):
                    for _ in range(3):  # three ticks while PostgreSQL is down: no exception, one line
                        assert await dispatcher.dispatch() == 0
            finally:
                own_pg.start()
            errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
            assert len(errors) == 1, [r.getMessage() for r in errors]
            assert "the database is unreachable" in errors[0].getMessage()
            assert errors[0].exc_info is None  # a line, not a traceback per tick
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="aggregator.service"):
                assert await dispatcher.dispatch() == 3  # back: due sources are claimed again
            assert any("answers again" in r.getMessage() for r in caplog.records)
            await asyncio.wait(dispatcher.in_flight, timeout=10)
            assert {r.id for r in runtime.storage.sources() if r.last_status == "ok"} == {"s0", "s1", "s2"}
        finally:
            await dispatcher.drain()
            runtime.close()


def test_a_config_edit_made_while_the_database_is_down_reaches_it_later(own_pg: OwnPostgres,
                                                                        tmp_path: Path) -> None:
    """Every worker reloads the edit while PostgreSQL restarts; the sync each does must be retried,
    or the new source is never fetched (and a removed one still is) until the next edit."""
    db = fresh_db(own_pg, "reload")
    config = tmp_path / "config.yaml"
    write_config(config, db, "http://127.0.0.1:9", 2)
    runtime = open_runtime(config)
    try:
        own_pg.stop()
        try:
            write_config(config, db, "http://127.0.0.1:9", 3)  # adds s2
            assert runtime.holder.reload().ok
            assert runtime.sync_pending
            assert not runtime.sync_if_pending()  # still down: stays pending, no exception
        finally:
            own_pg.start()
        assert runtime.sync_if_pending()
        assert not runtime.sync_pending
        assert [r.id for r in runtime.storage.sources()] == ["s0", "s1", "s2"]
    finally:
        runtime.close()


def test_a_database_migrated_by_a_newer_release_is_one_clear_error(pg_url: str) -> None:
    """Rolling upgrade: new workers migrated the shared database, then an old host restarts. It used
    to die with alembic's traceback ("Can't locate revision"); now it is one message with the fix."""
    open_storage(pg_url).close()
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    engine.dispose()
    with pytest.raises(StorageError, match="migrated by a newer release of funnelfeed"):
        open_storage(pg_url)


async def test_a_worker_whose_clock_is_off_says_so(pg_url: str, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """Leases are written with one host's clock and checked with another's: a worker 60 s ahead takes
    over sources another worker is still fetching. Nothing showed it; now the worker says so at start."""
    config = tmp_path / "config.yaml"
    write_config(config, pg_url, "http://127.0.0.1:9", 2)
    honest = open_runtime(config)
    ahead = open_runtime(config, clock=lambda: utcnow() + timedelta(seconds=60))
    try:
        first, second = Dispatcher(honest), Dispatcher(ahead)
        # The hazard itself: what `honest` leased is free again in the eyes of the host 60 s ahead.
        assert honest.storage.claim_due(first.owner, honest.clock(), first.lease, 2) == ["s0", "s1"]
        assert ahead.storage.claim_due(second.owner, ahead.clock(), second.lease, 2) == ["s0", "s1"]
        with caplog.at_level(logging.WARNING, logger="aggregator.service"):
            offset = await first.check_clock()
            assert offset is not None and abs(offset) < timedelta(seconds=5)
            assert not caplog.records
            offset = await second.check_clock()
        assert offset is not None and offset > timedelta(seconds=55)
        [record] = caplog.records
        assert record.levelno == logging.ERROR
        assert "clock is 60 s ahead of the database server's" in record.getMessage()
    finally:
        honest.close()
        ahead.close()
