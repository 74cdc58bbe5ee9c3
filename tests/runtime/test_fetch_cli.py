"""`funnelfeed fetch`, `sources` and `preview` as support staff run them, against local servers."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from aggregator.cli import main
from tests.helpers import CountingServer, feed_server


def write_config(tmp: Path, base: str) -> Path:
    config = tmp / "config.yaml"
    config.write_text(f"""\
database: sqlite:///{tmp / 'ff.db'}
fetch: {{allow_networks: [127.0.0.1/32], timeout: 2s, deadline: 4s}}
classifier: {{model_path: '{tmp / 'model.pkl'}'}}
prospects:
  - {{id: acme, name: Acme Corporation, aliases: [Acme]}}
sources:
  - {{id: good, url: '{base}/feed/acme.xml', kind: feed, visibility: external, prospects: [acme]}}
  - {{id: other, url: '{base}/feed/other.xml', kind: feed, visibility: external}}
  - {{id: gone, url: '{base}/missing', kind: feed, visibility: external}}
""")
    return config


def run_json(*args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def test_fetch_twice_second_pass_is_conditional(tmp_path: Path) -> None:
    server = feed_server()
    with server.running():
        config = write_config(tmp_path, server.base)
        first = {o["source"]: o for o in run_json("fetch", "--config", str(config), "--all", "--json")}
        assert first["good"] == {"source": "good", "status": "ok", "new": 3, "updated": 0, "error": None}
        assert first["other"]["new"] == 3
        assert first["gone"]["status"] == "error" and "404" in str(first["gone"]["error"])
        second = {o["source"]: o for o in run_json("fetch", "--config", str(config), "--all", "--json")}
        assert second["good"]["status"] == "not_modified" and second["good"]["new"] == 0
        assert second["other"]["status"] == "not_modified"
        # Every source was asked twice; the second time with the stored ETag.
        assert server.hits["/feed/acme.xml"] == 2
    with sqlite3.connect(tmp_path / "ff.db") as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT source_id || key) FROM items").fetchone() == (6, 6)
        tags = conn.execute("SELECT DISTINCT value, origin FROM item_tags JOIN items ON items.id = item_id "
                            "WHERE kind = 'prospect' AND source_id = 'good'").fetchall()
    assert ("acme", "source") in tags
    health = {h["source"]: h for h in run_json("sources", "--config", str(config), "--json")}
    assert health["gone"]["consecutive_failures"] == 2 and health["gone"]["status"] == "error"
    assert health["good"]["items"] == 3 and health["good"]["error"] is None


def test_fetch_due_only_skips_sources_not_due(tmp_path: Path) -> None:
    server = feed_server()
    with server.running():
        config = write_config(tmp_path, server.base)
        run_json("fetch", "--config", str(config), "--json")
        again = run_json("fetch", "--config", str(config), "--json")
        # Successful sources are due again in an hour; the failing one in two minutes.
        assert again == []


def test_preview_stores_nothing(tmp_path: Path) -> None:
    page = b"""<html><body>
      <article><h2>Acme opens a plant</h2><a href="/news/1">more</a><time datetime="2026-11-02">x</time></article>
      <article><h2>Acme hires a CFO</h2><a href="/news/2">more</a></article></body></html>"""
    server = CountingServer(lambda path, _h: (200, {"Content-Type": "text/html"}, page))
    with server.running():
        config = write_config(tmp_path, server.base)
        result = CliRunner().invoke(main, [
            "preview", "--config", str(config), "--url", f"{server.base}/press", "--kind", "page",
            "--select", "item=article", "--select", "title=h2", "--select", "link=a@href",
            "--select", "date=time@datetime", "--json"])
        assert result.exit_code == 0, result.output
        items = [json.loads(line) for line in result.stdout.splitlines()]  # JSON only: notes go to stderr
        assert [i["title"] for i in items] == ["Acme opens a plant", "Acme hires a CFO"]
        assert result.stderr == ("note: the date selector 'time@datetime' found nothing in 1 of 2 items: "
                                 "those items are dated when first seen\n")
        assert items[0]["link"] == f"{server.base}/news/1"
        assert items[0]["prospects"] == ["acme"]
        # A configured feed source that answers with a web page: a plain-language error.
        by_id = CliRunner().invoke(main, ["preview", "--config", str(config), "good"])
        assert by_id.exit_code == 1 and "not a feed" in by_id.output
    assert not (tmp_path / "ff.db").exists()  # preview never even opens the database


def test_page_without_selectors_is_watched_as_one_item(tmp_path: Path) -> None:
    body = {"text": b"<html><head><title>Acme pricing</title></head><body><p>Per seat: 10 EUR</p></body></html>"}
    server = CountingServer(lambda _p, _h: (200, {"Content-Type": "text/html"}, body["text"]))
    with server.running():
        config = tmp_path / "config.yaml"
        config.write_text(f"""\
