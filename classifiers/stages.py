"""Multi-label funnel-stage classifier: a linear model per stage, blended with nearest neighbours.

Features are TF-IDF words, TF-IDF character n-grams and the hand-written stage cue
groups of ``stage_cues`` (in the whole text and in its lead). Each stage's score is
a blend of a class-balanced logistic regression and the weighted share of that
stage among the item's nearest training examples: the linear model generalises
from words and cues, the neighbours follow how recurring kinds of story (dividend
notices, broker ratings, appointment notices) were labelled.

Each stage gets its own threshold, chosen on out-of-fold scores of the training
data, because stages differ a lot in how often they occur and in how well their
words separate them; an item may end up with no stage at all. With enough real
labelled items the thresholds of the common stages are then moved to raise
micro-F1 over all stages together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold

from classifiers.features import CharNgramVectorizer, TokenBatch, TokenTable, WordNgramVectorizer, unit_rows
from classifiers.stage_cues import CueFeatures
from classifiers.types import STAGES

DEFAULT_THRESHOLD = 0.5
_MAX_SIMILARITIES = 4_000_000  # dense item x example cells per step of the neighbour search (32 MB)


@dataclass
class StageModelParams:
    """Knobs of the stage model; defaults were picked by cross-validation on labelled news.

    Figures below are 5-fold micro-F1 on the DEV labels, averaged over fold splits (six for the cue and
    neighbour knobs, four for ``c`` and the thresholds).
    """

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    c: float = 50.0  # 25 before: 0.665 vs 0.669 with micro thresholds (4 splits); 100 the same as 50
    # Cue groups: broad in text, broad in lead, detailed in text, detailed in lead (0.2 or 0.3 each: worse).
    cue_weights: tuple[float, float, float, float] = (0.15, 0.15, 0.1, 0.1)
    neighbours: int = 10  # 7, 15 and 20 were worse
    neighbour_share: float = 0.45  # of the blended score; 0.35 and 0.6 were worse
    neighbour_prior: float = 0.1  # pseudo-weight of the training share of a stage among the neighbours
    inner_folds: int = 4
    # Thresholds: per-stage best F1, then rounds of coordinate ascent on micro-F1 (0.669 vs 0.665 without),
    # moving only stages with enough positives to trust: with all stages moved, rare ones (servicing,
    # delivering) lost most of what corrections taught them (pooled half/half test: servicing +0.02 vs +0.11).
    micro_rounds: int = 2
    micro_min_positives: int = 30
    min_threshold: float = 0.15
    max_threshold: float = 0.85


class StageFeatures:
    """Word TF-IDF, character n-gram TF-IDF and cue groups, side by side in one sparse matrix."""

    def __init__(self, params: StageModelParams) -> None:
        # The same features as scikit-learn's TfidfVectorizer (words with strip_accents="unicode";
        # analyzer="char_wb" with min_df=2), several times faster.
        self.words = WordNgramVectorizer(params.word_ngrams, min_df=1)
        self.chars = CharNgramVectorizer(params.char_ngrams, min_df=2)
        self.cues = CueFeatures(params.cue_weights)
        self._tokens = TokenTable()

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state.pop("_tokens", None)  # rebuilt on use; model files as they always were
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._tokens = TokenTable()

    def fit_transform(self, texts: Sequence[str]) -> Blocks:
        return Blocks(self.words.fit_transform(texts), self.chars.fit_transform(texts), self.cues.transform(texts))

    def transform(self, texts: Sequence[str]) -> Blocks:
        """The three blocks from one split of the texts into tokens (each block as its own ``transform`` gives)."""
        batch = TokenBatch.of(texts, self._tokens)
        return Blocks(self.words.transform_tokens(batch), self.chars.transform_tokens(batch),
                      self.cues.transform_tokens(batch))


@dataclass(frozen=True)
class Blocks:
    """The feature blocks of a batch: the linear models see all three, the neighbours words and cues."""

    words: sparse.csr_matrix
    chars: sparse.csr_matrix
    cues: sparse.csr_matrix

    def linear(self) -> sparse.csr_matrix:
        return sparse.hstack([self.words, self.chars, self.cues], format="csr")

    def neighbour(self) -> sparse.csr_matrix:
        return sparse.hstack([self.words, self.cues], format="csr")


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


def _micro_thresholds(
    scores: np.ndarray, truth: np.ndarray, start: list[float], params: StageModelParams
) -> list[float]:
    """Thresholds raising micro-F1 (what a rep sees: all tags together), one stage at a time from ``start``.

    Best-F1-per-stage thresholds favour recall on stages the model is unsure of, which
    costs more false tags overall than it wins; only stages with at least
    ``micro_min_positives`` positives move, so rare stages keep their own thresholds.
    """
    grid = np.arange(params.min_threshold, params.max_threshold + 1e-9, 0.025)
    current = list(start)
    predicted = scores >= np.array(current)
    tp = (predicted & truth).sum(axis=0).astype(float)
    tagged = predicted.sum(axis=0).astype(float)
    positives = float(truth.sum())
    for _ in range(params.micro_rounds):
        for j in range(scores.shape[1]):
            if truth[:, j].sum() < max(1, params.micro_min_positives):
                continue
            other_tp, other_tagged = tp.sum() - tp[j], tagged.sum() - tagged[j]
            best_f1 = -1.0
            for threshold in grid:
                hit = scores[:, j] >= threshold
                f1 = 2 * (other_tp + (hit & truth[:, j]).sum()) / (other_tagged + hit.sum() + positives)
                if f1 > best_f1 + 1e-9:
                    current[j], best_f1 = round(float(threshold), 3), f1
            hit = scores[:, j] >= current[j]
            tp[j], tagged[j] = float((hit & truth[:, j]).sum()), float(hit.sum())
    return current


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
class _Neighbours:
    """Cosine nearest neighbours among the training examples: the weighted share of each stage among them."""

    examples: sparse.csr_matrix  # training rows, unit length, transposed for the similarity product
    labels: np.ndarray  # examples x stages, 0/1
    weights: np.ndarray  # examples
    prior: np.ndarray  # stages: share in training
    k: int
    prior_weight: float

    @classmethod
    def fit(
        cls, matrix: sparse.csr_matrix, labels: np.ndarray, weights: np.ndarray, params: StageModelParams
    ) -> _Neighbours:
        return cls(
            sparse.csr_matrix(unit_rows(matrix).T),
            labels.astype(float),
            weights.astype(float),
            labels.mean(axis=0),
            params.neighbours,
            params.neighbour_prior,
        )

    def scores(self, matrix: sparse.csr_matrix) -> np.ndarray:
        rows = unit_rows(matrix)
        step = max(1, _MAX_SIMILARITIES // max(1, self.examples.shape[1]))  # bounded memory for a big training set
        if 0 < rows.shape[0] <= step:
            return self._scores(rows)  # one step: no copy of the rows (the same scores)
        return np.vstack([self._scores(rows[start:start + step]) for start in range(0, rows.shape[0], step)]
                         or [np.zeros((0, self.labels.shape[1]))])

    def _scores(self, rows: sparse.csr_matrix) -> np.ndarray:
        similarity = np.asarray((rows @ self.examples).todense())
        n = similarity.shape[1]
        k = min(self.k, n)
        nearest = np.argpartition(similarity, n - k, axis=1)[:, n - k :]
        strength = np.take_along_axis(similarity, nearest, axis=1) * self.weights[nearest]
        votes = np.einsum("nk,nkj->nj", strength, self.labels[nearest])
        return (votes + self.prior_weight * self.prior) / (strength.sum(axis=1, keepdims=True) + self.prior_weight)


@dataclass
class _Scorer:
    """The linear models and the neighbours of one fit, blended."""

    linear: _LinearScores
    neighbours: _Neighbours
    share: float

    def scores(self, blocks: Blocks) -> np.ndarray:
        linear = self.linear.scores(blocks.linear())
        return (1.0 - self.share) * linear + self.share * self.neighbours.scores(blocks.neighbour())


@dataclass
class StageModel:
    """Fitted stage classifier: features, per-stage models and neighbours, and a threshold per stage."""

    params: StageModelParams = field(default_factory=StageModelParams)
    stages: tuple[str, ...] = STAGES
    features: StageFeatures | None = None
    scorer: _Scorer | None = None
    thresholds: dict[str, float] = field(default_factory=dict)

    def _fit_linear(self, matrix: sparse.csr_matrix, labels: np.ndarray, weights: np.ndarray) -> _LinearScores:
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

    def _fit_scorer(
        self, texts: Sequence[str], labels: np.ndarray, weights: np.ndarray
    ) -> tuple[StageFeatures, _Scorer]:
        features = StageFeatures(self.params)
        blocks = features.fit_transform(texts)
        scorer = _Scorer(
            self._fit_linear(blocks.linear(), labels, weights),
            _Neighbours.fit(blocks.neighbour(), labels, weights, self.params),
            self.params.neighbour_share,
        )
        return features, scorer

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
        real = mask.sum() >= 40  # micro-F1 tuning only on real items: seeds are not a sample of the news
        if not real:
            mask = np.ones(len(texts), dtype=bool)
        oof = np.zeros(labels.shape)
        folds = KFold(n_splits=self.params.inner_folds, shuffle=True, random_state=0)
        for train_idx, test_idx in folds.split(texts):
            features, scorer = self._fit_scorer([texts[i] for i in train_idx], labels[train_idx], weights[train_idx])
            oof[test_idx] = scorer.scores(features.transform([texts[i] for i in test_idx]))
        self.thresholds = {
            stage: _best_threshold(oof[mask, j], labels[mask, j].astype(bool), self.params)
            for j, stage in enumerate(self.stages)
        }
        if self.params.micro_rounds and real:
            tuned = _micro_thresholds(oof[mask], labels[mask].astype(bool), list(self.thresholds.values()), self.params)
            self.thresholds = dict(zip(self.stages, tuned, strict=True))
        self.features, self.scorer = self._fit_scorer(texts, labels, weights)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Score per item and stage, in ``self.stages`` order."""
        if self.scorer is None or self.features is None:
            raise ValueError("stage model is not fitted")
        return self.scorer.scores(self.features.transform(texts))

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Stages at or above their thresholds, with scores, per item."""
        scores = self.predict_proba(texts).tolist()  # Python floats: the same values, without numpy scalars
        cuts = [(j, s, self.thresholds[s]) for j, s in enumerate(self.stages)]
        return [{s: round(row[j], 4) for j, s, cut in cuts if row[j] >= cut} for row in scores]
