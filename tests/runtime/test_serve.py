"""`funnelfeed serve` as a user runs it: a real process, a real SQLite file, real signals."""

from __future__ import annotations

import csv
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from aggregator.storage import open_storage


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_export(path: Path, rows: int, prefix: str) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "account", "subject", "notes"])
        for i in range(rows):
            writer.writerow([f"{prefix}-{i}", "acme", f"{prefix} note {i} about Acme pricing",
                             f"Acme asked about per-seat pricing, row {i}"])


def config_text(db: Path, exports: list[Path]) -> str:
    lines = [f"database: sqlite:///{db}", "prospects:", "  - {id: acme, name: Acme Corporation, aliases: [Acme]}",
             "sources:"]
    for path in exports:
        lines += [f"  - id: {path.stem}", f"    url: file://{path}", "    kind: export",
                  "    visibility: internal", "    every: 1h",
                  "    columns: {id: id, title: subject, body: notes, prospect: account}"]
    return "\n".join(lines) + "\n"


def count_items(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=10) as conn:
            return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def serve(config: Path, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUNNELFEED_")}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "aggregator", "-v", "serve", "--config", str(config),
                                 "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


def healthz(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_serve_health_reload_and_clean_shutdown(tmp_path: Path) -> None:
    db, port = tmp_path / "ff.db", free_port()
    first, second = tmp_path / "crm_a.csv", tmp_path / "crm_b.csv"
    write_export(first, 5, "a")
    write_export(second, 7, "b")
    config = tmp_path / "config.yaml"
    config.write_text(config_text(db, [first]))
    log = tmp_path / "serve.log"
    with serve(config, port, log) as proc:
        wait_for(lambda: healthz(port), 60, "/healthz")
        wait_for(lambda: count_items(db) == 5, 60, "the export's items")
        # A broken edit: logged with check's messages, the previous config keeps running.
        config.write_text(config_text(db, [first]).replace("visibility: internal", "visibility: intrenal"))
        wait_for(lambda: "edit rejected" in log.read_text(), 30, "the rejected edit in the log")
        assert "did you mean 'internal'" in log.read_text()
        assert proc.poll() is None and healthz(port)
        # A good edit is picked up without restart: the new source is fetched.
        config.write_text(config_text(db, [first, second]))
        wait_for(lambda: count_items(db) == 12, 60, "items of the source added by the edit")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()[-2000:]
    storage = open_storage(f"sqlite:///{db}")
    assert storage.count_items() == 12
    storage.close()


def test_kill_9_mid_write_keeps_every_committed_item(tmp_path: Path) -> None:
    db, port = tmp_path / "ff.db", free_port()
    exports = []
    for i in range(12):
        path = tmp_path / f"crm_{i}.csv"
        write_export(path, 3000, f"e{i}")
        exports.append(path)
    config = tmp_path / "config.yaml"
    config.write_text(config_text(db, exports))
    with serve(config, port, tmp_path / "serve.log") as proc:
        wait_for(lambda: count_items(db) > 0, 120, "the first committed items")
        committed = count_items(db)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert committed < 36000, "the kill came too late to be mid-write; use bigger exports"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    storage = open_storage(f"sqlite:///{db}")  # opens (and migrates) after the crash
    assert storage.count_items() >= committed
    storage.close()
