"""The global pair classifier: its features, threshold choice and opt-in switch."""

from __future__ import annotations

import numpy as np
import pytest

from classifiers import LabeledItem, ProspectProfile, ProspectTagger, TextItem
from classifiers.matching import AliasMatcher
from classifiers.pairs import case_pattern, choose_threshold, pair_features, rescale

PROFILES = [
    ProspectProfile("apple", "Apple Inc.", ("Apple", "AAPL")),
    ProspectProfile("agilent", "Agilent Technologies, Inc.", ("Agilent", "A")),
]


def test_case_pattern() -> None:
    assert case_pattern("APPLE") == "upper"
    assert case_pattern("Apple") == "title"
    assert case_pattern("apple") == "lower"
    assert case_pattern("AbbVie") == "mixed"


def test_pair_features_describe_form_case_and_window() -> None:
    text = "Shares of Apple rose after the launch"
    mention = AliasMatcher(PROFILES).mentions(text)[0]
    feats = pair_features(text, len(text), False, False, mention, [mention], ["apple inc", "apple"], 1, 0)
    assert feats["form=full"] == 1.0
    assert feats["common_word"] == 1.0
    assert feats["case=title|sentence"] == 1.0
    assert {"L:shares", "L:of", "R:rose", "R:after", "R:the"} <= set(feats)
    assert "L:apple" not in feats and "R:launch" not in feats  # three words each side


def test_threshold_gives_best_recall_at_target_precision() -> None:
    y = np.array([1, 1, 1, 0, 1, 0, 0, 1, 0, 0])
    prob = np.array([0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    threshold = choose_threshold(y, prob, min_precision=0.75, floor=0.0)
    chosen = prob >= threshold
    assert (y[chosen].sum() / chosen.sum()) >= 0.75
    assert chosen.sum() == 5  # down to 0.7: 4 of 5 right; going further drops precision below 0.75
    assert rescale(threshold, threshold) == pytest.approx(0.5)
    assert rescale(0.0, threshold) == 0.0 and rescale(1.0, threshold) == pytest.approx(1.0)


def test_unknown_model_is_refused_and_environment_picks_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError):
        ProspectTagger(PROFILES, model="nope")
    monkeypatch.setenv("FUNNELFEED_PROSPECT_MODEL", "pairs")
    assert ProspectTagger(PROFILES).kind == "pairs"
    monkeypatch.delenv("FUNNELFEED_PROSPECT_MODEL")
    assert ProspectTagger(PROFILES).kind == "logistic"


def test_pairs_without_confirmed_items_fall_back_to_priors() -> None:
    item = TextItem("x", "Apple unveils new iPhone", "")
    assert ProspectTagger(PROFILES, model="pairs").tag_many([item]) == ProspectTagger(PROFILES).tag_many([item])


def test_pair_model_is_more_precise_on_held_out_dev_items(
    dev_items: list[LabeledItem], dev_profiles: list[ProspectProfile]
) -> None:
    """Each half trains the tagger that tags the other; counts are pooled over both directions.

    The pair threshold never goes below the default cut, so precision mode only ever drops tags.
    """
    halves = (dev_items[::2], dev_items[1::2])
    gold = sum(len(e.prospects) for e in dev_items)

    def precision_recall(model: str) -> tuple[float, float]:
        tp = tagged = 0
        for train, held in (halves, halves[::-1]):
            tagger = ProspectTagger(dev_profiles, model=model).fit((e.item, e.prospects) for e in train)
            assert tagger._threshold >= 0.5
            preds = tagger.tag_many([e.item for e in held])
            tp += sum(len(set(p) & set(e.prospects)) for p, e in zip(preds, held, strict=True))
            tagged += sum(len(p) for p in preds)
        return tp / max(1, tagged), tp / max(1, gold)

    pairs, logistic = precision_recall("pairs"), precision_recall("logistic")
    assert pairs[0] >= 0.9
    assert pairs[0] > logistic[0] and pairs[1] <= logistic[1], (pairs, logistic)
    assert pairs[1] >= 0.75


def test_pair_matrix_matches_dict_vectorizer() -> None:
    from sklearn.feature_extraction import DictVectorizer

    from classifiers.prospects import _matrix

    rows = [{"a": 1.0, "b": 0.5}, {"c": 2.0}, {}, {"a": -1.0, "zz": 3.0}]
    vectorizer = DictVectorizer().fit(rows[:3])
    expected = vectorizer.transform(rows).toarray()
    assert np.array_equal(_matrix(vectorizer.vocabulary_, rows).toarray(), expected)


def test_both_models_share_the_context_features(
    dev_items: list[LabeledItem], dev_profiles: list[ProspectProfile]
) -> None:
    items = [e.item for e in dev_items[:50]]
    for model in ProspectTagger.MODELS:
        tagger = ProspectTagger(dev_profiles, model=model)
        _index, rows, _priors = tagger._rows(items)
        scored = [row for row in rows if row and not row.get("trivial")]
        assert scored and all("evidence" in row and any(k.startswith("p:") for k in row) for row in scored)


def test_learned_scores_are_shrunk_towards_the_evidence_prior() -> None:
    """The model corrects the prior; a pattern it has never seen keeps the prior's sign."""
    from classifiers.prospects import MODEL_WEIGHT, _matrix, _PairModel

    rows = [{"a": 1.0, "evidence": 1.0}, {"b": 1.0, "evidence": -1.0}] * 10
    model = _PairModel().fit(rows, np.array([1, 0] * 10))
    raw = model._model.predict_proba(_matrix(model._vocabulary, rows[:2]))[:, 1]
    expected = 1 / (1 + np.exp(-(MODEL_WEIGHT * np.log(raw / (1 - raw)) + (1 - MODEL_WEIGHT) * np.array([1.0, -1.0]))))
    assert np.allclose(model.predict(rows[:2]), expected)
    assert 0 < MODEL_WEIGHT < 1
    assert model.predict([{"unseen": 1.0, "evidence": -3.0}])[0] < 0.5
    assert model.predict([{"unseen": 1.0, "evidence": 3.0}])[0] > 0.5
