"""Fast TF-IDF features: character n-grams inside words, and word n-grams.

scikit-learn builds ``char_wb`` features one n-gram at a time in Python, which made
them most of the cost of tagging. Here every distinct word is broken into n-grams
once and cached as a row of feature counts; a batch of documents is then a sparse
document x word count matrix times a word x feature matrix. The result is the same
matrix ``TfidfVectorizer(analyzer="char_wb", sublinear_tf=True, lowercase=True)``
gives (same vocabulary, idf, sublinear tf and l2 norm), at a fraction of the cost.

``WordNgramVectorizer`` does the same for word n-grams (``TfidfVectorizer`` with
``strip_accents="unicode"``): it looks n-grams up in the vocabulary as it makes
them and builds the matrix in one go, about three times faster than scikit-learn.

Both (and the stage cues) can also read a ``TokenBatch``: the texts lowercased and
split on whitespace once, each token numbered in a ``TokenTable`` that keeps, per
token, what it means for each kind of feature (its n-gram columns, its words). A
batch then costs one dictionary look-up per token and array operations; the
matrices are the same, array for array, as each ``transform`` gives.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain, count, repeat

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

_MAX_CACHE = 200_000  # distinct words kept; the cache is cleared when it grows past this
_MAX_TABLE_BITS = 20  # n-gram keys of at most this many bits are looked up in a table (8 MB at most)
STAMPS = count()  # versions of what rows in a TokenTable were made from: a new one at each fit or load
_MARKS: dict[int, None] = {}  # combining characters seen so far (deleted by str.translate)
_CHECKED: set[str] = set()  # characters already checked for _MARKS


def strip_accents(text: str) -> str:
    """``strip_accents_unicode`` of scikit-learn (NFKD, then no combining characters), with C-level loops.

    scikit-learn tests every character of a non-ASCII text in Python; here each distinct character is
    tested once per process and the marks are then removed by ``str.translate``.
    """
    if text.isascii():
        return text
    normalized = unicodedata.normalize("NFKD", text)
    new = set(normalized).difference(_CHECKED)
    for char in new:
        if unicodedata.combining(char):
            _MARKS[ord(char)] = None  # before _CHECKED: another thread never sees a checked mark missing
        _CHECKED.add(char)
    return normalized.translate(_MARKS)


def _accents_stripped(texts: list[str]) -> list[str]:
    """``strip_accents`` of each text, called only for the texts that are not ASCII (a call each was most of it)."""
    plain = np.fromiter(map(str.isascii, texts), dtype=bool, count=len(texts))
    if plain.all():
        return texts
    out = list(texts)
    for k in np.flatnonzero(~plain).tolist():
        out[k] = strip_accents(out[k])
    return out


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


class _GramKeys:
    """The vocabulary's n-grams as integers, so the n-grams of many new words are looked up with numpy.

    A character is a code of ``bits`` bits (0 for one no vocabulary n-gram has), an n-gram the sum of its
    codes shifted by position: every n-gram has one key, and an n-gram with an unknown character none.
    Making and looking up each n-gram of each new word one at a time in Python was most of the cost of
    words seen for the first time.
    """

    def __init__(self, vocabulary: dict[str, int], alphabet: list[str], bits: int, low: int, high: int) -> None:
        code = {char: k + 1 for k, char in enumerate(alphabet)}
        keys = np.fromiter(
            (sum(code[c] << (bits * k) for k, c in enumerate(gram)) for gram in vocabulary),
            dtype=np.int64, count=len(vocabulary),
        )
        order = np.argsort(keys)
        self.keys = keys[order]
        self.values = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary))[order]
        points = np.array([ord(c) for c in alphabet], dtype=np.int64)
        self.code = np.zeros(int(points.max()) + 2, dtype=np.int64)  # code point -> code; the last slot: 0
        self.code[points] = np.arange(1, len(alphabet) + 1)
        self.bits, self.low, self.high = bits, low, high
        # Short n-grams (most of those looked up) are found by indexing a table of every possible key instead
        # of a binary search; n-grams of different sizes never share a key.
        sizes = np.fromiter(map(len, vocabulary), dtype=np.int64, count=len(vocabulary))[order]
        self.tables: dict[int, np.ndarray] = {}
        for n in range(low, high + 1):
            if bits * n <= _MAX_TABLE_BITS:
                table = self.tables[n] = np.full(1 << (bits * n), -1, dtype=np.int64)
                table[self.keys[sizes == n]] = self.values[sizes == n]
        # An n-gram is only looked up where its first n-1 characters were found, when every vocabulary
        # n-gram's prefix is in the vocabulary too (true of any vocabulary fitted with min_df alone).
        self.prefix_closed = all(len(g) <= low or g[:-1] in vocabulary for g in vocabulary)

    @classmethod
    def build(cls, vocabulary: dict[str, int], low: int, high: int) -> _GramKeys | None:
        """Keys for ``vocabulary``, or None where they do not fit in 62 bits (then words go one at a time)."""
        if not vocabulary or not 1 <= low <= 3:  # words shorter than low - 2 are a special case: left to Python
            return None
        alphabet = sorted(set().union(*vocabulary))
        bits = max(1, len(alphabet).bit_length())
        if bits * max(high, *map(len, vocabulary)) > 62:
            return None
        return cls(vocabulary, alphabet, bits, low, high)

    def _find(self, keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Which ``keys`` (of n-grams) are vocabulary n-grams, and the feature index of those that are."""
        table = self.tables.get(n)
        if table is not None:
            values = table[keys]
            hit = values >= 0
            return hit, values[hit]
        at = np.searchsorted(self.keys, keys)
        at[at == len(self.keys)] = 0
        hit = self.keys[at] == keys
        return hit, self.values[at[hit]]

    def rows(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Feature indices of the n-grams of each word, word after word in ``word_ngrams`` order; and counts."""
        count = len(words)
        sizes = np.fromiter(map(len, words), dtype=np.int64, count=count) + 2  # padded
        points = np.frombuffer((" " + "  ".join(words) + " ").encode("utf-32-le", "surrogatepass"), dtype="<u4")
        codes = self.code[np.minimum(points, len(self.code) - 1)]
        total = len(codes)
        word_of = np.repeat(np.arange(count), sizes)
        limit = np.repeat(np.cumsum(sizes), sizes)  # end of the padded word each position is in
        unknown = np.concatenate(([0], np.cumsum(codes == 0)))  # unknown characters before each position
        key = np.zeros(total, dtype=np.int64)
        found_words: list[np.ndarray] = []
        found_values: list[np.ndarray] = []
        starts = np.zeros(0, dtype=np.int64)
        for n in range(1, self.high + 1):
            span = total - n + 1
            if span <= 0:  # no n-grams this long (one new one-letter word): key[:span] would count from the end
                break
            key[:span] += codes[n - 1 :] << (self.bits * (n - 1))  # key[j]: characters j .. j+n-1
            if n < self.low:
                continue
            if n == self.low or not self.prefix_closed:
                starts = np.flatnonzero((np.arange(n, total + 1) <= limit[:span]) & (unknown[n:] == unknown[:span]))
            else:  # where the n-1 characters from here were an n-gram, and one more still fits in the word
                starts = starts[starts + n <= limit[starts]]
                starts = starts[codes[starts + n - 1] != 0]
            hit, values = self._find(key[starts], n)
            starts = starts[hit]
            found_words.append(word_of[starts])
            found_values.append(values)
        owner = np.concatenate(found_words)
        order = np.argsort(owner, kind="stable")  # word by word; within a word n-grams by size, then position
        return np.concatenate(found_values)[order], np.bincount(owner, minlength=count)


def _grown(array: np.ndarray, used: int, size: int) -> np.ndarray:
    """``array`` in a longer one, its first ``used`` items copied (``np.resize`` also fills the rest: more work)."""
    grown = np.empty(size, dtype=array.dtype)
    grown[:used] = array[:used]
    return grown


class _Field:
    """Rows of numbers, one per token number, in one flat array (nothing per token for the garbage collector)."""

    def __init__(self, version: int = 0) -> None:
        self.version = version
        self.flat = np.zeros(4096, dtype=np.int64)
        self.used = 0
        self.starts = np.zeros(1024, dtype=np.int64)
        self.counts = np.zeros(1024, dtype=np.int64)
        self.filled = 0  # rows stored: for token numbers 0 .. filled - 1

    def add(self, flat: np.ndarray, counts: np.ndarray) -> None:
        first, used = self.filled, self.used
        end = first + len(counts)
        if end > len(self.starts):
            size = max(end, 2 * len(self.starts))
            self.starts = _grown(self.starts, first, size)
            self.counts = _grown(self.counts, first, size)
        if used + len(flat) > len(self.flat):
            self.flat = _grown(self.flat, used, max(used + len(flat), 2 * len(self.flat)))
        self.flat[used : used + len(flat)] = flat
        self.counts[first:end] = counts
        self.starts[first:end] = used + np.cumsum(counts) - counts
        self.used, self.filled = used + len(flat), end

    def gather(self, numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows of ``numbers`` one after the other, and the length of each."""
        counts = self.counts[numbers]
        ends = np.cumsum(counts)
        return self.flat[np.arange(ends[-1] if len(ends) else 0) + np.repeat(self.starts[numbers] - ends + counts,
                                                                             counts)], counts


RowMaker = Callable[[list[str]], tuple[np.ndarray, np.ndarray]]


class TokenTable:
    """Lowercase whitespace tokens seen so far, numbered, with a row of numbers per token for each feature kind.

    The three kinds of stage features all read the words of the lowercased text: looking each
    token up once, in one dictionary, replaced three tokenisations and a dictionary look-up per
    word for each kind; what a token means for a kind is worked out the first time it is seen.
    """

    def __init__(self) -> None:
        self.number: dict[str, int] = {}
        self.tokens: list[str] = []
        self.fields: dict[str, _Field] = {}

    def numbers(self, tokens: list[str]) -> np.ndarray:
        """The number of each token (new ones are numbered; all forgotten when there are too many)."""
        numbers = np.fromiter(map(self.number.get, tokens, repeat(-1)), dtype=np.int64, count=len(tokens))
        if len(numbers) and numbers.min() < 0:
            missing = np.flatnonzero(numbers < 0)  # only these are looked up again, not the whole batch
            unknown = [tokens[k] for k in missing.tolist()]
            new = list(dict.fromkeys(unknown))
            if len(self.number) + len(new) > _MAX_CACHE:
                self.number, self.tokens, self.fields = {}, [], {}
                missing, unknown = np.arange(len(tokens)), tokens
                new = list(dict.fromkeys(tokens))
            self.number.update(zip(new, count(len(self.tokens))))
            self.tokens += new
            numbers[missing] = np.fromiter(map(self.number.__getitem__, unknown), dtype=np.int64, count=len(unknown))
        return numbers

    def rows(self, kind: str, make: RowMaker, version: int = 0) -> _Field:
        """The rows of one kind, made by ``make`` (tokens -> flat rows, lengths) for tokens that have none yet.

        Rows of another ``version`` are dropped first (what they refer to was renumbered since).
        """
        field = self.fields.get(kind)
        if field is None or field.version != version:
            field = self.fields[kind] = _Field(version)
        if field.filled < len(self.tokens):
            field.add(*make(self.tokens[field.filled :]))
        return field


@dataclass
class TokenBatch:
    """Texts as lowercase whitespace tokens numbered in a ``TokenTable``."""

    texts: Sequence[str]
    lowered: list[str]
    sizes: np.ndarray  # tokens per text
    numbers: np.ndarray  # all tokens, text after text
    table: TokenTable

    @classmethod
    def of(cls, texts: Sequence[str], table: TokenTable) -> TokenBatch:
        lowered = [text.lower() for text in texts]
        docs = [text.split() for text in lowered]
        sizes = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        return cls(texts, lowered, sizes, table.numbers(list(chain.from_iterable(docs))), table)

    def counts_per_text(self, counts: np.ndarray) -> np.ndarray:
        """Per text, the sum of ``counts`` (one per token) over its tokens."""
        total = np.concatenate(([0], np.cumsum(counts)))
        ends = np.cumsum(self.sizes)
        return total[ends] - total[ends - self.sizes]


class CharNgramVectorizer:
    """``char_wb`` TF-IDF with a per-word cache; ``fit_transform`` then ``transform``."""

    def __init__(self, ngram_range: tuple[int, int] = (2, 5), min_df: int = 2) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.vocabulary_: dict[str, int] = {}
        self.idf_ = np.zeros(0)
        self._forget()

    def _forget(self) -> None:
        """New caches: tokens seen (with their n-gram rows), n-gram keys; a new stamp for shared token tables."""
        self._cache = TokenTable()
        self._keys: _GramKeys | None = None
        self._keys_built = False
        self._stamp = next(STAMPS)

    def __getstate__(self) -> dict[str, object]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("_keys", "_keys_built", "_stamp")}
        state["_cache"] = {}  # rebuilt on use; keeps model files small (and as they always were)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._forget()

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
        self._forget()
        return self

    def fit_transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return self.fit(texts).transform(texts)

    def _new_rows(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Rows of new words: feature indices of their n-grams (repeated as often as an n-gram occurs)."""
        if not self._keys_built:
            self._keys, self._keys_built = _GramKeys.build(self.vocabulary_, *self.ngram_range), True
        if self._keys is not None:
            return self._keys.rows(words)
        low, high = self.ngram_range
        get = self.vocabulary_.get
        rows = [[i for i in map(get, word_ngrams(word, low, high)) if i is not None] for word in words]
        flat = np.fromiter(chain.from_iterable(rows), dtype=np.int64)
        return flat, np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """TF-IDF rows (sublinear tf, idf, l2 norm) for ``texts``."""
        return self.transform_tokens(TokenBatch.of(texts, self._cache))

    def transform_tokens(self, batch: TokenBatch) -> sparse.csr_matrix:
        """TF-IDF rows of a batch split into numbered tokens.

        A document x word count matrix (words numbered in order of first appearance) times a word x n-gram
        matrix: the n-gram rows of each distinct word are made once and kept in the batch's token table.
        """
        texts = len(batch.sizes)
        uniq, first, inverse = np.unique(batch.numbers, return_index=True, return_inverse=True)
        order = np.argsort(first)  # columns in order of first appearance, as ``transform`` numbers words
        column = np.empty(len(uniq), dtype=np.int64)
        column[order] = np.arange(len(uniq))
        words = _count_rows(np.repeat(np.arange(texts), batch.sizes), column[inverse.ravel()], (texts, len(uniq)))
        indices, counts = batch.table.rows("chars", self._new_rows, self._stamp).gather(uniq[order])
        indptr = np.zeros(len(uniq) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        grams = sparse.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(len(uniq), len(self.vocabulary_)))
        return _sublinear_tfidf(words @ grams, self.idf_)


def _count_rows(rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
    """How often each (row, column) occurs, as a canonical CSR matrix (sorted columns, no duplicates).

    What ``csr_matrix((ones, (rows, columns)))`` gives, from one sort instead of scipy's COO conversion and
    duplicate summing, which cost more than the counting for small batches.
    """
    width = max(shape[1], 1)
    cells, counts = np.unique(rows * width + columns, return_counts=True)
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(cells // width, minlength=shape[0]), out=indptr[1:])
    return sparse.csr_matrix((counts.astype(np.float64), cells % width, indptr), shape=shape)


def unit_rows(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """Rows scaled to unit l2 length (TfidfVectorizer's ``norm="l2"``); all-zero rows stay zero.

    The numbers, and their order in each row, of ``diags(1 / sqrt(matrix.multiply(matrix).sum(axis=1))) @ matrix``
    (zero norms taken as 1), without building the intermediate matrices, which cost more than the arithmetic
    for small batches. scipy sums the squares of a row in the order its element-wise product leaves them (the
    row's order when the matrix is canonical, reversed otherwise) and its product with a diagonal matrix
    lists each row reversed; both drop zeros. The sums go through the same ``np.add.reduceat``.
    """
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    rows = len(indptr) - 1
    sizes = np.diff(indptr)
    row_of = np.repeat(np.arange(rows), sizes)
    mirror = np.repeat(indptr[:-1] + indptr[1:] - 1, sizes) - np.arange(len(data))  # each row reversed
    later = np.ones(len(indices), dtype=bool)  # entries after the first of their row
    later[indptr[:-1][sizes > 0]] = False
    canonical = not (later[1:] & (np.diff(indices) <= 0)).any()
    flipped = data[mirror]
    squares = data * data if canonical else flipped * flipped
    kept = squares != 0
    if not kept.all():
        squares, sizes = squares[kept], np.bincount(row_of[kept], minlength=rows)
    sums = np.zeros(rows)
    nonempty = np.flatnonzero(sizes)
    if len(nonempty):
        sums[nonempty] = np.add.reduceat(squares, (np.cumsum(sizes) - sizes)[nonempty])
    norms = np.sqrt(sums)
    norms[norms == 0] = 1.0
    values = (1.0 / norms)[row_of] * flipped  # an entry's scale is its row's, wherever the mirror moves it
    columns = indices[mirror]
    out_ptr = indptr
    if not (values != 0).all():
        nonzero = values != 0
        values, columns = values[nonzero], columns[nonzero]
        out_ptr = np.concatenate(([0], np.cumsum(np.bincount(row_of[nonzero], minlength=rows))))
    return sparse.csr_matrix((values, columns, out_ptr), shape=matrix.shape)


def _sublinear_tfidf(counts: sparse.csr_matrix, idf: np.ndarray) -> sparse.csr_matrix:
    """Term counts -> (1 + log tf) x idf, l2-normalised, as ``TfidfVectorizer(sublinear_tf=True)``."""
    counts.data = (np.log(counts.data) + 1.0) * idf[counts.indices]
    return unit_rows(counts)


def _tfidf_rows(indices: list[int], indptr: list[int], width: int, idf: np.ndarray) -> sparse.csr_matrix:
    """Rows of feature occurrences -> sublinear tf x idf, l2-normalised (as TfidfVectorizer)."""
    counts = sparse.csr_matrix(
        (np.ones(len(indices)), np.asarray(indices, dtype=np.int64), np.asarray(indptr, dtype=np.int64)),
        shape=(len(indptr) - 1, width),
    )
    counts.sum_duplicates()
    return _sublinear_tfidf(counts, idf)


class WordNgramVectorizer:
    """``TfidfVectorizer(ngram_range, sublinear_tf=True, strip_accents="unicode")`` with a faster ``transform``."""

    _TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern

    def __init__(self, ngram_range: tuple[int, int] = (1, 2), min_df: int = 1) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.vocabulary_: dict[str, int] = {}
        self.idf_ = np.zeros(0)
        self._keys: list[tuple[np.ndarray, np.ndarray]] | None = None
        self._keys_built = False
        self._stamp = next(STAMPS)

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        for name in ("_keys", "_keys_built", "_stamp"):
            state.pop(name, None)  # rebuilt on use; model files as they always were
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._keys, self._keys_built = None, False
        self._stamp = next(STAMPS)

    def _build_keys(self) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """Per n, the vocabulary's n-grams as sorted integer keys (sum of token index x size**k) and their columns.

        None where a token of an n-gram is not a unigram of the vocabulary (not with min_df=1) or the keys do not
        fit in 63 bits: then ``transform_tokens`` falls back to ``transform``.
        """
        low, high = self.ngram_range
        size = len(self.vocabulary_)
        if low != 1 or not size or size**high >= 2**62:
            return None
        keys: list[list[int]] = [[] for _ in range(high)]
        values: list[list[int]] = [[] for _ in range(high)]
        for gram, column in self.vocabulary_.items():
            parts = gram.split(" ")
            key = 0
            for k, part in enumerate(parts):
                unigram = self.vocabulary_.get(part)
                if unigram is None or len(parts) > high:
                    return None
                key += unigram * size**k
            keys[len(parts) - 1].append(key)
            values[len(parts) - 1].append(column)
        tables = []
        for n_keys, n_values in zip(keys, values, strict=True):
            array = np.array(n_keys, dtype=np.int64)
            order = np.argsort(array)
            tables.append((array[order], np.array(n_values, dtype=np.int64)[order]))
        return tables

    def _token_rows(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per whitespace token, the unigram column of each word in it (-1 for a word not in the vocabulary)."""
        get = self.vocabulary_.get
        rows = list(map(self._TOKEN.findall, _accents_stripped(tokens)))
        flat = np.fromiter(map(get, chain.from_iterable(rows), repeat(-1)), dtype=np.int64)
        return flat, np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))

    def transform_tokens(self, batch: TokenBatch) -> sparse.csr_matrix:
        """``transform`` of a batch already split into numbered tokens: the same matrix.

        Words never span whitespace, so a text's words are its whitespace tokens' words one after the other.
        """
        if not self._keys_built:
            self._keys, self._keys_built = self._build_keys(), True
        if self._keys is None:
            return self.transform(batch.texts)
        size = len(self.vocabulary_)
        ids, counts = batch.table.rows("words", self._token_rows, self._stamp).gather(batch.numbers)
        words = batch.counts_per_text(counts)
        texts = len(words)
        doc = np.repeat(np.arange(texts), words)
        left = np.repeat(np.cumsum(words), words) - np.arange(len(ids))  # words from here to the end of the text
        found = [doc[ids >= 0] * size + ids[ids >= 0]]
        key = ids.copy()
        known = ids >= 0
        for n in range(2, self.ngram_range[1] + 1):
            span = len(ids) - n + 1
            if span <= 0:
                break
            known = known[:span] & (ids[n - 1 :] >= 0)
            key = key[:span] + ids[n - 1 :] * size ** (n - 1)
            starts = np.flatnonzero(known & (left[:span] >= n))
            table, columns = self._keys[n - 1]
            if not len(table):
                continue
            at = np.searchsorted(table, key[starts])
            at[at == len(table)] = 0
            hit = table[at] == key[starts]
            found.append(doc[starts[hit]] * size + columns[at[hit]])
        cells, counts = np.unique(np.concatenate(found), return_counts=True)  # sorted: row by row, columns ascending
        indptr = np.zeros(texts + 1, dtype=np.int64)
        np.cumsum(np.bincount(cells // size, minlength=texts), out=indptr[1:])
        matrix = sparse.csr_matrix((counts.astype(np.float64), cells % size, indptr), shape=(texts, size))
        return _sublinear_tfidf(matrix, self.idf_)

    def fit(self, texts: Sequence[str]) -> WordNgramVectorizer:
        """Learn vocabulary and idf with scikit-learn itself."""
        reference = TfidfVectorizer(
            ngram_range=self.ngram_range, sublinear_tf=True, min_df=self.min_df, lowercase=True,
            strip_accents="unicode",
        )
        reference.fit(texts)
        self.vocabulary_ = {gram: int(i) for gram, i in reference.vocabulary_.items()}
        self.idf_ = np.asarray(reference.idf_, dtype=np.float64)
        self._keys, self._keys_built = None, False
        self._stamp = next(STAMPS)
        return self

    def fit_transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return self.fit(texts).transform(texts)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """TF-IDF rows (sublinear tf, idf, l2 norm) for ``texts``."""
        low, high = self.ngram_range
        vocabulary = self.vocabulary_
        find = self._TOKEN.findall
        get = vocabulary.get
        indices: list[int] = []
        indptr = [0]
        for text in texts:
            tokens = find(strip_accents(text.lower()))
            for n in range(low, high + 1):
                # n-grams as scikit-learn joins them; map/zip keep the loop in C
                grams = tokens if n == 1 else map(" ".join, zip(*(tokens[k:] for k in range(n)), strict=False))
                indices += [i for i in map(get, grams) if i is not None]
            indptr.append(len(indices))
        return _tfidf_rows(indices, indptr, len(vocabulary), self.idf_)
