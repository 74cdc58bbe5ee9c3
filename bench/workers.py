"""Scale-out benchmark: 1, 2 and 4 `funnelfeed worker` processes on one PostgreSQL database.

    .venv/bin/python bench/workers.py [--sources 600] [--latency 0.1] [--concurrency 8]

Starts a throw-away PostgreSQL server (initdb/pg_ctl, as in the tests) and a local feed
server with added latency, then for each worker count runs a fresh database through one
full pass and reports sources per second, measured from the first request the feed
server sees to the moment every source has a successful fetch recorded. Each worker is
limited to ``--concurrency`` fetches at once, as a real deployment limits each host.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers import feed_server  # noqa: E402
from tests.pg import create_database, postgres_server  # noqa: E402
from tests.scale.test_workers import start_workers, stop  # noqa: E402


def run(n_workers: int, n_sources: int, concurrency: int, server_url: str, feeds: object, tmp: Path) -> float:
    from sqlalchemy import create_engine, text

    db = create_database(server_url, f"bench{n_workers}")
    config = tmp / f"config{n_workers}.yaml"
    lines = [f"classifier: {{model_path: '{tmp / 'model.pkl'}'}}", "fetch:", "  allow_networks: [127.0.0.1/32]",
             f"  concurrency: {concurrency}", f"  per_host: {concurrency}", "  per_host_per_minute: 1000000",
             "sources:"]
    base = feeds.base  # type: ignore[attr-defined]
    lines += [f"  - {{id: s{i}, url: '{base}/feed/{n_workers}-{i}.xml', kind: feed, visibility: external}}"
              for i in range(n_sources)]
    config.write_text("\n".join(lines) + "\n")
    feeds.hits.clear()  # type: ignore[attr-defined]
    procs = start_workers(n_workers, config, db, tmp)
    engine = create_engine(db)
    first = None
    try:
        while True:
            if first is None and sum(feeds.hits.values()):  # type: ignore[attr-defined]
                first = time.perf_counter()
            try:
                with engine.connect() as conn:
                    done = conn.execute(text("SELECT count(*) FROM sources WHERE last_success IS NOT NULL")).scalar()
            except Exception:
                done = 0
            if done == n_sources:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - (first or time.perf_counter())
    finally:
        stop(procs)
        engine.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sources", type=int, default=600)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    feeds = feed_server(latency=args.latency)
    with postgres_server() as server_url, feeds.running(), tempfile.TemporaryDirectory() as tmp:
        results = {}
        for n in (int(w) for w in args.workers.split(",")):
            elapsed = run(n, args.sources, args.concurrency, server_url, feeds, Path(tmp))
            results[n] = elapsed
            rate = args.sources / elapsed
            print(f"{n} worker(s): {args.sources} sources in {elapsed:5.2f} s = {rate:6.1f} sources/s "
                  f"(x{results[min(results)] / elapsed:.2f} vs {min(results)} worker)", flush=True)


if __name__ == "__main__":
    main()
