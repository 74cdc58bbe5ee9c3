"""Benchmark the tagger: items tagged per second on one core, with 40 and 5,000 prospects, and training time.

Usage: .venv/bin/python bench/tag.py [--items 2000] [--labels ../shared/labels/dev.jsonl] [--repeat 3]

Items are synthetic headlines (plus the labelled DEV set when present, which is
only read, never stored). Thread pools are pinned to one thread so the figure is
per core.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from classifiers import ProspectProfile, Tagger, TextItem, gather, read_jsonl, train  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_LABELS = REPO / ".." / "shared" / "labels" / "dev.jsonl"
BASE = [
    ProspectProfile("apple", "Apple Inc.", ("Apple", "AAPL"), ("apple.com",)),
    ProspectProfile("target", "Target Corporation", ("Target", "TGT"), ("target.com",)),
    ProspectProfile("ford", "Ford Motor Company", ("Ford", "F"), ("ford.com",)),
    ProspectProfile("shell", "Shell plc", ("Shell", "Royal Dutch Shell"), ("shell.com",)),
]
WORDS = ["acme", "global", "north", "river", "stone", "bright", "nova", "core", "delta", "prime", "atlas", "summit"]


def profiles(count: int) -> list[ProspectProfile]:
    """The base prospects plus generated ones up to ``count`` (names, aliases, tickers, domains)."""
    rng = random.Random(1)
    out = list(BASE)
    for i in range(count - len(out)):
        name = f"{rng.choice(WORDS).title()}{i} {rng.choice(['Systems', 'Foods', 'Bank', 'Energy'])}"
        ticker = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4)) + str(i % 10)
        out.append(ProspectProfile(f"gen{i}", name + " Inc.", (name, ticker), (f"gen{i}.example.com",)))
    return out


def items(count: int, prospects: list[ProspectProfile], labels: Path) -> list[TextItem]:
    """Synthetic headlines naming random prospects (some in ordinary senses), plus DEV items if present."""
    rng = random.Random(2)
    templates = [
        "{n} signs supply deal with {m}",
        "{n} recalls products after complaints",
        "Analysts target {n} after results",
        "apple pie and shell game at {m} fair",
        "{n} names new chief financial officer",
        "Markets fall; {n} and {m} shares slip",
    ]
    out = [
        TextItem(
            str(i),
            rng.choice(templates).format(n=rng.choice(prospects).name, m=rng.choice(prospects).name),
            "A short summary of the story about the company and its plans for next year.",
        )
        for i in range(count)
    ]
    if labels.exists():
        out[: len(out) // 2] = [e.item for e in read_jsonl(labels)][: len(out) // 2]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is reported")
    args = parser.parse_args()
    start = time.perf_counter()
    examples = gather(label_files=[args.labels] if args.labels.exists() else [])
    model = train(examples)
    print(f"train: {len(examples)} examples in {time.perf_counter() - start:.1f} s")
    for count in (40, 5000):
        prospects = profiles(count)
        batch = items(args.items, prospects, args.labels)
        built, many, single = [], [], []
        for _ in range(args.repeat):
            # CPU time of this process (the machine may be shared); a new tagger each run, so
            # every run starts with cold per-word caches, as a freshly started process does.
            start = time.process_time()
            tagger = Tagger(prospects, model)
            built.append(time.process_time() - start)
            start = time.process_time()
            tagger.tag_many(batch)
            many.append(time.process_time() - start)
            start = time.process_time()
            for item in batch[:200]:
                tagger.tag(item)
            single.append((time.process_time() - start) / 200)
        print(
            f"{count:5d} prospects: build {min(built):.1f} s; tag_many {len(batch) / min(many):,.0f} items/s; "
            f"tag one at a time {1 / min(single):,.0f} items/s (CPU time, best of {args.repeat})"
        )


if __name__ == "__main__":
    main()
