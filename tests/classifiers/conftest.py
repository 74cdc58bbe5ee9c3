"""Shared fixtures for the tagging-engine tests.

The labelled news in ``shared/labels`` (beside the repository) is research-only
text: tests read it at run time and never copy it; they skip when it is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifiers import LabeledItem, ProspectProfile, labeled_from_dict

LABELS_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "labels"


def _need_labels() -> Path:
    if not (LABELS_DIR / "dev.jsonl").exists():
        pytest.skip(f"labelled dev set not found at {LABELS_DIR.resolve()} (shared/labels beside the repo)")
    return LABELS_DIR


@pytest.fixture(scope="session")
def dev_rows() -> list[dict[str, object]]:
    """The DEV rows as dicts (with note and origin, for choosing test cases)."""
    path = _need_labels() / "dev.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def dev_items(dev_rows: list[dict[str, object]]) -> list[LabeledItem]:
    return [labeled_from_dict(row) for row in dev_rows]


@pytest.fixture(scope="session")
def dev_profiles() -> list[ProspectProfile]:
    """The 40 prospects of shared/labels/prospects.yaml, loaded with the product's config loader."""
    from aggregator.config import load_config

    config = load_config(_need_labels() / "prospects.yaml")
    return [
        ProspectProfile(
            p.id,
            p.name,
            tuple(p.aliases),
            tuple(p.domains),
            tuple(p.people),
            tuple(p.keywords),
            tuple(p.negative_keywords),
        )
        for p in config.prospects
    ]
