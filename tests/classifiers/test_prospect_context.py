"""How an item talks about a company: subject, list member, passer-by or another thing (hand-written examples)."""

from __future__ import annotations

import pytest

from classifiers import ProspectProfile, ProspectTagger, TextItem
from classifiers.matching import AliasMatcher
from classifiers.prospect_context import (
    EVIDENCE,
    SUMMARY_ONLY,
    context_evidence,
    enumeration,
    item_context,
    mention_features,
)
from classifiers.prospects import _is_title_case
from classifiers.text import clean, is_shouting, item_text

PROFILES = [
    ProspectProfile("acme", "Acme Robotics Inc.", ("Acme", "Acme Robotics", "ACMR")),
    ProspectProfile("summit", "Summit Foods plc", ("Summit", "Summit Foods", "SMF")),
    ProspectProfile("harbor", "Harbor Freightways Inc.", ("Harbor", "Harbor Freightways", "HFW")),
]


def _context(title: str, summary: str = "", prospect: str = "acme") -> dict[str, float]:
    """Context features of the candidate ``prospect`` in a hand-written item."""
    item = TextItem("x", title, summary)
    text = item_text(item)
    clean_title = clean(title)
    ctx = item_context(text, len(clean_title), is_shouting(clean_title), _is_title_case(clean_title))
    mentions = [m for m in AliasMatcher(PROFILES).mentions(text) if m.prospect == prospect]
    assert mentions, f"{prospect} not named in {text!r}"
    written = [m for m in mentions if not m.lowercase]
    primary = next((m for m in written if m.start < len(clean_title)), written[0] if written else mentions[0])
    common = primary.alias.lower() in ("summit", "harbor")
    tickers = frozenset(a for p in PROFILES if p.id == prospect for a in p.aliases if a.isupper())
    return mention_features(ctx, primary, mentions, common, tickers)


def _tagged(title: str, summary: str = "") -> set[str]:
    """Prospects the tagger gives before any item is confirmed (the evidence prior alone)."""
    return set(ProspectTagger(PROFILES).tag_many([TextItem("x", title, summary)])[0])


# -- item level ---------------------------------------------------------------------------


def test_kicker_and_dateline_are_skipped() -> None:
    title = "UPDATE 2-Acme cuts 300 jobs"
    text = item_text(TextItem("x", title, "LONDON (Reuters) - Acme Robotics said on Monday it would cut jobs."))
    ctx = item_context(text, len(title), False, False)
    assert text[ctx.kicker_end :].startswith("Acme cuts")
    assert text[ctx.summary_start :].startswith("Acme Robotics said")


def test_market_fund_and_more_cues() -> None:
    assert item_context("Stocks turn up; Acme at record high", 35, False, False).market_cue
    fund = "Orchid Capital Management Llc Buys Acme, Widget Corp, Sells Gizmo Inc"
    ctx = item_context(fund, len(fund), False, True)
    assert ctx.fund_cue and ctx.trade_verbs == 2
    assert item_context("Earnings Ahead: Acme, Widget And More", 37, False, True).more_cue
    # A trailing ellipsis is a truncation mark unless the headline lists names.
    assert not item_context("Acme exec says price might fall ...", 35, False, False).more_cue
    assert item_context("Fund Buys Acme, Widget, Gizmo, ...", 34, False, True).more_cue


def test_enumeration_counts_names_around_a_mention_and_finds_the_introducer() -> None:
    text = "growth stocks like Widget Corp, Gizmo and Acme will gain"
    start = text.index("Acme")
    assert enumeration(text, start, start + 4, 0, len(text)) == (2, 0, "like")
    text = "Acme Inc, Widget and Gizmo report results"
    assert enumeration(text, 0, 4, 0, len(text))[:2] == (0, 2)
    text = "The firm signed a deal with Acme, but rivals balked"
    start = text.index("Acme")
    assert enumeration(text, start, start + 4, 0, len(text)) == (0, 0, "with")


# -- mention level -----------------------------------------------------------------------


def test_headline_and_summary_subjects() -> None:
    assert "title_subject" in _context("Acme recalls 2,000 toasters after complaints")
    assert "title_subject" in _context("UPDATE 1-Acme recalls toasters")
    assert "clause_subject" in _context("Markets slip; Acme recalls toasters")
    summary = _context("Toaster maker recalls units", "Acme Robotics said on Monday it would recall 2,000 units.")
    assert "summary_subject" in summary and "said_after" in summary
    # Named first, but as one of a list: not the subject.
    listed = _context("Acme, Widget And Gizmo Hit New Highs")
    assert "title_subject" not in listed and "title_list_head" in listed and "enum3" in listed


