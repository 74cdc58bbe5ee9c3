"""The command line as support staff use it: mistakes get a message naming the option or line, never a
traceback; empty passes say why; `--json` times carry their zone; a fixed config.yaml edit is announced."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator.cli import main
from aggregator.runtime import open_runtime
from tests.helpers import CountingServer, feed_server, rss
from tests.runtime.test_fetch_cli import run_json, write_config

PAGE = b"<html><body><article><h2>Acme opens a plant</h2><a href='/n/1'>more</a></article></body></html>"


@pytest.mark.parametrize(("options", "words"), [
    (["--kind", "page", "--select", "item"], "--select 'item': write FIELD=SELECTOR"),
    (["--kind", "page", "--select", "itm=article"], "unknown field 'itm'; did you mean 'item'?"),
    (["--kind", "page", "--select", "title=h2"], "--select item=SELECTOR is required"),
    (["--kind", "page", "--select", "item=<<"], "'<<' is not a valid CSS selector"),
    (["--select", "item=article"], "--select applies only to --kind page"),
    (["--kind", "export"], "an export needs its column mapping"),
])
def test_preview_url_mistakes_are_usage_errors(tmp_path: Path, options: list[str], words: str) -> None:
    server = CountingServer(lambda _p, _h: (200, {"Content-Type": "text/html"}, PAGE))
    with server.running():
        config = write_config(tmp_path, server.base)
        result = CliRunner().invoke(main, ["preview", "--config", str(config), "--url", f"{server.base}/p", *options])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    assert words in result.output
    assert not server.hits  # refused before fetching anything


def test_fetch_with_nothing_due_says_so(tmp_path: Path) -> None:
    server = feed_server()
    with server.running():
        config = write_config(tmp_path, server.base)
        run_json("fetch", "--config", str(config), "--all", "--json")
        config.write_text(config.read_text().replace("  - {id: gone,", "  # - {id: gone,"))
        again = CliRunner().invoke(main, ["fetch", "--config", str(config)], catch_exceptions=False)
        as_json = CliRunner().invoke(main, ["fetch", "--config", str(config), "--json"], catch_exceptions=False)
    assert again.exit_code == 0 and as_json.exit_code == 0
    assert "no source is due yet (the next is due " in again.stderr and "fetch --all" in again.stderr
    assert "fetch pass" not in again.output  # no empty table
    assert as_json.stdout == ""  # JSON lines only on stdout: none


def test_fetch_with_no_sources_says_where_to_add_them(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"database: sqlite:///{tmp_path / 'ff.db'}\n")
    result = CliRunner().invoke(main, ["fetch", "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stderr == f"no sources in {config}: add some under sources: or templates:\n"


def test_sources_json_times_are_utc_with_offset(tmp_path: Path) -> None:
    server = feed_server()
    with server.running():
        config = write_config(tmp_path, server.base)
        run_json("fetch", "--config", str(config), "--all", "--json")
    health = {h["source"]: h for h in run_json("sources", "--config", str(config), "--json")}
    for field in ("last_attempt", "last_success", "next_due"):
        moment = datetime.fromisoformat(str(health["good"][field]))
        assert moment.utcoffset() == timedelta(0), (field, moment)
    assert health["gone"]["last_success"] is None


def test_sources_shows_the_notes_of_a_source_that_works(tmp_path: Path) -> None:
    """A feed that moved for good is fetched all the same; `sources` says to update config.yaml."""
    def respond(path: str, _headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if path == "/feed/acme.xml":
            return 301, {"Location": "/feeds/acme-news.xml"}, b""
        if path.startswith("/feed"):
            return 200, {"Content-Type": "application/rss+xml"}, rss("acme")
        return 404, {}, b""

    server = CountingServer(respond)
    with server.running():
        config = write_config(tmp_path, server.base)
        run_json("fetch", "--config", str(config), "--all", "--json")
    moved = f"moved permanently to {server.base}/feeds/acme-news.xml: update the source's url in config.yaml"
    health = {h["source"]: h for h in run_json("sources", "--config", str(config), "--json")}
    assert health["good"]["status"] == "ok" and health["good"]["notes"] == [moved]
    assert health["other"]["notes"] == []
    table = CliRunner().invoke(main, ["sources", "--config", str(config)], catch_exceptions=False).output
    assert "note: moved permanently to" in table  # the cell wraps the rest


@pytest.mark.parametrize(("line", "words"), [
    ("[1, 2]", "line 2: expected a JSON object"),
    ('"text"', "line 2: expected a JSON object"),
    ("{not json", "line 2: not JSON"),
])
def test_tag_input_that_is_not_an_object_is_named(tmp_path: Path, line: str, words: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"classifier: {{model_path: '{tmp_path / 'model.pkl'}'}}\n"
                      "prospects:\n  - {id: acme, name: Acme Corporation, aliases: [Acme]}\n")
    items = tmp_path / "items.jsonl"
    items.write_text('{"id": "1", "title": "Acme raises prices"}\n' + line + "\n")
    result = CliRunner().invoke(main, ["tag", "--config", str(config), "--input", str(items)])
    assert result.exit_code == 1 and not isinstance(result.exception, AttributeError), result.output
    assert f"{items} {words}" in result.output


def test_a_fixed_edit_is_announced_at_the_level_the_broken_one_was(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    config = tmp_path / "config.yaml"
    good = f"database: sqlite:///{tmp_path / 'ff.db'}\nprospects:\n  - {{id: acme, name: Acme}}\n"
    config.write_text(good)
    runtime = open_runtime(config)
    try:
        caplog.set_level(logging.WARNING, logger="aggregator.runtime")

        stamp = [time.time() - 100]

        def edit(text: str) -> None:
            config.write_text(text)
            stamp[0] += 1
            os.utime(config, (stamp[0], stamp[0]))  # saved a while ago: settled, and a distinct mtime

        edit(good.replace("name: Acme", "name: Acme, aliass: [A]"))
        assert runtime.holder.reload_if_changed().ok is False  # type: ignore[union-attr]
        edit(good + "  - {id: globex, name: Globex}\n")
        assert runtime.holder.reload_if_changed().ok is True  # type: ignore[union-attr]
        assert [p.id for p in runtime.config.prospects] == ["acme", "globex"]
        messages = [r.getMessage() for r in caplog.records]
        assert "edit rejected" in messages[0] and "aliass" in messages[0]
        assert messages[1] == "config.yaml reloaded (the earlier problems are fixed): 2 prospects, 0 sources, 0 reps"
        edit(good.replace("ff.db", "other.db") + "  - {id: globex, name: Globex}\n")
        runtime.holder.reload_if_changed()
        assert "restarted" in caplog.records[-1].getMessage()
    finally:
        runtime.close()
    assert not (tmp_path / "other.db").exists()  # the open database stays in use


def test_json_output_lines_are_json(tmp_path: Path) -> None:
    """`fetch --json` and `sources --json` print nothing else on stdout, whatever happens."""
    server = feed_server()
    with server.running():
        config = write_config(tmp_path, server.base)
        result = CliRunner().invoke(main, ["fetch", "--config", str(config), "--all", "--json"])
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["source"] for r in rows} == {"good", "other", "gone"}
    assert all(set(r) == {"source", "status", "new", "updated", "error"} for r in rows)


def test_serve_on_a_port_in_use_is_one_clear_error_before_any_fetch(tmp_path: Path) -> None:
    server = feed_server()
    with server.running(), socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, server.base)
        result = CliRunner().invoke(main, ["serve", "--config", str(config), "--port", str(port)])
    assert result.exit_code == 1, result.output
    assert result.output == (f"error: cannot listen on 127.0.0.1:{port}: Address already in use; "
                             "is funnelfeed already running? stop it or choose another --port\n")
    assert not server.hits  # the scheduler never started


def test_sigterm_while_serve_starts_up_stops_it_cleanly(tmp_path: Path) -> None:
    """The tagger trains for seconds on a cold cache before serving; a SIGTERM then is a clean stop."""
    config = tmp_path / "config.yaml"
    config.write_text(f"database: sqlite:///{tmp_path / 'ff.db'}\n"
                      f"classifier: {{model_path: '{tmp_path / 'model.pkl'}'}}\n"
                      "prospects:\n  - {id: acme, name: Acme Corporation}\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUNNELFEED_")}
    proc = subprocess.Popen([sys.executable, "-m", "aggregator", "serve", "--config", str(config),
                             "--port", str(port)], stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    try:
        assert proc.stderr is not None
        assert "serving on" in proc.stderr.readline().decode()
        time.sleep(0.3)  # inside start-up: building the web app, warming the tagger
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, proc.stderr.read().decode()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_links_with_no_reps_or_contradictory_options_say_so(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"database: sqlite:///{tmp_path / 'ff.db'}\n")
    empty = CliRunner().invoke(main, ["links", "--config", str(config)])
    assert empty.exit_code == 0 and empty.stderr.startswith(f"no reps in {config}: add them under reps:")
    config.write_text(config.read_text() + "reps:\n  - {id: jsmith, name: Jane Smith}\n")
    both = CliRunner().invoke(main, ["links", "--config", str(config), "--rotate", "jsmith", "--revoke", "jsmith"])
    assert both.exit_code == 2 and "--rotate and --revoke both name jsmith" in both.output
    assert "/f/" not in both.output  # refused before any link was issued or revoked


def test_ctrl_c_during_fetch_keeps_what_finished_and_says_so(tmp_path: Path) -> None:
    def respond(path: str, _headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/slow"):
            time.sleep(5)
        return 200, {"Content-Type": "application/rss+xml"}, rss(path.strip("/"))

    server = CountingServer(respond)
    with server.running():
        config = tmp_path / "config.yaml"
        config.write_text(f"database: sqlite:///{tmp_path / 'ff.db'}\n"
                          f"fetch: {{allow_networks: [127.0.0.1/32], timeout: 10s, deadline: 20s}}\n"
                          f"classifier: {{model_path: '{tmp_path / 'model.pkl'}'}}\nsources:\n"
                          f"  - {{id: fast, url: '{server.base}/fast', kind: feed, visibility: external}}\n"
                          f"  - {{id: slow, url: '{server.base}/slow', kind: feed, visibility: external}}\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("FUNNELFEED_")}
        proc = subprocess.Popen([sys.executable, "-m", "aggregator", "fetch", "--config", str(config), "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            assert proc.stdout is not None
            first = json.loads(proc.stdout.readline())
            assert first["source"] == "fast" and first["new"] == 3
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130, err.decode()
    assert err.decode().strip().splitlines()[-1] == (
        "interrupted: 1 of 2 sources finished and their items are stored; the rest keep their schedule, "
        "so a due one is fetched by the next pass")
    health = {h["source"]: h for h in run_json("sources", "--config", str(config), "--json")}
    assert health["fast"]["items"] == 3 and health["slow"]["status"] == "never"


def test_reload_waits_for_a_settled_file_and_refuses_an_empty_one(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """An editor that truncates, then writes, shows serve an empty or half-written file for a moment:
    taking it would drop every source and rep until the next tick."""
    config = tmp_path / "config.yaml"
    good = (f"database: sqlite:///{tmp_path / 'ff.db'}\nprospects:\n  - {{id: acme, name: Acme}}\n"
            "reps:\n  - {id: jsmith, name: Jane Smith, accounts: [{prospect: acme, stage: pricing}]}\n")
    config.write_text(good)
    runtime = open_runtime(config)
    try:
        config.write_text(good.split("reps:")[0])  # a valid prefix, just written
        assert runtime.holder.reload_if_changed() is None  # not yet: it may still be being written
        assert runtime.holder.rep("jsmith") is not None
        config.write_text(good)  # the rest arrives
        os.utime(config, (time.time() - 5, time.time() - 5))
        assert runtime.holder.reload_if_changed().ok is True  # type: ignore[union-attr]
        assert runtime.holder.rep("jsmith") is not None

        config.write_text("# everything commented out\n\n")
        os.utime(config, (time.time() - 3, time.time() - 3))
        result = runtime.holder.reload_if_changed()
        assert result is not None and result.ok is False and "the file is empty" in result.errors[0]
        assert runtime.holder.rep("jsmith") is not None and runtime.config.prospects[0].id == "acme"
        assert "previous configuration keeps running" in caplog.text
    finally:
        runtime.close()


def test_api_keys_in_source_urls_stay_out_of_the_request_log(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    server = feed_server()
    with server.running():
        config = tmp_path / "config.yaml"
        config.write_text(f"database: sqlite:///{tmp_path / 'ff.db'}\n"
                          f"fetch: {{allow_networks: [127.0.0.1/32]}}\n"
                          f"classifier: {{model_path: '{tmp_path / 'model.pkl'}'}}\nsources:\n"
                          f"  - {{id: api, url: '{server.base}/feed/api.xml?q=acme&api_key=s3cr3t-KEY', "
                          "kind: feed, visibility: external}\n")
        caplog.set_level(logging.INFO, logger="httpx")
        result = CliRunner().invoke(main, ["-v", "fetch", "--config", str(config), "--all", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["new"] == 3  # the key still reaches the server
    assert "HTTP Request: GET" in caplog.text and "/feed/api.xml?q=acme&api_key=*** " in caplog.text
    assert "s3cr3t" not in caplog.text
