"""The floor of a full pass: the same work in one process, without HTTP or worker processes.

    .venv/bin/python bench/floor.py [--feeds 300] [--repeat 3] [--fastfeedparser PYTHON]

Parses every corpus feed (the feedparser-exact path funnelfeed uses), builds its items
(nh3 sanitising, plain text, keys, dates), tags them with a cold tagger in batches of 64
and stores them in a fresh SQLite file, timing each step in CPU seconds; then times
funnelfeed's HTTP client alone fetching the same feeds from the local feed server. The sum
is what a pass costs with nothing spent on moving work between processes: the fastest a
two-core machine could possibly do it is half of it. ``--fastfeedparser PYTHON`` also times
fastfeedparser (an lxml parser that is not feedparser-exact) with that interpreter, for
comparison; it is not a dependency of funnelfeed.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from feedserver import FeedServer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fetch import corpus_files  # noqa: E402  (bench/ sibling; needs the path above first)

BATCH = 64


def steps(files: list[Path]) -> dict[str, float]:
    """CPU seconds of parse, build, tag and store over ``files``, in this process."""
    from aggregator.fetch.errors import FetchError
    from aggregator.fetch.feeds import parse_feed
    from aggregator.fetch.items import build_items
    from aggregator.runtime import open_runtime
    from aggregator.storage import StoreRequest
    from aggregator.tagging import ItemTagger, tag_inputs

    bodies = [f.read_bytes() for f in files]
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(f"database: sqlite:///{Path(tmp) / 'floor.db'}\nsources:\n" + "".join(
            f"  - {{id: f{i}, url: 'https://f{i}.example/feed', kind: feed, visibility: external}}\n"
            for i in range(len(bodies))))
        runtime = open_runtime(config)
        specs = {s.id: s for s in runtime.holder.sources}
        tagger = ItemTagger(runtime.config)
        spent: dict[str, float] = {}

        started = time.process_time()
        feeds = []
        for index, body in enumerate(bodies):
            try:
                feeds.append((f"f{index}", parse_feed(body, url=f"https://f{index}.example/feed",
                                                      content_type="application/xml")))
            except FetchError:
                continue  # not a feed (the JSON and gzip files take other paths in a real pass)
        spent["parse"] = time.process_time() - started

        started = time.process_time()
        built = [(sid, build_items(feed.entries, base_url=f"https://{sid}.example/feed", now=now))
                 for sid, feed in feeds]
        spent["build"] = time.process_time() - started

        started = time.process_time()
        flat = [(sid, item) for sid, items in built for item in items]
        tags = {}
        for start in range(0, len(flat), BATCH):
            chunk = flat[start:start + BATCH]
            inputs = [i for sid, item in chunk for i in tag_inputs(specs[sid], [item])]
            for (sid, item), item_tags in zip(chunk, tagger.tag_inputs(inputs), strict=True):
                tags[(sid, item.key)] = item_tags
        spent["tag"] = time.process_time() - started

        started = time.process_time()
        requests = [StoreRequest(sid, "external", items, now,
                                 lambda source, items: [tags[(source, i.key)] for i in items])
                    for sid, items in built]
        for start in range(0, len(requests), 32):
            runtime.storage.store_batch(requests[start:start + 32])
        spent["store"] = time.process_time() - started
        spent["items"] = float(len(flat))
        runtime.close()
    return spent


def http_only(files: list[Path], concurrency: int = 64) -> float:
    """CPU seconds of funnelfeed's HTTP client fetching every file from the local feed server."""
    from aggregator.fetch import http
    from aggregator.fetch.netguard import HopPolicy, parse_networks

    allowed = parse_networks(["127.0.0.1/32"])

    async def run(server: FeedServer) -> float:
        client = http.build_client(allowed=allowed, timeout=20, concurrency=concurrency, contact="bench@example.com")
        policy = HopPolicy(allowed, True, "127.0.0.1")
        slots = asyncio.Semaphore(concurrency)

        async def one(index: int) -> None:
            async with slots:
                await http.get(client, server.url(index), headers={}, secret_headers={}, policy=policy,
                               max_bytes=10_000_000, max_redirects=5, timeout=20)

        started = time.process_time()
        await asyncio.gather(*(one(i) for i in range(len(files))))
        spent = time.process_time() - started
        await client.aclose()
        return spent

    with FeedServer(files, 0.1) as server:
        return asyncio.run(run(server))


_FASTFEEDPARSER = """
import sys, time, fastfeedparser
bodies = [open(p, 'rb').read() for p in sys.argv[1:]]
started = time.process_time(); failed = 0
for body in bodies:
    try:
        fastfeedparser.parse(body)
    except Exception:
        failed += 1
print(f"{time.process_time() - started:.2f} {failed}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fastfeedparser", metavar="PYTHON", help="an interpreter with fastfeedparser installed")
    args = parser.parse_args()
    files = corpus_files(args.feeds)
    if not files:
        sys.exit("the shared corpus is absent (../shared/corpus/real-feeds)")
    for run in range(1, args.repeat + 1):
        spent = steps(files)
        http_cpu = http_only(files)
        work = spent["parse"] + spent["build"] + spent["tag"] + spent["store"]
        print(f"run {run}: {int(spent['items'])} items; parse {spent['parse']:.2f}, build {spent['build']:.2f}, "
              f"tag {spent['tag']:.2f}, store {spent['store']:.2f} = {work:.2f} CPU-s; HTTP client "
              f"{http_cpu:.2f}; total {work + http_cpu:.2f} CPU-s, so at least {(work + http_cpu) / 2:.2f} s "
              "on two cores")
        if args.fastfeedparser:
            out = subprocess.run([args.fastfeedparser, "-c", _FASTFEEDPARSER, *map(str, files)],
                                 capture_output=True, text=True, check=True).stdout.split()
            print(f"  fastfeedparser would parse them in {out[0]} CPU-s ({out[1]} files fail)")


if __name__ == "__main__":
    main()
