"""The fast paths of features and cues give what their plain versions give, array for array."""

from __future__ import annotations

import random

import numpy as np
import pytest
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

import classifiers.features as features_module
from classifiers.features import CharNgramVectorizer, TokenTable, _count_rows, _Field, _GramKeys, word_ngrams
from classifiers.stage_cues import DETAILED_CUES, STAGE_CUES, CueMatcher, _matches, _trie_pattern

WORDS = ["recall", "recalls", "recal", "r", "", "expand", "expanding", "new", "plant", "plants", "letter", "of",
         "intent", "go", "live", "lives", "snap", "snapped", "up", "s&p", "moody's", "13d", "x-ray", "naïve"]


def _reference_word(matcher: CueMatcher, word: str) -> tuple[set[int], bool]:
    """One-word groups of ``word`` and whether it may start a longer cue, pattern by pattern."""
    found = [(words, group) for words, group in matcher._patterns if _matches(words[0], word)]
    return {g for words, g in found if len(words) == 1}, any(len(words) > 1 for words, _ in found)


def _reference_pair(matcher: CueMatcher, first: str, second: str) -> tuple[set[int], tuple[int, ...]]:
    groups: set[int] = set()
    triples: list[int] = []
    for p, (words, group) in enumerate(matcher._patterns):
        if len(words) > 1 and _matches(words[0], first) and _matches(words[1], second):
            if len(words) == 2:
                groups.add(group)
            else:
                triples.append(p)
    return groups, tuple(triples)


def _groups(row: np.ndarray) -> set[int]:
    return {g for g in range(64 * len(row)) if int(row[g >> 6]) >> (g & 63) & 1}


