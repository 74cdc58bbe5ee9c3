"""Several `funnelfeed worker` processes on one real PostgreSQL database (issue: scale out)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.helpers import feed_server

N_SOURCES = 240


MODEL_DIR = Path(tempfile.gettempdir()) / "funnelfeed-test-models"


def write_config(path: Path, base: str, deadline: str = "3s") -> None:
    lines = [
        # Shared across tests, so the seed model is trained once, not per worker per test.
        f"classifier: {{model_path: '{MODEL_DIR / 'model.pkl'}'}}",
        "fetch:",
        "  allow_networks: [127.0.0.1/32]",
        "  concurrency: 16",
        "  per_host: 16",
        "  per_host_per_minute: 100000",
        "  timeout: 3s",
        f"  deadline: {deadline}",
        "sources:",
    ]
    for i in range(N_SOURCES):
        lines.append(f"  - {{id: s{i}, url: '{base}/feed/{i}.xml', kind: feed, visibility: external, every: 1h}}")
    path.write_text("\n".join(lines) + "\n")


def start_workers(n: int, config: Path, db_url: str, tmp: Path) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "FUNNELFEED_DATABASE_URL": db_url}
    procs = []
    for i in range(n):
        log = open(tmp / f"worker{i}.log", "wb")  # noqa: SIM115 (closed with the process)
        procs.append(subprocess.Popen([sys.executable, "-m", "aggregator", "worker", "--config", str(config)],
                                      env=env, stdout=log, stderr=subprocess.STDOUT))
    return procs


def wait_all_fetched(db_url: str, timeout: float) -> int:
    engine = create_engine(db_url)
    deadline = time.monotonic() + timeout
    done = 0
    while time.monotonic() < deadline:
        try:
            with engine.connect() as conn:
                done = conn.execute(text("SELECT count(*) FROM sources WHERE last_success IS NOT NULL")).scalar() or 0
        except Exception:
            done = 0  # schema not created yet
        if done == N_SOURCES:
            break
        time.sleep(0.3)
    engine.dispose()
    return int(done or 0)


def item_counts(db_url: str) -> tuple[int, int]:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM items")).scalar()
        distinct = conn.execute(text("SELECT count(DISTINCT (source_id, key)) FROM items")).scalar()
    engine.dispose()
    return int(total or 0), int(distinct or 0)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


@pytest.mark.postgres
def test_three_workers_fetch_each_source_exactly_once(pg_url: str, tmp_path: Path) -> None:
    server = feed_server(latency=0.05)
    with server.running():
        config = tmp_path / "config.yaml"
        write_config(config, server.base)
        procs = start_workers(3, config, pg_url, tmp_path)
        try:
            assert wait_all_fetched(pg_url, 90) == N_SOURCES, (tmp_path / "worker0.log").read_text()[-3000:]
            time.sleep(2)  # let any duplicate fetch show up before counting
        finally:
            stop(procs)
        feed_hits = {p: n for p, n in server.hits.items() if p.startswith("/feed/")}
        assert len(feed_hits) == N_SOURCES
        assert set(feed_hits.values()) == {1}, {p: n for p, n in feed_hits.items() if n != 1}
    assert item_counts(pg_url) == (3 * N_SOURCES, 3 * N_SOURCES)


@pytest.mark.postgres
def test_killed_worker_leases_are_taken_over(pg_url: str, tmp_path: Path) -> None:
    server = feed_server(latency=0.4)
    with server.running():
        config = tmp_path / "config.yaml"
        write_config(config, server.base, deadline="2s")
        procs = start_workers(3, config, pg_url, tmp_path)
        try:
            deadline = time.monotonic() + 60
            while sum(server.hits.values()) < 20 and time.monotonic() < deadline:
                time.sleep(0.05)
            procs[0].send_signal(signal.SIGKILL)  # dies holding leases mid-pass
            procs[0].wait()
            # Its leases expire after 2 x deadline + 5 s; the others take them over.
            assert wait_all_fetched(pg_url, 90) == N_SOURCES
        finally:
            stop(procs)
        feed_hits = {p: n for p, n in server.hits.items() if p.startswith("/feed/")}
        assert len(feed_hits) == N_SOURCES  # nothing lost
    assert item_counts(pg_url) == (3 * N_SOURCES, 3 * N_SOURCES)  # nothing duplicated


@pytest.mark.postgres
def test_sighup_stops_a_worker_cleanly_and_hands_back_its_leases(pg_url: str, tmp_path: Path) -> None:
    """A closed terminal (SIGHUP) must not leave sources locked until their leases expire."""
    server = feed_server(latency=1.0)
    with server.running():
        config = tmp_path / "config.yaml"
        write_config(config, server.base, deadline="20s")
        [proc] = start_workers(1, config, pg_url, tmp_path)
        try:
            deadline = time.monotonic() + 60
            while sum(server.hits.values()) < 5 and time.monotonic() < deadline:
                time.sleep(0.05)
            proc.send_signal(signal.SIGHUP)
            assert proc.wait(timeout=30) == 0, (tmp_path / "worker0.log").read_text()[-3000:]
        finally:
            stop([proc])
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        held = conn.execute(text("SELECT count(*) FROM sources WHERE lease_owner IS NOT NULL")).scalar()
    engine.dispose()
    assert held == 0
