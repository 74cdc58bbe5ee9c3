"""Features and threshold choice for the global (item, candidate prospect) pair classifier.

Every candidate the alias / person / ticker matcher finds in an item becomes one
pair. Besides the features of :mod:`classifiers.prospects` and
:mod:`classifiers.prospect_context`, a pair is described by *how* the prospect was
named (legal name, alias, ticker, person), how the matched text is written against
the case of the text around it (ALL-CAPS wire headline, Title Case headline,
sentence), whether the alias is also an everyday English word, the words in a window
of three on each side (left and right kept apart) and how list-like the item is
(distinct candidates, ticker-like tokens). One model is trained over the pairs of
every prospect; in precision mode its decision threshold is chosen on inner folds of
the training pairs for the best recall at a target precision.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from classifiers.matching import Mention

_WORD = re.compile(r"[A-Za-z0-9]+(?:'[a-z]+)?")
_TICKERLIKE = re.compile(r"(?<![\w$])\$?[A-Z]{2,5}(?:\.[A-Z])?(?![\w])")

# Everyday English words (nouns, adjectives, verbs) that are also commonly used as
# company names. Written by hand, deliberately generic: a name on this list needs
# stronger evidence than a coined one ("Agilent", "AbbVie") before it is trusted.
_COMMON_WORDS_TEXT = """
    able act action advance agent air alliance alpha alphabet amazon american anchor apex apple arch
    arrow atlas aurora axis balance bank baker banner bay beacon bear bell best big birch black blue
    bold boston bridge bright brook buck bull cable camel canon capital cardinal carnival castle cedar
    center central champion chase cherry circle citizen city civic clear cliff cloud coach coast
    colonial comet common compass concord core corner crane crest crown crystal current dawn delta
    diamond discovery dollar dominion dove eagle east eastern echo edge element elite ember empire
    energy enterprise equity evergreen excel express fair falcon federal fidelity first flag fleet
    focus ford forest fortune forward fox frontier galaxy gap gate gateway general genesis giant glacier
    global globe gold golden grace grand granite graphite green guardian gulf harbor harmony harvest
    hawk heart heritage highland home horizon hub iron island ivy jaguar jet jupiter key keystone
    kingfisher lake land legacy liberty light lincoln lion lotus lucky magic main micron intel major maple marathon
    mariner matrix meridian metro midland mint mission monarch mosaic motor mountain national native
    navigator nest network new nexus noble north northern nova oak ocean olympic omega orbit orchard
    oracle pacific palm panther paragon patriot peak pearl pilgrim pine pilot pinnacle pioneer planet
    plaza polar premier prestige prime progress prudential pulse quest rainbow ranger raven reliance
    republic ridge river rock royal safe sage saturn scout sentinel shell shield sierra signal silver
    sky solar sonic south southern southwest sovereign spark spirit sprint square standard star
    sterling stone summit sun sunrise superior swift target titan tower trade trust triumph unity
    united universal valley vanguard venture victory vision visa vista wave west western wild willow
    wind wing wolf world zenith