database: sqlite:///{tmp_path / 'ff.db'}
fetch: {{allow_networks: [127.0.0.1/32]}}
classifier: {{model_path: '{tmp_path / 'model.pkl'}'}}
sources:
  - {{id: prices, url: '{server.base}/pricing', kind: page, visibility: external, robots: false}}
""")
        first = run_json("fetch", "--config", str(config), "--all", "--json")
        assert first[0]["status"] == "ok" and first[0]["new"] == 1
        second = run_json("fetch", "--config", str(config), "--all", "--json")
        assert second[0]["status"] == "not_modified"  # same content: nothing new, no error
        body["text"] = body["text"].replace(b"10 EUR", b"12 EUR")
        third = run_json("fetch", "--config", str(config), "--all", "--json")
        assert third[0]["status"] == "ok" and {third[0]["new"], third[0]["updated"]} == {0, 1}


def test_cpu_workers_parse_and_tag_in_processes(tmp_path: Path) -> None:
    server = feed_server()
    with server.running():
        config = write_config(tmp_path, server.base)
        config.write_text(config.read_text().replace("deadline: 4s}", "deadline: 20s, cpu_workers: 1}"))
        first = {o["source"]: o for o in run_json("fetch", "--config", str(config), "--all", "--json")}
        assert first["good"]["new"] == 3 and first["other"]["new"] == 3
    with sqlite3.connect(tmp_path / "ff.db") as conn:
        origins = dict(conn.execute("SELECT origin, count(*) FROM item_tags GROUP BY origin").fetchall())
    assert origins.get("source") == 3  # the source rule, applied by the tagger in its own process


def test_health_table_written_to_a_file_keeps_whole_errors_on_one_line(tmp_path: Path) -> None:
    """Support staff piping `funnelfeed sources` into a file or mail get one line per source, not 80 columns."""
    server = feed_server()
    with server.running():
        config = write_config(tmp_path, server.base)
        run_json("fetch", "--config", str(config), "--all", "--json")
    result = CliRunner().invoke(main, ["sources", "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    gone = next(line for line in result.output.splitlines() if " gone " in line)
    assert "HTTP 404" in gone and "UTC" in gone  # the whole error and a short time, on the source's own line
    assert re.search(r"│\s*404\s*│", gone)  # the status column
    assert "T" not in gone.split("UTC")[0].split()[-1]  # "2026-11-27 12:00:00 UTC", not an ISO timestamp


def test_fetch_leaves_a_source_another_process_is_fetching_to_it(tmp_path: Path) -> None:
    """Beside running workers, a manual pass never fetches a leased source twice nor takes its lease."""
    from datetime import timedelta

    from aggregator.runtime import open_runtime

    server = feed_server()
    with server.running():
        config = write_config(tmp_path, server.base)
        runtime = open_runtime(config)
        now = runtime.clock()
        assert runtime.storage.claim("worker-on-host-b", now, timedelta(minutes=5), ["good"]) == ["good"]
        runtime.close()
        outcomes = {o["source"]: o for o in run_json("fetch", "--config", str(config), "--all", "--json")}
        assert outcomes["good"] == {"source": "good", "status": "deferred", "new": 0, "updated": 0,
                                    "error": "another funnelfeed process is fetching it right now"}
        assert outcomes["other"]["status"] == "ok" and server.hits["/feed/acme.xml"] == 0
        runtime = open_runtime(config)
        leases = {r.id: r.lease_owner for r in runtime.storage.sources()}
        runtime.close()
    assert leases == {"good": "worker-on-host-b", "other": None, "gone": None}  # theirs kept, ours released
