"""The whole product as support staff and a rep use it: config.yaml → `funnelfeed serve` →
`funnelfeed links` → Debian's newsboat imports the rep's OPML and reloads every feed."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import CountingServer
from tests.runtime.test_serve import free_port, healthz, serve, wait_for

NEWSBOAT = shutil.which("newsboat")
pytestmark = pytest.mark.skipif(NEWSBOAT is None, reason="the newsboat binary is not installed "
                                                         "(Debian: apt-get install newsboat); .ci/run installs it")

NEWS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Industry wire</title>
<link>http://wire.example/</link><description>d</description>
<item><title>Acme Corporation opens a plant in Ohio</title><link>http://wire.example/1</link>
<guid>w1</guid><pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate></item>
<item><title>Globex Corporation names a new head of procurement</title><link>http://wire.example/2</link>
<guid>w2</guid><pubDate>Mon, 02 Nov 2026 11:00:00 GMT</pubDate></item>
</channel></rss>"""


def test_rep_reads_their_streams_in_newsboat_from_live_serve(tmp_path: Path) -> None:
    wire = CountingServer(lambda _p, _h: (200, {"Content-Type": "application/rss+xml"}, NEWS))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    (tmp_path / "crm.csv").write_text(
        "id,account,subject\n1,acme,Acme call notes: budget approved\n2,globex,Globex legal review notes\n")
    config = tmp_path / "config.yaml"
    with wire.running():
        config.write_text(f"""\
database: sqlite:///{tmp_path / 'ff.db'}
fetch: {{allow_networks: [127.0.0.1/32]}}
web: {{base_url: '{base}'}}
classifier: {{model_path: '{tmp_path / 'model.pkl'}'}}
prospects:
  - {{id: acme, name: Acme Corporation, aliases: [Acme]}}
  - {{id: globex, name: Globex Corporation, aliases: [Globex]}}
sources:
  - {{id: crm, url: 'file://{tmp_path / 'crm.csv'}', kind: export, visibility: internal,
      columns: {{id: id, title: subject, prospect: account}}}}
  - {{id: wire, url: '{wire.base}/rss', kind: feed, visibility: external}}
reps:
  - id: jsmith
    name: Jane Smith
    accounts: [{{prospect: acme, stage: prospecting}}]
""")
        with serve(config, port, tmp_path / "serve.log"):
            wait_for(lambda: healthz(port), 60, "/healthz")
            db = tmp_path / "ff.db"
            wait_for(lambda: _count(db) == 4, 60, "both sources fetched")
            links = subprocess.run([sys.executable, "-m", "aggregator", "links", "--config", str(config)],
                                   capture_output=True, text=True, check=True)
            opml_url = links.stdout.split("\t")[-1].strip()
            assert opml_url.startswith(f"{base}/f/") and opml_url.endswith("/opml")
            home = tmp_path / "home"
            home.mkdir()
            (home / "rep.opml").write_bytes(httpx.get(opml_url).content)
            (home / "config").write_text("")
            files = ["-u", str(home / "urls"), "-c", str(home / "cache.db"), "-C", str(home / "config")]
            env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home), "XDG_DATA_HOME": str(home),
                   "TERM": "dumb"}
            assert NEWSBOAT is not None
            for args in (["-i", str(home / "rep.opml")], ["-x", "reload"]):
                done = subprocess.run([NEWSBOAT, *files, *args], env=env, capture_output=True, text=True,
                                      timeout=60, check=False)
                assert done.returncode == 0, done.stderr + done.stdout
            time.sleep(0.2)
    with sqlite3.connect(home / "cache.db") as cache:
        feeds = {t for (t,) in cache.execute("SELECT title FROM rss_feed")}
        titles = {t for (t,) in cache.execute("SELECT title FROM rss_item")}
    assert len(feeds) == 3, feeds  # everything for me, the account, the deal's stage
    assert "[internal] Acme call notes: budget approved" in titles
    assert "Acme Corporation opens a plant in Ohio" in titles
    # Another account's CRM notes never reach this rep, not even in "everything for me".
    assert not any("Globex legal" in t for t in titles)
    # The private token never reached the access log, which did record the feed requests.
    log = (tmp_path / "serve.log").read_text()
    assert "/f/<token>/opml" in log
    assert opml_url.split("/f/")[1].split("/")[0] not in log


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
