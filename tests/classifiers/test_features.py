"""The fast vectorisers give scikit-learn's TF-IDF matrices exactly; stage cues match as documented."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from classifiers.features import CharNgramVectorizer, WordNgramVectorizer
from classifiers.stage_cues import CueFeatures, CueMatcher, split_words

TRAIN = [
    "Harrow Systems recalls 10,000 routers after overheating complaints",
    "Orchid Bank names new chief financial officer",
    "Orchid Bank  profit\trises; recalls are over",
    "A b I an ox",
]
TEST = [
    "Routers recalled by Harrow after complaints",
    "",
    "ox A  unseenword",
    "Orchid orchid ORCHID",
    "Café Orchid Bank names new chief, new chief; Bank names",
]


def test_same_matrix_as_sklearn_char_wb() -> None:
    reference = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1).fit(TRAIN)
    ours = CharNgramVectorizer((2, 5), min_df=1).fit(TRAIN)
    assert ours.vocabulary_ == reference.vocabulary_
    for _ in range(2):  # second pass runs from the word cache
        diff = abs(reference.transform(TEST) - ours.transform(TEST))
        assert diff.max() < 1e-12 if diff.nnz else True
    assert np.allclose(ours.fit_transform(TRAIN).toarray(), reference.transform(TRAIN).toarray())


def test_same_matrix_as_sklearn_word_ngrams() -> None:
    for ngrams in ((1, 1), (1, 2), (1, 3), (2, 3)):
        reference = TfidfVectorizer(
            ngram_range=ngrams, sublinear_tf=True, min_df=1, lowercase=True, strip_accents="unicode"
        ).fit([*TRAIN, "Cafe orchid bank"])
        ours = WordNgramVectorizer(ngrams, min_df=1).fit([*TRAIN, "Cafe orchid bank"])
        assert ours.vocabulary_ == reference.vocabulary_
        diff = abs(reference.transform(TEST) - ours.transform(TEST))
        assert diff.max() < 1e-12 if diff.nnz else True
        assert ours.transform(TEST).shape == (len(TEST), len(reference.vocabulary_))


def test_cue_matcher_words_prefixes_phrases_and_lead() -> None:
    matcher = CueMatcher({"a": ("recall*",), "b": ("goes live", "go live"), "c": ("letter of intent",), "d": ("ox",)})
    words, lead = split_words("Harrow recalls routers. The system goes live; letter of intent signed, oxen")
    assert lead == 3
    everywhere, in_lead = matcher.find(words, lead)
    assert {matcher.names[g] for g in everywhere} == {"a", "b", "c"}  # "oxen" is not the whole word "ox"
    assert {matcher.names[g] for g in in_lead} == {"a"}
    for _ in range(2):  # second pass runs from the caches
        assert matcher.find(*split_words("letter of credit")) == (set(), set())


def test_cue_features_weights_text_and_lead_columns() -> None:
    features = CueFeatures((0.5, 0.25, 0.0, 0.0), broad={"recall": ("recall*",)}, detailed={})
    matrix = features.transform(["Maker recalls cars", "Cars. The maker recalled them", "nothing here"])
    assert features.feature_names() == ["broad:recall:text", "broad:recall:lead"]
    assert matrix.toarray().tolist() == [[0.5, 0.25], [0.5, 0.0], [0.0, 0.0]]
