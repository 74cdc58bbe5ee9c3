"""Prospect disambiguation on real items from the labelled DEV set (read at test time)."""

from __future__ import annotations

from typing import TypeVar

import pytest

from classifiers import LabeledItem, ProspectProfile, ProspectTagger

# Notes in dev.jsonl that mark a prospect's name used in its ordinary sense.
ORDINARY = (
    "in ordinary sense",
    "trade gap",
    "square foot",
    "Nextel Cup is a race",
    "Chrysler Championship",
    "Barclays Premiership",
)


T = TypeVar("T")


def _split(items: list[T]) -> tuple[list[T], list[T]]:
    return items[::2], items[1::2]


def test_ordinary_uses_of_names_are_not_tagged(
    dev_rows: list[dict[str, object]], dev_items: list[LabeledItem], dev_profiles: list[ProspectProfile]
) -> None:
    train, held = _split(list(zip(dev_rows, dev_items, strict=True)))
    tagger = ProspectTagger(dev_profiles).fit((item.item, item.prospects) for _, item in train)
    cases = [(row, item) for row, item in held if any(k in str(row["note"]) for k in ORDINARY)]
    assert len(cases) >= 15
    wrong = []
    for (_row, item), tags in zip(cases, tagger.tag_many([item.item for _, item in cases]), strict=True):
        extra = set(tags) - set(item.prospects)
        if extra:
            wrong.append((item.item.title, sorted(extra)))
    assert len(wrong) <= len(cases) // 10, wrong


def test_disambiguation_beats_naive_matching(dev_items: list[LabeledItem], dev_profiles: list[ProspectProfile]) -> None:
    train, held = _split(dev_items)
    fitted = ProspectTagger(dev_profiles).fit((e.item, e.prospects) for e in train)
    naive = ProspectTagger(dev_profiles)

    def precision(tagger: ProspectTagger) -> float:
        preds = tagger.tag_many([e.item for e in held])
        tp = sum(len(set(p) & set(e.prospects)) for p, e in zip(preds, held, strict=True))
        return tp / max(1, sum(len(p) for p in preds))

    assert precision(fitted) > precision(naive) + 0.08


@pytest.mark.parametrize("prospect", ["target", "gap"])
def test_most_ambiguous_names_rarely_fire_wrongly(
    prospect: str, dev_items: list[LabeledItem], dev_profiles: list[ProspectProfile]
) -> None:
    train, held = _split(dev_items)
    tagger = ProspectTagger(dev_profiles).fit((e.item, e.prospects) for e in train)
    preds = tagger.tag_many([e.item for e in held])
    false = sum(1 for p, e in zip(preds, held, strict=True) if prospect in p and prospect not in e.prospects)
    mentions = sum(1 for e in held if prospect in (e.item.title + e.item.summary).lower())
    assert false <= max(1, mentions // 5)
