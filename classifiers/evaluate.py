"""Cross-validated evaluation of prospect and stage tagging, with the baselines to beat.

Every score is measured on items the models never trained on: for each fold the
stage model learns from seeds + stage vocabulary + the other folds, and prospect
profiles see confirmed items from the other folds only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from classifiers.metrics import Report, score
from classifiers.prospects import ProspectTagger
from classifiers.text import item_text
from classifiers.training import gather, seed_examples, train, vocab_examples
from classifiers.types import STAGES, LabeledItem, ProspectProfile

# A plain keyword list per stage, the kind support staff would write first.
KEYWORD_BASELINE: dict[str, tuple[str, ...]] = {
    "prospecting": ("expand", "expansion", "launch", "new product", "opens", "acquire", "funding", "hires"),
    "qualifying": ("profit", "loss", "earnings", "results", "revenue", "layoffs", "restructuring", "guidance"),
    "pricing": ("price", "prices", "fares", "discount", "vendor", "supplier"),
    "proposing": ("appoints", "names", "ceo", "tender", "rfp", "bids", "resigns", "steps down"),
    "negotiating": ("lawsuit", "sues", "court", "regulator", "fine", "antitrust", "judge", "tariff"),
    "closing": ("contract", "deal", "signs", "agreement", "partnership", "awarded", "order", "approves"),
    "delivering": ("rollout", "rolls out", "goes live", "delivery", "deliveries", "installation", "integration"),
    "servicing": ("outage", "recall", "complaint", "complaints", "hack", "refund", "boycott", "renews"),
}


@dataclass(frozen=True)
class Evaluation:
    """Reports of one cross-validated run (and, when asked, its baselines)."""

    prospects: Report
    stages: Report
    baselines: dict[str, Report]


def _folds(n: int, k: int, seed: int) -> np.ndarray:
    return np.random.RandomState(seed).permutation(n) % k


def _stage_sets(matrix: np.ndarray) -> list[set[str]]:
    return [{s for j, s in enumerate(STAGES) if row[j]} for row in matrix]


def keyword_stages(text: str, vocab: Mapping[str, Sequence[str]]) -> set[str]:
    """Stages whose keywords occur in ``text`` as whole words (the keyword baseline)."""
    words = f" {' '.join(text.lower().split())} ".replace(",", " ").replace(".", " ").replace(":", " ")
    return {stage for stage, keys in vocab.items() if any(f" {k.lower()} " in words for k in keys)}


def _logreg_baseline(train_items: Sequence[LabeledItem], test_texts: list[str]) -> list[set[str]]:
    """Class-balanced word TF-IDF + one-vs-rest logistic regression at 0.5."""
    texts = [item_text(e.item) for e in train_items]
    y = np.array([[int(s in e.stages) for s in STAGES] for e in train_items])
    vectorizer = TfidfVectorizer(sublinear_tf=True)
    present = [j for j in range(len(STAGES)) if 0 < y[:, j].sum() < len(y)]
    model = OneVsRestClassifier(LogisticRegression(class_weight="balanced", max_iter=2000))
    model.fit(vectorizer.fit_transform(texts), y[:, present])
    predicted = model.predict(vectorizer.transform(test_texts))
    return [{STAGES[present[j]] for j in range(len(present)) if row[j]} for row in predicted]


def cross_validate(
    labeled: Sequence[LabeledItem],
    profiles: Sequence[ProspectProfile],
    vocab: Mapping[str, Sequence[str]] | None = None,
    folds: int = 5,
    seed: int = 0,
    min_prospect_score: float = 0.5,
    baselines: bool = False,
    prospect_model: str | None = None,
) -> Evaluation:
    """K-fold evaluation of the real tagger (and optionally the baselines) on ``labeled``."""
    vocab = vocab or {}
    n = len(labeled)
    if n < folds:
        raise ValueError(f"need at least {folds} labelled items for {folds}-fold cross-validation, got {n}")
    fold_of = _folds(n, folds, seed)
    texts = [item_text(e.item) for e in labeled]
    stage_pred: list[set[str]] = [set() for _ in range(n)]
    prospect_pred: list[set[str]] = [set() for _ in range(n)]
    base_lr: list[set[str]] = [set() for _ in range(n)]
    for f in range(folds):
        train_idx = [i for i in range(n) if fold_of[i] != f]
        test_idx = [i for i in range(n) if fold_of[i] == f]
        training = gather(vocab=vocab, extra_examples=[labeled[i] for i in train_idx])
        model = train(training)
        for i, tags in zip(test_idx, model.stage_model.predict([texts[i] for i in test_idx]), strict=True):
            stage_pred[i] = set(tags)
        tagger = ProspectTagger(profiles, min_score=min_prospect_score, model=prospect_model)
        tagger.fit((labeled[i].item, labeled[i].prospects) for i in train_idx)
        for i, ptags in zip(test_idx, tagger.tag_many([labeled[i].item for i in test_idx]), strict=True):
            prospect_pred[i] = set(ptags)
        if baselines:
            for i, tags_ in zip(test_idx, _logreg_baseline(training, [texts[i] for i in test_idx]), strict=True):
                base_lr[i] = tags_
    ids = [e.item.id for e in labeled]
    gold_stages = [set(e.stages) for e in labeled]
    gold_prospects = [set(e.prospects) for e in labeled]
    prospect_ids = [p.id for p in profiles]
    result_baselines: dict[str, Report] = {}
    if baselines:
        result_baselines = _baselines(labeled, profiles, vocab, texts, ids, base_lr)
    return Evaluation(
        score("prospects", gold_prospects, prospect_pred, prospect_ids, ids),
        score("stages", gold_stages, stage_pred, STAGES, ids),
        result_baselines,
    )


def _baselines(
    labeled: Sequence[LabeledItem],
    profiles: Sequence[ProspectProfile],
    vocab: Mapping[str, Sequence[str]],
    texts: list[str],
    ids: list[str],
    logreg: list[set[str]],
) -> dict[str, Report]:
    gold_stages = [set(e.stages) for e in labeled]
    gold_prospects = [set(e.prospects) for e in labeled]
    keywords = {s: [*KEYWORD_BASELINE.get(s, ()), *vocab.get(s, ())] for s in STAGES}
    seeds_only = train(seed_examples() + vocab_examples(vocab)).stage_model.predict(texts)
    naive = ProspectTagger(profiles)
    naive_pred = [
        {m.prospect for m in naive.matcher.mentions(text) if not m.lowercase}
        | set(naive.matcher.domain_prospects(e.item.link))
        for e, text in zip(labeled, texts, strict=True)
    ]
    prospect_ids = [p.id for p in profiles]
    return {
        "stages: TF-IDF + one-vs-rest logistic regression (class-balanced, same training data)": score(
            "stages", gold_stages, logreg, STAGES, ids
        ),
        "stages: keyword list": score("stages", gold_stages, [keyword_stages(t, keywords) for t in texts], STAGES, ids),
        "stages: shipped seeds only, no labelled items": score(
            "stages", gold_stages, [set(p) for p in seeds_only], STAGES, ids
        ),
        "prospects: whole-word names and tickers": score("prospects", gold_prospects, naive_pred, prospect_ids, ids),
        "prospects: before any confirmed items (priors only)": score(
            "prospects", gold_prospects, [set(p) for p in naive.tag_many([e.item for e in labeled])], prospect_ids, ids
        ),
    }
