"""Fast TF-IDF character n-grams inside words (the features of sklearn's ``char_wb`` analyzer).

scikit-learn builds ``char_wb`` features one n-gram at a time in Python, which made
them most of the cost of tagging. Here every distinct word is broken into n-grams
once and cached as a row of feature counts; a batch of documents is then a sparse
document x word count matrix times a word x feature matrix. The result is the same
matrix ``TfidfVectorizer(analyzer="char_wb", sublinear_tf=True, lowercase=True)``
gives (same vocabulary, idf, sublinear tf and l2 norm), at a fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

_MAX_CACHE = 200_000  # distinct words kept; the cache is cleared when it grows past this


def word_ngrams(word: str, low: int, high: int) -> list[str]:
    """N-grams of `` word `` (padded with one space each side), as ``char_wb`` makes them."""
    padded = f" {word} "
    size = len(padded)
    grams: list[str] = []
    for n in range(low, high + 1):
        if n >= size:
            grams.append(padded)  # a word no longer than n gives the whole padded word, once
            break
        grams.extend(padded[i : i + n] for i in range(size - n + 1))
    return grams


class CharNgramVectorizer:
    """``char_wb`` TF-IDF with a per-word cache; ``fit_transform`` then ``transform``."""

    def __init__(self, ngram_range: tuple[int, int] = (2, 5), min_df: int = 2) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.vocabulary_: dict[str, int] = {}
        self.idf_ = np.zeros(0)
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_cache"] = {}  # rebuilt on use; keeps model files small
        return state

    def _analyze(self, text: str) -> list[str]:
        low, high = self.ngram_range
        grams: list[str] = []
        for word in text.lower().split():
            grams.extend(word_ngrams(word, low, high))
        return grams

    def fit(self, texts: Sequence[str]) -> CharNgramVectorizer:
        """Learn vocabulary and idf exactly as ``TfidfVectorizer`` would."""
        reference = TfidfVectorizer(analyzer=self._analyze, sublinear_tf=True, min_df=self.min_df)
        reference.fit(texts)
        self.vocabulary_ = {gram: int(i) for gram, i in reference.vocabulary_.items()}
        self.idf_ = np.asarray(reference.idf_, dtype=np.float64)
        self._cache = {}
        return self

    def fit_transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return self.fit(texts).transform(texts)

    def _word_row(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        row = self._cache.get(word)
        if row is None:
            low, high = self.ngram_range
            counts: dict[int, int] = {}
            vocabulary = self.vocabulary_
            for gram in word_ngrams(word, low, high):
                index = vocabulary.get(gram)
                if index is not None:
                    counts[index] = counts.get(index, 0) + 1
            row = (np.fromiter(counts, dtype=np.int64), np.fromiter(counts.values(), dtype=np.float64))
            if len(self._cache) >= _MAX_CACHE:
                self._cache.clear()
            self._cache[word] = row
        return row

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """TF-IDF rows (sublinear tf, idf, l2 norm) for ``texts``."""
        width = len(self.vocabulary_)
        local: dict[str, int] = {}
        doc_rows: list[int] = []
        doc_cols: list[int] = []
        for d, text in enumerate(texts):
            for word in text.lower().split():
                doc_rows.append(d)
                doc_cols.append(local.setdefault(word, len(local)))
        words = sparse.csr_matrix(
            (np.ones(len(doc_rows)), (doc_rows, doc_cols)), shape=(len(texts), len(local))
        )  # duplicates are summed: word counts per document
        rows = [self._word_row(word) for word in local]
        lengths = np.fromiter((len(r[0]) for r in rows), dtype=np.int64, count=len(rows))
        indptr = np.concatenate(([0], np.cumsum(lengths)))
        indices = np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, dtype=np.int64)
        data = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0)
        grams = sparse.csr_matrix((data, indices, indptr), shape=(len(local), width))
        counts = sparse.csr_matrix(words @ grams)
        counts.sum_duplicates()
        counts.data = (np.log(counts.data) + 1.0) * self.idf_[counts.indices]
        norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        counts = sparse.csr_matrix(sparse.diags(1.0 / norms) @ counts)
        return counts
