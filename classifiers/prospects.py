"""Prospect tagging: which configured companies an item concerns.

Candidates come from one compiled alias matcher (names, tickers, people), link
domains and the source's own prospects. Each (item, candidate) pair is then described
by how the company is named (legal name, alias, ticker; its case against the text
around it; an everyday word or not; the words on either side, see
:mod:`classifiers.pairs`), by how the item talks about it (headline subject, one of a
list, a passer-by, another thing with the same name, see
:mod:`classifiers.prospect_context`) and by the TF-IDF similarity between the item
and the prospect's profile (name, aliases, keywords and items already confirmed for
it). Ordinary lower-case words and bare one-letter tickers never count on their own.

Before any item is confirmed, an *evidence prior* scores each pair: a fixed prior per
kind of mention, moved by fixed log-odds for the context patterns. Once items are
confirmed, one logistic regression over the pairs of every prospect learns from them,
with the evidence prior as one of its features; its log-odds are then shrunk towards
the prior's (``MODEL_WEIGHT``), because a few hundred confirmed items cannot weigh
every rare pattern well on their own.

Two decision rules (``ProspectTagger.MODELS``): ``logistic`` (default) cuts the
class-balanced model at 0.5; ``pairs`` chooses the threshold on inner folds of the
confirmed items for the best recall at a target precision, never below 0.5 (fewer
wrong tags, more missed ones).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from classifiers.matching import AliasMatcher, Mention, is_ticker, name_variants
from classifiers.pairs import COMMON_WORDS, choose_threshold, count_tickerlike, pair_features, rescale
from classifiers.prospect_context import ItemContext, context_evidence, item_context, mention_features
from classifiers.text import clean, is_shouting, item_text
from classifiers.types import ProspectProfile, ProspectTag, TextItem

_WORD = re.compile(r"[A-Za-z0-9]+")
# "Barclays Downgrades Ambev": the first company is the broker, not the subject.
_RATING_VERBS = frozenset(
    [
        "maintains",
        "downgrades",
        "upgrades",
        "initiates",
        "reiterates",
        "reinstates",
        "assumes",
        "resumes",
        "bearish",
        "bullish",
    ]
)
# Fund-portfolio, stock-list and market-wrap headlines name companies without being about them.
_LIST_CUE = re.compile(
    r"\b(?:Buys|Sells|Adds to|Trims|Stakes? In|13F|52-Week|Stocks (?:To|That)|And More|Movers|Roundup|Top \d+)\b"
)
# A wire-service ticker written beside a name: <DCAI>, (NYSE: DAL), (AAPL).
_WIRE_TICKER = re.compile(r"<([A-Z][A-Z0-9.]{0,6})>|\((?:[A-Za-z]+\s*:\s*)?([A-Z][A-Z0-9.]{0,6})\)")
# Words after a name that continue it as the same company (or say nothing about who it is).
_NAME_CONTINUATION = frozenset(
    ("inc", "corp", "corporation", "co", "company", "plc", "ltd", "limited", "group", "holdings", "international")
) | frozenset(("the", "a", "an", "of", "in", "on", "at", "to", "for", "and", "or", "s"))
_CAPITALISED = re.compile(r"[A-Z][a-z]")
_LIST_SEGMENT = re.compile(r"^\s*(?:and\s+)?(?:[A-Z][\w.&'-]*|\(?[A-Z]{1,5}\)?)(?:\s+[A-Z][\w.&'-]*){0,3}\s*$")
_LEGAL_SUFFIX_RE = re.compile(
    r",?\s+(?:inc|corp|corporation|co|company|plc|p\.l\.c|ltd|limited|ag|sa|nv|llc)\.?$", re.IGNORECASE
)
MODEL_ENV = "FUNNELFEED_PROSPECT_MODEL"  # picks the prospect model when none is passed (default: logistic)
PAIR_C = 0.5  # inverse regularisation of the pair logistic regression (precision mode)
LOGISTIC_C = 0.5  # the same for the default mode
PAIR_PRECISION = 0.95  # target precision when choosing the pair threshold on inner folds
INNER_FOLDS = 4
# Weight of the learned log-odds against the evidence prior's: a few hundred confirmed items are too few to
# learn every pattern's weight, so the model corrects the prior rather than replacing it.
MODEL_WEIGHT = 0.3
MIN_PAIR_POSITIVES = 20  # fewer confirmed pairs than this: keep the 0.5 cut
_PRIOR = {  # score of a kind of evidence before any item is confirmed
    "person": 0.8,
    "multi": 0.9,
    "single": 0.7,
    "ticker_ctx": 0.9,
    "ticker": 0.7,
    "short_ticker": 0.55,
    "tiny_ticker": 0.02,
    "lower": 0.05,
}


@dataclass
class _Candidate:
    """Evidence gathered for one (item, prospect) pair before scoring."""

    prospect: str
    mentions: list[Mention] = field(default_factory=list)
    domain: bool = False
    source: bool = False


def _mention_kind(mention: Mention, shouting: bool) -> str:
    if mention.lowercase:
        return "lower"
    if mention.kind == "person":
        return "person"
    if mention.kind == "name":
        return "multi" if len(_WORD.findall(mention.alias)) > 1 else "single"
    if mention.ticker_context:
        return "ticker_ctx"
    size = len(mention.alias.replace(".", ""))
    if size <= 1:
        return "tiny_ticker"
    if size <= 2 or shouting:
        return "short_ticker"
    return "ticker"


_KIND_RANK = list(_PRIOR)
_TRIVIAL = frozenset(("lower", "tiny_ticker"))  # kinds of evidence that are never enough on their own


def _best_mention(mentions: Sequence[Mention], shouting: bool) -> tuple[Mention, str]:
    ranked = sorted(mentions, key=lambda m: -_PRIOR[_mention_kind(m, shouting)])
    return ranked[0], _mention_kind(ranked[0], shouting)


def _logit(p: float) -> float:
    p = min(max(p, 1e-3), 1 - 1e-3)
    return math.log(p / (1 - p))


def _primary_mention(mentions: Sequence[Mention], title_len: int) -> Mention:
    """The mention that says most about how the item treats the company: the first capitalised one in the
    title, else the first capitalised one in the summary, else the first."""
    written = [m for m in mentions if not m.lowercase]
    for m in written:
        if m.start < title_len:
            return m
    return written[0] if written else mentions[0]


def _is_title_case(text: str) -> bool:
    """Headline style, where every long word is capitalised and capitals say nothing about names."""
    words = [w for w in _WORD.findall(text) if len(w) > 3 and w.isalpha()]
    return bool(words) and sum(w[0].isupper() for w in words) / len(words) > 0.6


def _item_features(title: str, shouting: bool) -> dict[str, float]:
    """The features that depend on the headline alone (computed once per item)."""
    segments = re.split(r",|\band\b|\bAnd\b|;|\(|\)|:", title)
    list_size = sum(1 for seg in segments if seg.strip() and _LIST_SEGMENT.match(seg))
    return {
        "list_cue": float(bool(_LIST_CUE.search(title))),
        "list_size": float(min(list_size, 6)) / 3.0,
        "shouting": float(shouting),
        "commas_title": float(min(title.count(","), 4)),
    }


def _neighbours(text: str, mention: Mention) -> tuple[str, str]:
    before = _WORD.findall(text[max(0, mention.start - 30) : mention.start])
    after = _WORD.findall(text[mention.end : mention.end + 30])
    return (before[-1].lower() if before else "^"), (after[0].lower() if after else "$")


def _matrix(vocabulary: dict[str, int], rows: Sequence[dict[str, float]]) -> sparse.csr_matrix:
    """Rows of named features as a sparse matrix over a fitted vocabulary (unknown names are dropped).

    The same as ``DictVectorizer.transform`` for numeric features, without its per-value type checks,
    which cost more than the model itself at tagging time.
    """
    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for row in rows:
        for name, value in row.items():
            j = vocabulary.get(name)
            if j is not None:
                indices.append(j)
                data.append(value)
        indptr.append(len(indices))
    return sparse.csr_matrix(
        (np.asarray(data, dtype=float), np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int32)),
        shape=(len(rows), len(vocabulary)),
    )


class _PairModel:
    """Logistic regression over the candidate pairs of every prospect at once."""

    def __init__(self, c: float = PAIR_C) -> None:
        self._vocabulary: dict[str, int] = {}
        self._model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")

    def fit(self, rows: Sequence[dict[str, float]], y: np.ndarray) -> _PairModel:
        names = sorted({name for row in rows for name in row})
        self._vocabulary = {name: j for j, name in enumerate(names)}
        self._model.fit(_matrix(self._vocabulary, rows), y)
        return self

    def predict(self, rows: Sequence[dict[str, float]]) -> np.ndarray:
        """The learned probability, its log-odds shrunk towards the evidence prior (see ``MODEL_WEIGHT``)."""
        prob = np.clip(self._model.predict_proba(_matrix(self._vocabulary, rows))[:, 1], 1e-6, 1 - 1e-6)
        evidence = np.array([row.get("evidence", 0.0) for row in rows])
        logit = MODEL_WEIGHT * np.log(prob / (1 - prob)) + (1 - MODEL_WEIGHT) * evidence
        return np.asarray(1.0 / (1.0 + np.exp(-logit)))


class ProspectTagger:
    """Scores which prospects an item concerns; ``fit`` learns from confirmed items."""

    MODELS = ("logistic", "pairs")
    """``logistic``: the pair model cut at 0.5 (balanced precision and recall). ``pairs``: the same
    features, its threshold chosen on inner folds for the best recall at ``PAIR_PRECISION``. Set per
    tagger, or for the whole process with the ``FUNNELFEED_PROSPECT_MODEL`` environment variable."""

    def __init__(self, profiles: Iterable[ProspectProfile], min_score: float = 0.5, model: str | None = None) -> None:
        model = model or os.environ.get(MODEL_ENV, "") or "logistic"
        if model not in self.MODELS:
            raise ValueError(f"unknown prospect model {model!r}; expected one of {self.MODELS}")
        self.profiles = {p.id: p for p in profiles}
        self.min_score = min_score
        self.kind = model
        self._threshold = 0.5  # probability that maps to min_score (chosen on inner folds in pair mode)
        self._full_names = {
            pid: [p.name.strip().rstrip(".").lower(), _LEGAL_SUFFIX_RE.sub("", p.name.strip()).strip().lower()]
            for pid, p in self.profiles.items()
        }
        self.matcher = AliasMatcher(self.profiles.values())
        self._negatives = {
            pid: [w.lower() for w in p.negative_keywords if w.strip()] for pid, p in self.profiles.items()
        }
        self._tickers = {
            pid: frozenset(a.strip() for a in p.aliases if is_ticker(a.strip())) for pid, p in self.profiles.items()
        }
        self._keywords = {pid: [w.lower() for w in p.keywords if w.strip()] for pid, p in self.profiles.items()}
        self._ids = list(self.profiles)
        self._index = {pid: i for i, pid in enumerate(self._ids)}
        self._vectorizer: TfidfVectorizer | None = None
        self._pos_norm2 = np.zeros(0)
        self._neg_norm2 = np.zeros(0)
        self._pos: sparse.csr_matrix | None = None  # per-prospect sum of confirmed item vectors
        self._neg: sparse.csr_matrix | None = None  # per-prospect sum of rejected item vectors
        self._model: _PairModel | None = None
        self._fit_profiles([], [])

    # -- profiles -----------------------------------------------------------
    def _profile_text(self, profile: ProspectProfile) -> str:
        return " ".join([*name_variants(profile), *profile.keywords])

    def _fit_profiles(self, texts: list[str], labels: list[tuple[list[str], list[str]]]) -> None:
        """Build TF-IDF profiles: name+aliases+keywords, plus confirmed (and rejected) item texts."""
        profile_texts = [self._profile_text(self.profiles[pid]) for pid in self._ids]
        if not self._ids:  # nothing to tag; keep the tagger usable
            self._vectorizer = None
            return
        self._vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1, stop_words="english")
        self._vectorizer.fit(profile_texts + texts)
        pos = sparse.csr_matrix(self._vectorizer.transform(profile_texts))
        neg = sparse.csr_matrix(pos.shape)
        if texts:
            matrix = self._vectorizer.transform(texts)
            rows_p, cols_p, rows_n, cols_n = [], [], [], []
            for i, (positives, negatives) in enumerate(labels):
                for pid in positives:
                    rows_p.append(self._index[pid])
                    cols_p.append(i)
                for pid in negatives:
                    rows_n.append(self._index[pid])
                    cols_n.append(i)
            shape = (len(self._ids), len(texts))
            pos = pos + sparse.csr_matrix((np.ones(len(rows_p)), (rows_p, cols_p)), shape=shape) @ matrix
            neg = neg + sparse.csr_matrix((np.ones(len(rows_n)), (rows_n, cols_n)), shape=shape) @ matrix
        self._pos, self._neg = pos.tocsr(), neg.tocsr()
        self._pos_norm2 = np.asarray(self._pos.multiply(self._pos).sum(axis=1)).ravel()
        self._neg_norm2 = np.asarray(self._neg.multiply(self._neg).sum(axis=1)).ravel()

    def _pair_dots(self, vectors: sparse.csr_matrix, pairs: list[tuple[int, int]]) -> np.ndarray:
        """Dot products (pairs x 2) of item rows with the confirmed and rejected profile of one prospect each.

        Only the (item, prospect) pairs that are candidates are computed, so the cost does not
        grow with the number of configured prospects.
        """
        assert self._pos is not None and self._neg is not None
        if not pairs:
            return np.zeros((0, 2))
        rows = [r for r, _ in pairs]
        cols = [c for _, c in pairs]
        items = vectors[rows]
        pos = np.asarray(items.multiply(self._pos[cols]).sum(axis=1)).ravel()
        neg = np.asarray(items.multiply(self._neg[cols]).sum(axis=1)).ravel()
        return np.column_stack([pos, neg])

    def _cosines(self, dots: np.ndarray, pid: str, own: str | None) -> tuple[float, float]:
        """Cosine to the prospect's confirmed and rejected profiles, leaving the item itself out."""
        i = self._index[pid]
        out = []
        for k, which, norms in ((0, "pos", self._pos_norm2), (1, "neg", self._neg_norm2)):
            dot, norm2 = float(dots[k]), float(norms[i])
            if own == which:  # leave-one-out: remove the item's own contribution
                dot, norm2 = dot - 1.0, norm2 - 2.0 * dot + 1.0
            out.append(dot / math.sqrt(norm2) if norm2 > 1e-9 else 0.0)
        return out[0], out[1]

    # -- candidates and features --------------------------------------------
    def _candidates(self, item: TextItem, text: str) -> dict[str, _Candidate]:
        found: dict[str, _Candidate] = {}
        for mention in self.matcher.mentions(text):
            found.setdefault(mention.prospect, _Candidate(mention.prospect)).mentions.append(mention)
        for pid in self.matcher.domain_prospects(item.link):
            found.setdefault(pid, _Candidate(pid)).domain = True
        for pid in item.source_prospects:
            if pid in self.profiles:
                found.setdefault(pid, _Candidate(pid)).source = True
        return found

    def _features(
        self,
        cand: _Candidate,
        text: str,
        ctx: ItemContext,
        n_cands: int,
        sims: tuple[float, float],
        tickerlike: int,
        item_feats: dict[str, float],
        others: Sequence[Mention] = (),
    ) -> tuple[dict[str, float], float]:
        """Features of one (item, candidate) pair, and its score before any model (the evidence prior)."""
        title_len, shouting = ctx.title_len, ctx.shouting
        mention, kind = _best_mention(cand.mentions, shouting)
        _, after = _neighbours(text, mention)
        lowered = text.lower()
        keyword_hits = sum(1 for k in self._keywords[cand.prospect] if k in lowered)
        title = text[:title_len]
        in_title = mention.start < title_len
        caps_context = in_title and (shouting or ctx.title_case)  # the summary is prose
        after_words = _WORD.findall(text[mention.end : mention.end + 40])
        next_raw = after_words[0] if after_words else ""
        next_cap = bool(
            next_raw
            and _CAPITALISED.match(next_raw)
            and next_raw.lower() not in _NAME_CONTINUATION
            and text[mention.end : mention.end + 1] == " "
        )
        own = {m.alias for m in cand.mentions}
        other_tickers = sum(1 for m in _WIRE_TICKER.finditer(title) if (m.group(1) or m.group(2)) not in own)
        window = text[max(0, mention.start - 60) : mention.end + 60]
        enum_commas = window.count(",")
        summary_only = not any(m.start < title_len for m in cand.mentions)
        feats: dict[str, float] = {
            **item_feats,
            f"kind={kind}": 1.0,
            "rating_verb_next": float(after in _RATING_VERBS),
            "comma_near": float(
                text[max(0, mention.start - 2) : mention.start] == ", " or text[mention.end : mention.end + 1] == ","
            ),
            f"pid={cand.prospect}": 1.0,
            f"pid_kind={cand.prospect}:{kind}": 1.0,
            "in_title": float(in_title),
            "title_start": float(mention.start == 0),
            "n_mentions": math.log1p(len(cand.mentions)),
            "n_candidates": math.log1p(n_cands - 1),
            "next_cap_sentence": float(next_cap and not caps_context),
            "next_cap_headline": float(next_cap and caps_context),
            "other_wire_ticker": float(min(other_tickers, 2)),
            "possessive": float(text[mention.end : mention.end + 2] in ("'s", "\u2019s")),
            "enum_commas": float(min(enum_commas, 4)) / 2.0,
            "summary_only": float(summary_only),
            "early_in_title": float(in_title and len(_WORD.findall(text[: mention.start])) <= 2),
            "also_lower": float(any(m.lowercase for m in cand.mentions) and kind != "lower"),
            "keywords": float(keyword_hits),
            "sim_pos": sims[0],
            "sim_neg": sims[1],
        }
        prior = _PRIOR[kind]
        if keyword_hits:
            prior = min(1.0, prior + 0.2)
        if feats["also_lower"] and kind == "single":
            prior -= 0.3
        # "Barclays Downgrades Ambev", "UPDATE: HSBC Upgrades ...": a name that opens the headline
        # and is followed by a rating verb is the broker acting on someone else's stock.
        if in_title and after in _RATING_VERBS and feats["early_in_title"]:
            feats["broker_actor"] = 1.0
        # "...: Sky News", "- Sky News": a news source credited in the headline, not its subject.
        if next_raw == "News" and text[max(0, mention.start - 3) : mention.start].strip() in (":", "-", "|"):
            feats["news_source"] = 1.0
        feats["prior"] = prior
        # How the item talks about the company (subject, list member, passer-by, another thing).
        primary = _primary_mention(cand.mentions, title_len)
        alias = primary.alias.lower()
        common = alias in COMMON_WORDS or (len(_WORD.findall(alias)) == 1 and alias.rstrip("s") in COMMON_WORDS)
        context = mention_features(ctx, primary, cand.mentions, common, self._tickers[cand.prospect], others)
        written = [m for m in cand.mentions if not m.lowercase]
        if any(m.start < title_len for m in written):
            if any(m.start >= title_len for m in written):
                context["title_and_summary"] = 1.0
            elif len(text) > title_len + 60:  # a summary of some length that never names the company again
                context["title_only"] = 1.0
        if summary_only and other_tickers:
            # "DIGITAL COMMUNICATIONS <DCAI> INTRODUCES ITEMS" and this company only in the summary:
            # the headline has named its subject, with its ticker, and it is another company.
            context["titled_other"] = 1.0
        if summary_only and not any(m.start < title_len and not m.lowercase for m in others):
            # "Regulator sues card networks. ... is suing Acme and ...": a headline naming no prospect leaves the
            # summary to say whom the story is about, unlike one that names another prospect. A learned feature
            # only: whether it helps depends on what else the summary says (market wraps name passers-by too).
            context["untitled"] = 1.0
        feats.update(("c:" + k, v) for k, v in context.items())
        feats.update(
            ("p:" + k, v)
            for k, v in pair_features(
                text,
                title_len,
                shouting,
                ctx.title_case,
                mention,
                cand.mentions,
                self._full_names[cand.prospect],
                n_cands,
                tickerlike,
            ).items()
        )
        # The evidence prior: the kind of mention, moved by the context cues by fixed amounts.
        evidence = _logit(prior) + context_evidence(context, summary_only)
        feats["evidence"] = evidence
        return feats, 1.0 / (1.0 + math.exp(-evidence))

    def _rows(
        self,
        items: Sequence[TextItem],
        own: Sequence[tuple[list[str], list[str]]] | None = None,
        texts: Sequence[str] | None = None,
    ) -> tuple[list[tuple[int, _Candidate]], list[dict[str, float]], list[float]]:
        if self._vectorizer is None or not self._ids:
            return [], [], []
        texts = [item_text(item) for item in items] if texts is None else texts
        found = [(i, self._candidates(item, text)) for i, (item, text) in enumerate(zip(items, texts, strict=True))]
        found = [(i, cands) for i, cands in found if cands]
        # Only items that name a prospect need the (costly) similarity features.
        named = [i for i, cands in found if any(c.mentions for c in cands.values())]
        row_of = {i: r for r, i in enumerate(named)}
        pairs = [(row_of[i], self._index[c.prospect]) for i, cands in found for c in cands.values() if c.mentions]
        pair_of = {(named[r], self._ids[c]): k for k, (r, c) in enumerate(pairs)}
        vectors = self._vectorizer.transform([texts[i] for i in named]) if named else None
        dots = self._pair_dots(vectors, pairs) if vectors is not None else np.zeros((0, 2))
        index: list[tuple[int, _Candidate]] = []
        rows: list[dict[str, float]] = []
        priors: list[float] = []
        for i, cands in found:
            text = texts[i]
            title = clean(items[i].title)
            shouting = is_shouting(title)
            ctx = item_context(text, len(title), shouting, _is_title_case(title))
            tickerlike = count_tickerlike(title, shouting)
            item_feats = _item_features(title, shouting)
            everyone = [m for c in cands.values() for m in c.mentions]
            for cand in cands.values():
                if not cand.mentions:
                    index.append((i, cand))
                    rows.append({})
                    priors.append(1.0)
                    continue
                if all(_mention_kind(m, shouting) in _TRIVIAL for m in cand.mentions):
                    # Only ordinary lower-case words or bare one-letter tickers: nothing for a model to weigh.
                    index.append((i, cand))
                    rows.append({"trivial": 1.0})
                    priors.append(max(_PRIOR[_mention_kind(m, shouting)] for m in cand.mentions))
                    continue
                side = None
                if own is not None:
                    side = "pos" if cand.prospect in own[i][0] else "neg"
                sims = self._cosines(dots[pair_of[(i, cand.prospect)]], cand.prospect, side)
                feats, prior = self._features(cand, text, ctx, len(cands), sims, tickerlike, item_feats, everyone)
                index.append((i, cand))
                rows.append(feats)
                priors.append(prior)
        return index, rows, priors

    # -- public -------------------------------------------------------------
    def fit(self, confirmed: Iterable[tuple[TextItem, Sequence[str]]]) -> ProspectTagger:
        """Learn profiles and the disambiguation model from items whose prospects people confirmed.

        An item confirmed with an empty list is evidence too: every name matched in it
        was used in another sense.
        """
        pairs = [(item, [p for p in pids if p in self.profiles]) for item, pids in confirmed]
        if not pairs:
            return self
        items = [item for item, _ in pairs]
        texts = [item_text(item) for item in items]
        labels: list[tuple[list[str], list[str]]] = []
        for (_item, pids), text in zip(pairs, texts, strict=True):
            matched = {m.prospect for m in self.matcher.mentions(text)}
            labels.append((list(dict.fromkeys(pids)), sorted(matched - set(pids))))
        self._fit_profiles(texts, labels)
        index, rows, _ = self._rows(items, labels)
        keep = [k for k, row in enumerate(rows) if row and not row.get("trivial")]
        y = [int(index[k][1].prospect in labels[index[k][0]][0]) for k in keep]
        if len(set(y)) < 2:
            return self
        if self.kind != "logistic":
            return self._fit_pairs([rows[k] for k in keep], np.asarray(y), [index[k][0] for k in keep])
        self._model = _PairModel(LOGISTIC_C).fit([rows[k] for k in keep], np.asarray(y))
        return self

    # -- the global pair classifier -------------------------------------------
    def _fit_pairs(self, rows: list[dict[str, float]], y: np.ndarray, groups: list[int]) -> ProspectTagger:
        """One model over every prospect's candidate pairs; threshold from inner folds."""
        self._threshold = self._inner_threshold(rows, y, np.asarray(groups))
        self._model = _PairModel().fit(rows, y)
        return self

    def _inner_threshold(self, rows: list[dict[str, float]], y: np.ndarray, groups: np.ndarray) -> float:
        """Best-recall threshold at PAIR_PRECISION on out-of-fold pair scores (items kept whole per fold)."""
        folds = min(INNER_FOLDS, int(y.sum()), int(len(y) - y.sum()), len(set(groups.tolist())))
        if folds < 2 or y.sum() < MIN_PAIR_POSITIVES:
            return 0.5
        prob = np.zeros(len(y))
        fold_of = {g: k % folds for k, g in enumerate(np.random.RandomState(0).permutation(np.unique(groups)))}
        inner = np.array([fold_of[g] for g in groups.tolist()])
        for f in range(folds):
            test = np.flatnonzero(inner == f)
            train = np.flatnonzero(inner != f)
            if len(set(y[train].tolist())) < 2:
                return 0.5
            model = _PairModel().fit([rows[k] for k in train], y[train])
            prob[test] = model.predict([rows[k] for k in test])
        for k, row in enumerate(rows):  # the same hard vetoes score_many applies
            if row.get("broker_actor") or row.get("news_source"):
                prob[k] = 0.0
        # Never below the default cut: this mode trades recall for precision, not the other way round.
        return choose_threshold(y, prob, PAIR_PRECISION, floor=0.5)

    def score_many(self, items: Sequence[TextItem], texts: Sequence[str] | None = None) -> list[dict[str, ProspectTag]]:
        """Every candidate prospect with its score, above threshold or not.

        ``texts`` may pass ``item_text`` of the items when the caller has it already.
        """
        texts = [item_text(item) for item in items] if texts is None else texts
        index, rows, priors = self._rows(items, texts=texts)
        scores = list(priors)
        scored = [k for k, row in enumerate(rows) if row and not row.get("trivial")]
        if self._model is not None and scored:
            probs = self._model.predict([rows[k] for k in scored])
            if self.kind != "logistic":
                probs = np.array([rescale(float(p), self._threshold, self.min_score) for p in probs])
            for k, prob in zip(scored, probs, strict=True):
                scores[k] = float(prob)
        out: list[dict[str, ProspectTag]] = [{} for _ in items]
        lowered: dict[int, str] = {}
        for (i, cand), score, row in zip(index, scores, rows, strict=True):
            text = lowered.setdefault(i, texts[i].lower())
            if cand.source:
                out[i][cand.prospect] = ProspectTag(1.0, "source")
                continue
            if cand.domain:
                out[i][cand.prospect] = ProspectTag(max(score, 0.95) if cand.mentions else 0.95, "domain")
                continue
            if row.get("broker_actor") or row.get("news_source"):
                score = min(score, 0.05)
            negatives = self._negatives[cand.prospect]
            if negatives and any(re.search(r"\b" + re.escape(w) + r"\b", text) for w in negatives):
                score = min(score, 0.05)
            kind = "person" if all(m.kind == "person" for m in cand.mentions) else "alias"
            out[i][cand.prospect] = ProspectTag(round(score, 4), kind)
        return out

    def tag_many(self, items: Sequence[TextItem], texts: Sequence[str] | None = None) -> list[dict[str, ProspectTag]]:
        """Prospects at or above ``min_score`` for each item."""
        return [
            {pid: tag for pid, tag in scores.items() if tag.score >= self.min_score}
            for scores in self.score_many(items, texts)
        ]