"""
COMMON_WORDS = frozenset(_COMMON_WORDS_TEXT.split())


def case_pattern(matched: str) -> str:
    """How the matched text is written: upper, title, lower or mixed."""
    letters = [c for c in matched if c.isalpha()]
    if not letters:
        return "none"
    if all(c.isupper() for c in letters):
        return "upper"
    if all(c.islower() for c in letters):
        return "lower"
    words = [w for w in matched.split() if w[:1].isalpha()]
    if words and all(w[0].isupper() and (w[1:] == w[1:].lower()) for w in words):
        return "title"
    return "mixed"


def alias_form(mention: Mention, full_names: Sequence[str]) -> str:
    """Which kind of name matched: the full (legal) name, another alias, a ticker or a person."""
    if mention.kind == "person":
        return "person"
    if mention.kind == "ticker":
        return "ticker"
    return "full" if mention.alias.lower() in full_names else "alias"


def count_tickerlike(title: str, shouting: bool) -> int:
    """ALL-CAPS short tokens in a headline that is not itself in capitals (lists, market wraps)."""
    if shouting:
        return 0
    return len(_TICKERLIKE.findall(title))


def pair_features(
    text: str,
    title_len: int,
    shouting: bool,
    title_case: bool,
    mention: Mention,
    mentions: Sequence[Mention],
    full_names: Sequence[str],
    n_cands: int,
    n_tickerlike: int,
) -> dict[str, float]:
    """The pair-level features added to the shared disambiguation features."""
    matched = text[mention.start : mention.end]
    case = case_pattern(matched)
    context = "sentence"  # the summary is prose, whatever the headline's style
    if mention.start < title_len:
        context = "shout" if shouting else ("headline" if title_case else "sentence")
    form = alias_form(mention, full_names)
    tokens = len(_WORD.findall(mention.alias))
    common = mention.alias.lower() in COMMON_WORDS or (
        tokens == 1 and mention.alias.lower().rstrip("s") in COMMON_WORDS
    )
    position = "title_start" if mention.start == 0 else ("title" if mention.start < title_len else "summary")
    feats: dict[str, float] = {
        f"form={form}": 1.0,
        f"case={case}|{context}": 1.0,
        f"form_case={form}|{case}|{context}": 1.0,
        f"alias_tokens={min(tokens, 3)}": 1.0,
        "common_word": float(common),
        f"common_case={common}|{case}|{context}": 1.0,
        f"position={position}": 1.0,
        f"common_position={common}|{position}": 1.0,
        "n_tickerlike": min(n_tickerlike, 5) / 2.0,
        "many_candidates": float(n_cands >= 3),
        "forms": float(len({alias_form(m, full_names) for m in mentions})),
    }
    before = _WORD.findall(text[max(0, mention.start - 40) : mention.start])[-3:]
    after = _WORD.findall(text[mention.end : mention.end + 40])[:3]
    # Words across the title / summary boundary still count: ". " separates them in the text.
    for word in before:
        feats["L:" + word.lower()] = 1.0
    for word in after:
        feats["R:" + word.lower()] = 1.0
    if common:
        for word in before[-1:]:
            feats["cL:" + word.lower()] = 1.0
        for word in after[:1]:
            feats["cR:" + word.lower()] = 1.0
    return feats


def choose_threshold(y: np.ndarray, prob: np.ndarray, min_precision: float = 0.95, floor: float = 0.2) -> float:
    """The lowest threshold whose precision is at least ``min_precision`` (the best recall there).

    When no threshold reaches that precision, the one with the best F0.5 is taken.
    A floor keeps a tiny inner sample from choosing an absurdly low threshold.
    """
    order = np.argsort(-prob, kind="stable")
    p_sorted, y_sorted = prob[order], y[order]
    tp = np.cumsum(y_sorted)
    predicted = np.arange(1, len(y_sorted) + 1)
    precision = tp / predicted
    positives = max(1, int(y.sum()))
    recall = tp / positives
    # Only cut between distinct scores.
    distinct = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    ok = np.flatnonzero(distinct & (precision >= min_precision))
    if len(ok):
        k = ok[np.argmax(recall[ok] + 1e-6 * precision[ok])]
    else:
        beta2 = 0.25
        f = (1 + beta2) * precision * recall / np.maximum(beta2 * precision + recall, 1e-9)
        cand = np.flatnonzero(distinct)
        k = cand[np.argmax(f[cand])]
    below = p_sorted[k + 1] if k + 1 < len(p_sorted) else 0.0
    return float(max(floor, (p_sorted[k] + below) / 2.0))


def rescale(prob: float, threshold: float, at: float = 0.5) -> float:
    """Map a probability so that ``threshold`` lands on ``at`` (the tagger's min_score), monotonically."""
    threshold = min(max(threshold, 1e-6), 1 - 1e-6)
    if prob < threshold:
        return at * prob / threshold
    return at + (1.0 - at) * (prob - threshold) / (1.0 - threshold)
