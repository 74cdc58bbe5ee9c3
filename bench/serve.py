"""Benchmark: a rep's feed (100 items) from funnelfeed vs the same bytes as a static file from nginx.

Runs Debian's ``wrk`` against both, for full responses and for conditional
requests (If-None-Match with the current ETag, answered 304), and prints
requests per second and p50 / p99 latency. Needs ``wrk`` and ``nginx`` (nginx-light).

    .venv/bin/python bench/serve.py [--duration 10] [--connections 50] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TOKEN = "bench-token-0123456789-abcdefghijklmnopqrstu"[:43]
CONFIG = """
database: sqlite:///{db}
web: {{base_url: "{base}"}}
prospects: [{{id: acme, name: Acme Corporation}}]
sources:
  - {{id: wire, title: Business Wire, url: "https://wire.example/feed", kind: feed, visibility: external}}
reps:
  - {{id: alice, name: Alice Able, accounts: [{{prospect: acme, stage: pricing}}]}}
"""
NGINX_CONF = """
user root;
worker_processes 2;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/nginx-body;
  types {{ application/atom+xml atom; }}
  server {{
    listen 127.0.0.1:{port};
    root {tmp}/static;
    etag on;
  }}
}}
"""


def app_factory() -> object:
    """The uvicorn --factory target.

    By default the real web app (``web.app.create_app``: sessions, CSP, error pages, and
    ``FeedFastPath`` in front). With FUNNELFEED_BENCH_APP=router, the feeds router alone in a
    bare FastAPI app, wrapped in ``FeedFastPath`` when FUNNELFEED_BENCH_FASTPATH=1.
    """
    from fastapi import FastAPI

    from aggregator.outputs import install_token_redaction
    from aggregator.runtime import open_runtime
    from web.routes.feeds import FeedFastPath, router

    install_token_redaction()
    if os.environ.get("FUNNELFEED_BENCH_APP", "full") == "full":
        from web.app import create_app

        return create_app(open_runtime(os.environ["FUNNELFEED_BENCH_CONFIG"]))
    app = FastAPI()
    app.include_router(router)
    app.state.runtime = open_runtime(os.environ["FUNNELFEED_BENCH_CONFIG"])
    return FeedFastPath(app) if os.environ.get("FUNNELFEED_BENCH_FASTPATH") == "1" else app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(tmp: Path, base: str) -> Path:
    """config.yaml and a database holding 100 tagged items."""
    from aggregator.outputs.tokens import hash_token
    from aggregator.runtime import open_runtime
    from aggregator.types import ItemData

    path = tmp / "config.yaml"
    path.write_text(CONFIG.format(db=tmp / "bench.db", base=base))
    runtime = open_runtime(path)
    now = datetime.now(UTC)
    items = [ItemData(key=f"k{i}", title=f"Acme story number {i}", link=f"https://wire.example/{i}",
                      content_html=f"<p>Acme did thing {i}. " + "Lorem ipsum dolor sit amet. " * 20 + "</p>",
                      text="", published=now - timedelta(hours=i), content_hash=str(i), dedupe_key=f"d{i}")
             for i in range(100)]
    runtime.storage.store_items("wire", "external", items, now, lambda _s, batch: [
        [("prospect", "acme", 0.9, "alias"), ("stage", "pricing", 0.8, "model")] for _ in batch])
    runtime.storage.set_rep_token_hash("alice", hash_token(TOKEN), now)
    runtime.close()
    return path


def wait_for(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def process(args: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def wrk(url: str, duration: int, connections: int, etag: str | None, tmp: Path) -> dict[str, float]:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    if etag is not None:
        script = tmp / "inm.lua"
        script.write_text(f'wrk.headers["If-None-Match"] = {etag!r}\n')
        args += ["-s", str(script)]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"errors under load:\n{out}")
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),  # type: ignore[index]
            "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", out)[1]),  # type: ignore[index]
            "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", out)[1])}  # type: ignore[index]


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fastpath", action="store_true",
                        help="With --router-only: wrap the router in web.routes.feeds.FeedFastPath.")
    parser.add_argument("--router-only", action="store_true",
                        help="Serve the feeds router in a bare FastAPI app instead of the real web app.")
    opts = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (Debian: apt-get install wrk nginx-light)")
    tmp = Path(tempfile.mkdtemp(prefix="funnelfeed-bench-"))
    ff_port, nginx_port = free_port(), free_port()
    ff_base = f"http://127.0.0.1:{ff_port}"
    config = prepare(tmp, ff_base)
    feed_path = f"/f/{TOKEN}/all.atom"
    env = {**os.environ, "FUNNELFEED_BENCH_CONFIG": str(config), "PYTHONPATH": str(REPO),
           "FUNNELFEED_BENCH_FASTPATH": "1" if opts.fastpath else "0",
           "FUNNELFEED_BENCH_APP": "router" if opts.router_only else "full"}
    uvicorn = [sys.executable, "-m", "uvicorn", "bench.serve:app_factory", "--factory", "--host", "127.0.0.1",
               "--port", str(ff_port), "--workers", str(opts.workers), "--no-access-log", "--log-level",
               "warning"]
    for module, flag in (("uvloop", "--loop=uvloop"), ("httptools", "--http=httptools")):
        if _importable(module):
            uvicorn.append(flag)
    (tmp / "static").mkdir()
    (tmp / "nginx-body").mkdir()
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=nginx_port))
    results: dict[str, dict[str, float]] = {}
    with process(uvicorn, env), process(["nginx", "-p", str(tmp), "-c", str(tmp / "nginx.conf"),
                                         "-g", "daemon off;"]):
        wait_for(ff_base + feed_path)
        wait_for(f"http://127.0.0.1:{nginx_port}/")
        first = httpx.get(ff_base + feed_path)
        first.raise_for_status()
        (tmp / "static" / "all.atom").write_bytes(first.content)
        static_url = f"http://127.0.0.1:{nginx_port}/all.atom"
        static_etag = httpx.get(static_url).headers["etag"]
        for name, url, etag in (("funnelfeed", ff_base + feed_path, first.headers["etag"]),
                                ("nginx", static_url, static_etag)):
            assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304
            for i in range(opts.workers * 4):  # warm every worker's cache
                httpx.get(url, headers={"Connection": "close", "X-Warm": str(i)})
            results[f"{name} 200"] = wrk(url, opts.duration, opts.connections, None, tmp)
            results[f"{name} 304"] = wrk(url, opts.duration, opts.connections, etag, tmp)
    flags = " ".join(a for a in uvicorn if a.startswith(("--loop", "--http"))) or "asyncio/h11"
    if opts.router_only:
        served = f"bare router, FeedFastPath {'on' if opts.fastpath else 'off'}"
    else:
        served = "the real web app (web.app.create_app, FeedFastPath in front)"
    print(f"feed: {len(first.content)} bytes, 100 items; wrk -t2 -c{opts.connections} -d{opts.duration}s; "
          f"uvicorn --workers {opts.workers} {flags}; {served}")
    print(f"{'':16}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, r in results.items():
        print(f"{name:16}{r['rps']:>10.0f}{r['p50']:>10.2f}{r['p99']:>10.2f}")
    for kind in ("200", "304"):
        ratio = results[f"nginx {kind}"]["rps"] / results[f"funnelfeed {kind}"]["rps"]
        print(f"{kind}: nginx / funnelfeed = {ratio:.1f}x (target: within 4x)")
    shutil.rmtree(tmp, ignore_errors=True)


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