@pytest.mark.parametrize("cues", [
    {**STAGE_CUES, **DETAILED_CUES},
    {"all": ("*",), "pair": ("x* y",), "word": ("ab",), "nested": ("a*", "ab*", "abc*", "ab c* d")},
    {"exact": ("ab",), "phrase": ("ab cd*",)},  # no prefix patterns at all
])
def test_cue_word_and_pair_rows_match_each_pattern(cues: dict[str, tuple[str, ...]]) -> None:
    matcher = CueMatcher(cues)
    rng = random.Random(0)
    words = [w for w in WORDS if w]
    for pattern, _ in matcher._patterns:
        words += [text + end for text, _ in pattern for end in ("", "s", "ed") if text + end]
    words += ["".join(rng.choice("abcdefpsrx'&-") for _ in range(rng.randint(1, 9))) for _ in range(300)]
    words = list(dict.fromkeys(words))
    ids = matcher._ids(words)
    for word, row in zip(words, matcher._words.rows[ids], strict=True):
        groups, starts = _reference_word(matcher, word)
        assert (_groups(row[:-1]), bool(row[-1])) == (groups, starts), word
    starters = [k for k in ids.tolist() if matcher._words.rows[k, -1]]
    row = dict(zip(words, ids.tolist(), strict=True))
    keys = [(row[w[0][0] + end] << 32) | row[w[1][0] + end2] for w, _ in matcher._patterns if len(w) > 1
            for end in ("", "s") for end2 in ("", "ed") if w[0][0] + end in row and w[1][0] + end2 in row]
    keys += [(a << 32) | b for a in starters[:: max(1, len(starters) // 40)] for b in ids.tolist()[::29]]
    keys = list(dict.fromkeys(keys))
    matcher._add_pairs(keys)
    for key, row in zip(keys, matcher._pairs.rows[matcher._pairs.numbers(keys)], strict=True):
        first, second = matcher._word_list[key >> 32], matcher._word_list[key & 0xFFFFFFFF]
        groups, triples = _reference_pair(matcher, first, second)
        assert _groups(row[:-1]) == groups and bool(row[-1]) == bool(triples)
        assert matcher._triples.get(matcher._pairs.number[key], ()) == triples
    assert bool(matcher._triples) == any(len(words) == 3 for words, _ in matcher._patterns)  # three-word cues seen


def test_trie_pattern_finds_the_longest_prefix() -> None:
    import re

    texts = ["a", "ab", "abcd", "b", "x&y", "x-"]
    match = re.compile(_trie_pattern(texts)).match
    for word in ["a", "abc", "abcde", "abd", "ba", "c", "x&yz", "x-1", "x"]:
        longest = max((t for t in texts if word.startswith(t)), key=len, default=None)
        found = match(word)
        assert (found.group() if found else None) == longest, word


def _python_rows(vocabulary: dict[str, int], words: list[str], low: int, high: int) -> tuple[list[int], list[int]]:
    rows = [[vocabulary[g] for g in word_ngrams(word, low, high) if g in vocabulary] for word in words]
    return [i for row in rows for i in row], [len(row) for row in rows]


@pytest.mark.parametrize("table_bits", [20, 0])  # short n-grams from tables, or all by binary search
def test_gram_keys_give_the_python_rows(table_bits: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(features_module, "_MAX_TABLE_BITS", table_bits)
    rng = random.Random(1)
    texts = [" ".join("".join(rng.choice("abcdeé€1'") for _ in range(rng.randint(1, 8))) for _ in range(6))
             for _ in range(80)]
    for ngrams in ((2, 5), (1, 3), (2, 4), (3, 5)):
        vocabulary = CharNgramVectorizer(ngrams, min_df=2).fit(texts).vocabulary_
        keys = _GramKeys.build(vocabulary, *ngrams)
        assert keys is not None
        assert (bool(keys.tables), ngrams) == (bool(table_bits), ngrams)
        for words in (texts[0].split(), ["a"], ["ab"], ["x"], ["zq", "a", "€€€€€€"], WORDS[:-1]):
            flat, counts = keys.rows(words)
            assert (flat.tolist(), counts.tolist()) == _python_rows(vocabulary, words, *ngrams)


def test_a_batch_whose_only_new_word_is_one_letter() -> None:
    """Used to fail: no n-gram as long as the largest fits in one padded letter."""
    reference = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1)
    ours = CharNgramVectorizer((2, 5), min_df=1)
    train = ["a b", "hello world"]
    reference.fit(train)
    ours.fit(train)
    ours.transform(["hello"])
    for batch in (["a"], ["hello a"], ["q"], ["hello"]):
        assert np.allclose(ours.transform(batch).toarray(), reference.transform(batch).toarray())


def test_count_rows_is_scipys_summed_coo() -> None:
    rng = np.random.default_rng(2)
    for _ in range(40):
        rows, width = int(rng.integers(0, 9)), int(rng.integers(0, 30))
        size = int(rng.integers(0, 60)) if rows and width else 0
        r, c = rng.integers(0, max(rows, 1), size), rng.integers(0, max(width, 1), size)
        ours = _count_rows(r, c, (rows, width))
        theirs = sparse.csr_matrix((np.ones(size), (r, c)), shape=(rows, width))
        assert ours.shape == theirs.shape and theirs.has_canonical_format
        for a, b in ((ours.indptr, theirs.indptr), (ours.indices, theirs.indices), (ours.data, theirs.data)):
            assert a.dtype == b.dtype and np.array_equal(a, b)


def test_token_numbers_in_order_of_first_appearance(monkeypatch: pytest.MonkeyPatch) -> None:
    table = TokenTable()
    assert table.numbers(["b", "a", "b"]).tolist() == [0, 1, 0]
    assert table.numbers(["c", "a", "d", "c", "b"]).tolist() == [2, 1, 3, 2, 0]
    assert table.tokens == ["b", "a", "c", "d"]
    monkeypatch.setattr(features_module, "_MAX_CACHE", 5)
    assert table.numbers(["e", "f", "a"]).tolist() == [0, 1, 2]  # too many: all forgotten, numbered anew
    assert table.tokens == ["e", "f", "a"]


def test_field_keeps_rows_as_it_grows() -> None:
    field = _Field()
    rng = np.random.default_rng(3)
    rows = [rng.integers(0, 100, int(rng.integers(0, 40))) for _ in range(3000)]
    for start in range(0, len(rows), 500):
        part = rows[start:start + 500]
        field.add(np.concatenate(part), np.array([len(r) for r in part]))
    numbers = rng.integers(0, len(rows), 200)
    flat, counts = field.gather(numbers)
    assert counts.tolist() == [len(rows[k]) for k in numbers]
    assert flat.tolist() == [int(i) for k in numbers for i in rows[k]]
