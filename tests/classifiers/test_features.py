"""The fast vectorisers give scikit-learn's TF-IDF matrices exactly; stage cues match as documented."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from classifiers.features import CharNgramVectorizer, WordNgramVectorizer
from classifiers.stage_cues import CueFeatures, CueMatcher, split_words
from classifiers.stages import StageFeatures, StageModelParams

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
    # (4, 6): words shorter than the smallest n-gram, made one word at a time; the others with numpy.
    for ngrams in ((2, 5), (1, 3), (4, 6)):
        reference = TfidfVectorizer(analyzer="char_wb", ngram_range=ngrams, sublinear_tf=True, min_df=1).fit(TRAIN)
        ours = CharNgramVectorizer(ngrams, min_df=1).fit(TRAIN)
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


TRICKY = [
    *TEST,
    *TRAIN,
    "ΟΔΟΣ Σ. Bank names ΣΑΣ chief. Then",
    "Caf\u00e9\u00a0 na\u00efve \u00a8x a\u0308b \u2003spaced\ttab. Tail",
    ". Lead empty. And more",
    "Recalls . rest recalls",
    "İstanbul K\u212a go live letter of intent. letter of intent",
    "new plant new. plant goes  live",
    "   ",
    "Orchid Bank names new chief financial officer. Orchid Bank names",
]


def test_token_batches_give_each_blocks_own_transform() -> None:
    """StageFeatures splits a batch into tokens once for all three blocks: the same matrices as each alone."""
    features = StageFeatures(StageModelParams(char_ngrams=(2, 5)))
    features.fit_transform([*TRAIN, "ox recalls new plant", "Cafe orchid bank"])
    features.chars = CharNgramVectorizer((2, 5), min_df=1).fit([*TRAIN, "Café ΣΑΣ go live"])
    for words in ((1, 2), (1, 3), (2, 3)):  # (2, 3): no unigrams to key n-grams by, so the text path
        features.words = WordNgramVectorizer(words, min_df=1).fit([*TRAIN, "Cafe orchid bank names new"])
        _same_blocks(features)


def _same_blocks(features: StageFeatures) -> None:
    for _ in range(2):  # second pass from the token table
        for batch in (TRICKY, TRICKY[:1], TRICKY[-3:], [""]):
            blocks = features.transform(batch)
            for ours, alone in ((blocks.words, features.words.transform(batch)),
                                (blocks.chars, features.chars.transform(batch)),
                                (blocks.cues, features.cues.transform(batch))):
                assert ours.shape == alone.shape
                assert (ours.indptr == alone.indptr).all() and (ours.indices == alone.indices).all()
                assert (ours.data == alone.data).all()


def test_unit_rows_gives_scipys_arrays() -> None:
    """unit_rows skips scipy's intermediate matrices but gives the same arrays, entry order included."""
    from scipy import sparse

    from classifiers.features import unit_rows

    def reference(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.csr_matrix(sparse.diags(1.0 / norms) @ matrix)

    rng = np.random.default_rng(0)
    for trial in range(60):
        rows, width = int(rng.integers(0, 12)), int(rng.integers(1, 300))
        dense = rng.random((rows, width)) * (rng.random((rows, width)) < 0.1) * 10.0 ** rng.integers(-200, 5)
        matrix = sparse.csr_matrix(dense)
        if trial % 2:  # rows in a scrambled order, as a sparse product leaves them
            for r in range(rows):
                part = slice(matrix.indptr[r], matrix.indptr[r + 1])
                order = rng.permutation(part.stop - part.start)
                matrix.indices[part] = matrix.indices[part][order]
                matrix.data[part] = matrix.data[part][order]
        if trial % 3 == 0 and matrix.nnz:
            matrix.data[0] = 0.0  # an explicit zero
        ours, theirs = unit_rows(matrix), reference(matrix)
        assert ours.shape == theirs.shape
        for a, b in ((ours.indptr, theirs.indptr), (ours.indices, theirs.indices), (ours.data, theirs.data)):
            assert a.dtype == b.dtype and np.array_equal(a, b)
