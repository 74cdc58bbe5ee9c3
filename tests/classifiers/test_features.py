"""The cached character n-gram vectoriser gives sklearn's ``char_wb`` TF-IDF exactly."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from classifiers.features import CharNgramVectorizer

TRAIN = [
    "Harrow Systems recalls 10,000 routers after overheating complaints",
    "Orchid Bank names new chief financial officer",
    "Orchid Bank  profit\trises; recalls are over",
    "A b I an ox",
]
TEST = ["Routers recalled by Harrow after complaints", "", "ox A  unseenword", "Orchid orchid ORCHID"]


def test_same_matrix_as_sklearn_char_wb() -> None:
    reference = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1).fit(TRAIN)
    ours = CharNgramVectorizer((2, 5), min_df=1).fit(TRAIN)
    assert ours.vocabulary_ == reference.vocabulary_
    for _ in range(2):  # second pass runs from the word cache
        diff = abs(reference.transform(TEST) - ours.transform(TEST))
        assert diff.max() < 1e-12 if diff.nnz else True
    assert np.allclose(ours.fit_transform(TRAIN).toarray(), reference.transform(TRAIN).toarray())
