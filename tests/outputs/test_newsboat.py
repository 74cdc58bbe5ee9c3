"""A real feed reader: Debian's newsboat imports a rep's OPML from a real server and reloads every feed."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from aggregator.outputs.tokens import hash_token
from aggregator.runtime import open_runtime
from tests.outputs.conftest import BASE_URL, NOW, STORIES, TOKENS, config_text, minimal_app, store

NEWSBOAT = shutil.which("newsboat")
pytestmark = pytest.mark.skipif(NEWSBOAT is None, reason="the newsboat binary is not installed "
                                                         "(Debian: apt-get install newsboat)")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """uvicorn on 127.0.0.1 (random port) serving the feeds router; config base_url points at it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    (tmp_path / "crm.csv").write_text("subject,account\n")
    path = tmp_path / "config.yaml"
    path.write_text(config_text(tmp_path / "funnelfeed.db").replace(BASE_URL, base))
    runtime = open_runtime(path, clock=lambda: NOW)
    store(runtime, STORIES)
    for rep_id, token in TOKENS.items():
        runtime.storage.set_rep_token_hash(rep_id, hash_token(token), NOW)
    server = uvicorn.Server(uvicorn.Config(minimal_app(runtime), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield base
    server.should_exit = True
    thread.join(timeout=10)
    runtime.close()


def test_newsboat_imports_opml_and_reads_every_feed(server: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    opml = home / "alice.opml"
    opml.write_bytes(httpx.get(f"{server}/f/{TOKENS['alice']}/opml").content)
    (home / "config").write_text("")
    files = ["-u", str(home / "urls"), "-c", str(home / "cache.db"), "-C", str(home / "config")]
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home), "XDG_DATA_HOME": str(home),
           "TERM": "dumb"}
    assert NEWSBOAT is not None
    for args in (["-i", str(opml)], ["-x", "reload"]):
        done = subprocess.run([NEWSBOAT, *files, *args], env=env, capture_output=True, text=True, timeout=60,
                              check=False)
        assert done.returncode == 0, done.stderr + done.stdout
    urls = (home / "urls").read_text()
    assert urls.count(f"{server}/f/{TOKENS['alice']}/") == 5
    with sqlite3.connect(home / "cache.db") as db:
        feeds = dict(db.execute("SELECT rssurl, title FROM rss_feed").fetchall())
        titles = {t for (t,) in db.execute("SELECT title FROM rss_item")}
    prefix = f"{server}/f/{TOKENS['alice']}/"
    assert feeds == {
        prefix + "all.atom": "Everything for Alice Able",
        prefix + "p/acme.atom": "Acme & Sons <EU>: all stages",
        prefix + "p/acme/deal.atom": "Acme & Sons <EU>: Pricing (your deal's stage)",
        prefix + "p/initech.atom": "Initech: all stages",
        prefix + "p/initech/deal.atom": "Initech: Qualifying (your deal's stage)",
    }
    assert titles == {"[internal] Acme procurement call: Globex is the incumbent",
                      "Acme publishes its new price list", "Acme control chars  in title",
                      "Acme expands into Brazil", "Initech hires a new CFO"}
