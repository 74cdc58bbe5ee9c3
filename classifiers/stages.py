"""Multi-label funnel-stage classifier: TF-IDF word + char features, one linear model per stage.

Each stage gets its own probability threshold, chosen on out-of-fold predictions
of the training data, because stages differ a lot in how often they occur and in
how well their words separate them; an item may end up with no stage at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold

from classifiers.features import CharNgramVectorizer
from classifiers.types import STAGES

DEFAULT_THRESHOLD = 0.5


@dataclass
class StageModelParams:
    """Knobs of the stage model; defaults were picked by cross-validation on labelled news."""

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    c: float = 25.0  # 4 before; 25 was best of 2-100 in 5-fold CV on the DEV labels (0.629 vs 0.616 micro-F1)
    inner_folds: int = 4
    min_threshold: float = 0.15
    max_threshold: float = 0.85


def _vectorizers(params: StageModelParams) -> tuple[TfidfVectorizer, CharNgramVectorizer]:
    words = TfidfVectorizer(
        ngram_range=params.word_ngrams, sublinear_tf=True, min_df=1, lowercase=True, strip_accents="unicode"
    )
    # Same features as TfidfVectorizer(analyzer="char_wb", min_df=2, sublinear_tf=True), several times faster.
    chars = CharNgramVectorizer(params.char_ngrams, min_df=2)
    return words, chars


def _best_threshold(scores: np.ndarray, truth: np.ndarray, params: StageModelParams) -> float:
    """Threshold maximising F1 on out-of-fold scores (the default when there are no positives)."""
    if truth.sum() == 0:
        return DEFAULT_THRESHOLD
    best, best_f1 = DEFAULT_THRESHOLD, -1.0
    for threshold in np.arange(params.min_threshold, params.max_threshold + 1e-9, 0.025):
        predicted = scores >= threshold
        tp = float((predicted & truth).sum())
        f1 = 2 * tp / (predicted.sum() + truth.sum()) if predicted.sum() + truth.sum() else 0.0
        if f1 > best_f1 + 1e-9:
            best, best_f1 = round(float(threshold), 3), f1
    return best


@dataclass
class _LinearScores:
    """One logistic model per stage, stacked so a batch is scored with one sparse x dense product."""

    coef: np.ndarray  # features x stages
    intercept: np.ndarray  # stages
    constant: dict[int, float] = field(default_factory=dict)  # stages never (or always) seen in training

    def scores(self, matrix: sparse.csr_matrix) -> np.ndarray:
        margin = np.asarray(matrix @ self.coef) + self.intercept
        out = 1.0 / (1.0 + np.exp(-margin))
        for j, value in self.constant.items():
            out[:, j] = value
        return out


@dataclass
class StageModel:
    """Fitted stage classifier: vectorisers, one model per stage and a threshold per stage."""

    params: StageModelParams = field(default_factory=StageModelParams)
    stages: tuple[str, ...] = STAGES
    vectorizers: tuple[TfidfVectorizer, CharNgramVectorizer] | None = None
    models: _LinearScores | None = None
    thresholds: dict[str, float] = field(default_factory=dict)

    def _features(self, texts: Sequence[str], fit: bool = False) -> sparse.csr_matrix:
        if fit or self.vectorizers is None:
            self.vectorizers = _vectorizers(self.params)
            return sparse.hstack([v.fit_transform(texts) for v in self.vectorizers]).tocsr()
        return sparse.hstack([v.transform(texts) for v in self.vectorizers]).tocsr()

    def _fit_models(self, matrix: sparse.csr_matrix, labels: np.ndarray, weights: np.ndarray) -> _LinearScores:
        """One class-balanced logistic regression per stage, kept as stacked coefficients."""
        coef = np.zeros((matrix.shape[1], len(self.stages)))
        intercept = np.zeros(len(self.stages))
        constant: dict[int, float] = {}
        for j in range(len(self.stages)):
            y = labels[:, j]
            if y.min() == y.max():  # a stage never (or always) seen: a constant
                constant[j] = float(y.max())
                continue
            model = LogisticRegression(C=self.params.c, class_weight="balanced", max_iter=3000)
            model.fit(matrix, y, sample_weight=weights)
            coef[:, j] = model.coef_.ravel()
            intercept[j] = float(model.intercept_[0])
        return _LinearScores(coef, intercept, constant)

    def fit(
        self,
        texts: Sequence[str],
        labels: np.ndarray,
        weights: np.ndarray,
        tune_mask: np.ndarray | None = None,
    ) -> StageModel:
        """Fit on ``texts`` with 0/1 ``labels`` (n x stages); tune thresholds out-of-fold.

        ``tune_mask`` marks the examples whose out-of-fold scores choose the thresholds
        (real labelled items rather than seeds, when there are enough of them).
        """
        labels = np.asarray(labels, dtype=int)
        weights = np.asarray(weights, dtype=float)
        mask = np.ones(len(texts), dtype=bool) if tune_mask is None else np.asarray(tune_mask, dtype=bool)
        if mask.sum() < 40:
            mask = np.ones(len(texts), dtype=bool)
        oof = np.zeros(labels.shape)
        folds = KFold(n_splits=self.params.inner_folds, shuffle=True, random_state=0)
        for train_idx, test_idx in folds.split(texts):
            inner = StageModel(self.params, self.stages)
            matrix = inner._features([texts[i] for i in train_idx], fit=True)
            models = inner._fit_models(matrix, labels[train_idx], weights[train_idx])
            oof[test_idx] = models.scores(inner._features([texts[i] for i in test_idx]))
        self.thresholds = {
            stage: _best_threshold(oof[mask, j], labels[mask, j].astype(bool), self.params)
            for j, stage in enumerate(self.stages)
        }
        self.models = self._fit_models(self._features(texts, fit=True), labels, weights)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Score per item and stage, in ``self.stages`` order."""
        if self.models is None:
            raise ValueError("stage model is not fitted")
        return self.models.scores(self._features(texts))

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Stages at or above their thresholds, with scores, per item."""
        scores = self.predict_proba(texts)
        return [
            {s: round(float(row[j]), 4) for j, s in enumerate(self.stages) if row[j] >= self.thresholds[s]}
            for row in scores
        ]
