"""Fetch benchmark: funnelfeed vs the `reader` library over the real-feed corpus.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/fetch.py [--feeds 300] [--latency 0.1] [--workers 16] [--repeat 3]

Both peers fetch the same N corpus feeds from one local server with added latency,
into a fresh SQLite file each: a full pass (storage, and for funnelfeed tagging,
included), then a second pass in which every feed answers 304.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from feedserver import FeedServer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout: the editable install maps classifiers as a namespace
CORPUS = REPO.parent / "shared" / "corpus" / "real-feeds"


def corpus_files(limit: int) -> list[Path]:
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file())
    return files[:limit]


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (from /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


class CpuMeter:
    """CPU seconds spent per role (this process, worker processes by role, the server) over a span.

    Wall time alone cannot say where a CPU-bound pass goes; these counters can.
    """

    def __init__(self, server: FeedServer, roles: dict[str, set[int]]) -> None:
        self._pids = {"server": {server.pid} if server.pid else set(), **roles}
        self._start: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        totals = {"main": time.process_time()}
        for role, pids in self._pids.items():
            totals[role] = sum(_cpu_seconds(pid) for pid in pids)
        return totals

    def __enter__(self) -> CpuMeter:
        self._start = self._now()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._now()
        self.spent = {role: end[role] - self._start[role] for role in end}

    def describe(self) -> str:
        parts = ", ".join(f"{role} {seconds:.2f}" for role, seconds in self.spent.items())
        return f"CPU {sum(self.spent.values()):.2f} s ({parts})"


def _children() -> set[int]:
    return {p.pid for p in multiprocessing.active_children() if p.pid is not None}


def _delta(before: tuple[int, int], after: tuple[int, int]) -> str:
    return f"{after[0] - before[0]} requests, {after[1] - before[1]} answered 304"


def run_funnelfeed(server: FeedServer, n: int, tmp: Path, concurrency: int, parse_workers: int = 2,
                   tag_workers: int = 2) -> dict[str, float]:
    from aggregator.pipeline import Pipeline
    from aggregator.runtime import open_runtime

    config = tmp / "config.yaml"
    lines = [
        f"database: sqlite:///{tmp / 'funnelfeed.db'}",
        "fetch:",
        "  allow_networks: [127.0.0.1/32]",
        f"  concurrency: {concurrency}",
        f"  per_host: {concurrency}",
        "  per_host_per_minute: 100000",
        "sources:",
    ]
    lines += [f"  - {{id: f{i}, url: '{server.url(i)}', kind: feed, visibility: external}}" for i in range(n)]
    config.write_text("\n".join(lines) + "\n")
    runtime = open_runtime(config)
    # Both cores parse, sanitise and tag.
    pipeline = Pipeline(runtime, parse_workers=parse_workers, tag_workers=tag_workers)
    pipeline.tagger()  # build the tagger (trains the seed model) outside the timed pass
    before = _children()
    pipeline.tag_pool()  # start the tagging processes
    tagging = _children() - before
    pipeline.fetcher.start_workers()  # and start the parse worker processes
    parsing = _children() - before - tagging
    specs = runtime.holder.sources

    async def one_pass() -> tuple[float, dict[str, int], str, CpuMeter]:
        before = server.counts()
        with CpuMeter(server, {"parse": parsing, "tag": tagging}) as meter:
            started = time.perf_counter()
            outcomes = await pipeline.run_pass(specs)
            elapsed = time.perf_counter() - started
        counts: dict[str, int] = {}
        for o in outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        return elapsed, counts, _delta(before, server.counts()), meter

    async def both() -> dict[str, float]:
        full, full_counts, full_requests, full_cpu = await one_pass()
        again, again_counts, again_requests, again_cpu = await one_pass()
        await pipeline.aclose()
        print(
            f"  funnelfeed full pass: {full_counts} ({full_requests}); second pass: {again_counts} "
            f"({again_requests}); items stored: {runtime.storage.count_items()}"
        )
        print(f"  funnelfeed full pass {full_cpu.describe()}; second pass {again_cpu.describe()}")
        return {"full_s": full, "not_modified_s": again, "full_cpu_s": sum(full_cpu.spent.values()),
                "not_modified_cpu_s": sum(again_cpu.spent.values())}

    result = asyncio.run(both())
    runtime.close()
    return result


def run_reader(server: FeedServer, n: int, tmp: Path, workers: int) -> dict[str, float]:
    from reader import make_reader

    reader = make_reader(str(tmp / "reader.db"))
    for i in range(n):
        reader.add_feed(server.url(i))
    # scheduled=False: reader otherwise skips feeds not yet due, and the second pass
    # would send no request at all.
    before = server.counts()
    with CpuMeter(server, {}) as full_cpu:
        started = time.perf_counter()
        reader.update_feeds(workers=workers, scheduled=False)
        full = time.perf_counter() - started
    middle = server.counts()
    with CpuMeter(server, {}) as again_cpu:
        started = time.perf_counter()
        reader.update_feeds(workers=workers, scheduled=False)
        again = time.perf_counter() - started
    print(f"  reader requests: full pass {_delta(before, middle)}; second pass {_delta(middle, server.counts())}")
    print(f"  reader full pass {full_cpu.describe()}; second pass {again_cpu.describe()}")
    entries = reader.get_entry_counts().total
    print(f"  reader entries stored: {entries}")
    reader.close()
    return {"full_s": full, "not_modified_s": again, "full_cpu_s": sum(full_cpu.spent.values()),
            "not_modified_cpu_s": sum(again_cpu.spent.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=16, help="reader's worker threads")
    parser.add_argument("--concurrency", type=int, default=64, help="funnelfeed's concurrent fetches")
    parser.add_argument("--skip-reader", action="store_true")
    parser.add_argument("--parse-workers", type=int, default=2, help="processes that parse and sanitise")
    parser.add_argument("--tag-workers", type=int, default=2, help="processes that tag")
    parser.add_argument("--repeat", type=int, default=1, help="runs of both peers, each on fresh databases")
    args = parser.parse_args()
    files = corpus_files(args.feeds)
    n = len(files)
    runs: list[dict[str, dict[str, float]]] = []
    with FeedServer(files, args.latency) as server, tempfile.TemporaryDirectory() as tmp:
        print(
            f"{n} corpus feeds ({sum(f.stat().st_size for f in files) / 1e6:.1f} MB), "
            f"{args.latency * 1000:.0f} ms latency"
        )
        for run in range(args.repeat):
            folder = Path(tmp) / f"run{run}"
            folder.mkdir()
            results = {"funnelfeed": run_funnelfeed(server, n, folder, args.concurrency, args.parse_workers,
                                                    args.tag_workers)}
            if not args.skip_reader:
                results["reader"] = run_reader(server, n, folder, args.workers)
            _report(results, n)
            runs.append(results)
    if len(runs) > 1 and not args.skip_reader:
        ratios = sorted(r["reader"]["full_s"] / r["funnelfeed"]["full_s"] for r in runs)
        print(f"over {len(runs)} runs: full pass {ratios[0]:.1f}x-{ratios[-1]:.1f}x reader, "
              f"median {statistics.median(ratios):.1f}x")
    print(json.dumps(runs if len(runs) > 1 else runs[0]))


def _report(results: dict[str, dict[str, float]], n: int) -> None:
    for name, r in results.items():
        print(
            f"{name:>10}: full pass {r['full_s']:6.2f} s ({n / r['full_s']:7.1f} feeds/s); "
            f"all-304 pass {r['not_modified_s']:6.2f} s ({n / r['not_modified_s']:7.1f} feeds/s)"
        )
    if "reader" in results:
        ratio = results["reader"]["full_s"] / results["funnelfeed"]["full_s"]
        ratio304 = results["reader"]["not_modified_s"] / results["funnelfeed"]["not_modified_s"]
        print(f"funnelfeed is {ratio:.1f}x faster than reader on a full pass, {ratio304:.1f}x on a 304 pass")

if __name__ == "__main__":
    main()