def test_list_headlines() -> None:
    fund = _context("Orchid Capital Management Llc Buys Acme, Widget Corp, Gizmo Inc, Sells Foo Corp")
    assert {"fund_trade", "list_and_cue", "any_list"} <= set(fund)
    wrap = _context("Stocks That Hit 52-Week Highs Include Widget, Gizmo, Acme")
    assert {"market_cue", "market_not_subject", "any_list"} <= set(wrap)
    more = _context("Bulls And Bears Of The Week: Widget, Acme, Gizmo And More")
    assert {"more_cue", "list_and_cue"} <= set(more)


@pytest.mark.parametrize(
    ("title", "feature"),
    [
        ("Former Acme chief joins Widget board", "former"),
        ("Widget hires ex-Acme engineer to run its labs", "former"),
        ("Bookseller struggles against rivals like Acme and Widget", "example"),
        ("Acme rival Widget raises $2 billion", "relation_after"),
        ("New memory boards for Acme PCs", "platform_after"),
    ],
)
def test_passers_by(title: str, feature: str) -> None:
    feats = _context(title)
    assert feature in feats and "any_passer_by" in feats
    assert "title_subject" not in feats


def test_other_things_with_the_same_name() -> None:
    # A longer proper name in running text.
    named = _context("Pinnacle Summit Resort reopens after storm", prospect="summit")
    assert {"cap_after_sentence", "common_named_thing", "any_other_sense"} <= set(named)
    assert "title_subject" not in named
    before = _context("Fishermen return to Cedar Harbor marina", prospect="harbor")
    assert {"cap_before_sentence", "common_named_thing"} <= set(before)
    # The everyday word elsewhere in the text, or with "the" in front.
    lower = _context("Summit is a hard climb", "The summit of the hill was reached at dawn.", prospect="summit")
    assert "common_lower_elsewhere" in lower
    assert "common_the_before" in _context("Reaching The Summit Takes Patience", prospect="summit")
    # A series number after the name: a product or a vehicle, not the company.
    assert "number_after" in _context("Launch slips", "The new Harbor 4 rocket must wait a week.", prospect="harbor")
    assert "number_after" not in _context("Acme 2014 profit in line with forecasts")


def test_title_case_headlines_read_verbs_after_names() -> None:
    leads = _context("Harbor Leads Dow As Shipping Recovers", prospect="harbor")
    assert "verb_after" in leads and "cap_after_caps" not in leads
    store = _context("Dealer Acquires New Harbor Store In Ohio", prospect="harbor")
    assert "common_cap_after_caps" in store and "verb_after" not in store


def test_own_ticker_beside_the_name() -> None:
    assert "own_ticker" in _context("ACME ROBOTICS <ACMR> SETS DIVIDEND")
    assert "own_ticker" in _context("Robot maker expands", "Acme Robotics Inc (NYSE: ACMR) will build a plant.")
    assert "own_ticker" not in _context("Acme expands", "Acme Robotics will build a plant.")


def test_evidence_is_a_fixed_sum() -> None:
    assert context_evidence({}, False) == 0.0
    assert context_evidence({"any_subject": 1.0}, True) == EVIDENCE["any_subject"] + SUMMARY_ONLY
    assert context_evidence({"any_list": 1.0, "list_and_cue": 1.0, "unknown": 1.0}, False) == (
        EVIDENCE["any_list"] + EVIDENCE["list_and_cue"]
    )
    assert all(w < 0 for k, w in EVIDENCE.items() if k.startswith("any_") and k != "any_subject")


# -- the tagger before any item is confirmed ----------------------------------------------


def test_subjects_are_tagged() -> None:
    assert _tagged("Acme recalls 2,000 toasters after complaints") == {"acme"}
    assert _tagged("Robot maker to cut jobs", "Acme Robotics said it would cut 300 jobs.") == {"acme"}
    assert _tagged("Summit Foods profit rises 12 pct", "Summit Foods said sales of ready meals grew.") == {"summit"}


def test_lists_passers_by_and_other_senses_are_not_tagged_before_training() -> None:
    assert _tagged("Orchid Capital Management Llc Buys Acme, Widget Corp, Gizmo Inc, Sells Foo Corp") == set()
    assert _tagged("Former Acme chief joins Widget board") == set()
    assert _tagged("Bookseller fights back", "The shop competes with giant rivals like Acme and Widget.") == set()
    assert _tagged("Pinnacle Summit Resort reopens after storm") == set()
    assert _tagged("Summit is a hard climb", "The summit of the hill was reached at dawn.") == set()
