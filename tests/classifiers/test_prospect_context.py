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
    return mention_features(ctx, primary, mentions, common, tickers, AliasMatcher(PROFILES).mentions(text))


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


# -- subjects shared by several names, questions, credits and datelines ---------------------


def test_names_that_share_the_subject() -> None:
    both = _context("Airlines Slump As Acme, Widget Announce Route Cuts")
    assert {"joint_subject", "any_subject"} <= set(both) and "enum3" not in both
    suit = _context("Carmakers challenge emissions rule", "Widget, Acme Robotics and six other makers filed suit.")
    assert "joint_subject" in suit
    # The objects of a preposition share no subject.
    partners = _context("Linux vendor opens Beijing office", "It will work with Widget, Gizmo, Acme and Foo.")
    assert "joint_subject" not in partners and "list_after_preposition" in partners


def test_enumeration_stops_at_a_verb_in_capitalised_headlines_and_reads_serial_commas() -> None:
    text = "Airlines Slump As Acme, Widget Announce Route Cuts, But Oil Rises"
    start = text.index("Acme")
    assert enumeration(text, start, start + 4, 0, len(text), caps=True)[:2] == (0, 1)
    assert enumeration(text, start, start + 4, 0, len(text))[:2] == (0, 2)
    text = "Yahoo, Widget, and Acme all plan desktop search tools"
    start = text.index("Acme")
    assert enumeration(text, start, start + 4, 0, len(text))[:2] == (2, 0)


def test_a_plain_list_is_not_a_stock_list() -> None:
    plain = _context("Judge Throws Out Suit Against Widget, Gizmo, Acme")
    assert "enum3" in plain and "any_list" not in plain
    assert "any_list" in _context("Market Update: Analysts Weigh In On Widget, Gizmo And Acme")


def test_question_headlines_have_a_subject() -> None:
    feats = _context("Stocks Edge Up; Will Acme Spin Off Its Drone Unit?")
    assert "clause_subject" in feats and "cap_before_caps" not in feats


def test_a_verb_before_a_name_in_a_capitalised_headline_is_not_part_of_it() -> None:
    assert "cap_before_caps" not in _context("EU Pursues Acme Over Robot Patents")
    assert "cap_before_caps" in _context("Shares Of Cedar Harbor Marina Rise", prospect="harbor")


def test_ordinary_word_used_as_a_verb_is_not_tagged() -> None:
    title = "Climbers Who May Summit Everest This Spring Face New Fees"
    assert {"common_verb_use", "any_other_sense"} <= set(_context(title, prospect="summit"))
    assert _tagged(title) == set()
    # A question's auxiliary opens the clause: the name after it is its subject.
    assert "common_verb_use" not in _context("Markets Dip; Will Summit Sell Its Bakery Arm?", prospect="summit")
    assert "common_verb_use" not in _context("Why Is Summit Closing Its Bakeries?", prospect="summit")


def test_source_credited_at_the_end_of_a_headline() -> None:
    feats = _context("Acme to cut 300 jobs, Harbor says", prospect="harbor")
    assert "source_credit" in feats and "said_after" not in feats
    assert _tagged("Acme to cut 300 jobs, Harbor says") == {"acme"}
    assert "source_credit" not in _context("Harbor says freight volumes fell in May", prospect="harbor")
    # A company's own news told with the attribution at the end.
    assert "source_credit" not in _context("Freight volumes fell in May, Harbor says", prospect="harbor")
    assert _tagged("Freight volumes fell in May, Harbor says") == {"harbor"}


def test_a_dateline_place_is_not_a_subject() -> None:
    tagger = ProspectTagger([ProspectProfile("texaco", "Texaco Inc.", ("Texaco", "TX"))])
    item = TextItem("x", "Astros keep their second baseman", "Houston, TX (Sports Network) - The Astros kept him.")
    text = item_text(item)
    assert text[item_context(text, len(item.title), False, False).summary_start :].startswith("The Astros")
    assert tagger.tag_many([item]) == [{}]
    # A company and its ticker opening a summary are no dateline.
    text = "Acme unveils robot. Acme Robotics Inc (ACMR) - The maker said it would ship in May."
    assert item_context(text, len("Acme unveils robot"), False, False).summary_start == len("Acme unveils robot. ")


# -- other things with the same name ---------------------------------------------------------


def test_a_longer_name_with_a_ticker_of_its_own_is_another_company() -> None:
    other = _context("SUMMIT EXPRESS <SMEX> PRESIDENT PLEADS GUILTY", prospect="summit")
    assert {"other_name_ticker", "any_other_sense"} <= set(other)
    assert _tagged("SUMMIT EXPRESS <SMEX> PRESIDENT PLEADS GUILTY") == set()
    own = _context("SUMMIT FOODS <SMF> RAISES DIVIDEND", prospect="summit")
    assert "other_name_ticker" not in own and "own_ticker" in own
    # A news agency credited in brackets is no ticker.
    assert "other_name_ticker" not in _context("EU Pursues Acme-Harbor Case (AP)", prospect="harbor")


def test_another_companys_product() -> None:
    launch = _context(
        "Launch slips for Harbor rocket", "Acme's new heavy-lift Harbor 4 rocket must wait.", prospect="harbor"
    )
    assert {"other_owner", "number_after"} <= set(launch)
    assert _tagged("Launch slips for Harbor rocket", "Acme's new heavy-lift Harbor 4 rocket must wait.") == {"acme"}
    # A country's possessive names no owner; a product code after the name is no company either.
    assert "other_owner" not in _context("Britain's Summit Foods raises prices", prospect="summit")
    assert "number_after" in _context("Trial of Summit-4B12 cancer drug succeeds", prospect="summit")


def test_relation_words_need_a_name_after_them() -> None:
    assert "relation_after" in _context("Acme rival Widget raises $2 billion")
    assert "relation_after" not in _context("Wiretap rules may squeeze Acme rivals", "Regulators want access.")


def test_hyphen_between_two_names_joins_two_parties() -> None:
    assert "hyphen_compound" not in _context("Regulators Pursue Acme-Harbor Case")
    assert "hyphen_compound" in _context("New Acme-compatible boards unveiled")


def test_summary_under_a_capitalised_headline_is_read_as_prose() -> None:
    feats = _context(
        "WIDGET <WDG> COMPLETES MERGER", "Summit Business Systems Inc said it merged into Widget.", prospect="summit"
    )
    assert "cap_after_sentence" in feats and "summary_subject" not in feats


def test_movers_named_only_in_a_market_wraps_summary() -> None:
    feats = _context(
        "Wall Street ends lower as tech weighs", "The S&P 500 fell, pulled down by Acme Robotics and Widget."
    )
    assert "title_market_cue" in feats and EVIDENCE["title_market_cue"] < 0
    summary = "The S&P 500 fell, pulled down by Acme Robotics."

    def score(title: str) -> float:
        return ProspectTagger(PROFILES).score_many([TextItem("x", title, summary)])[0]["acme"].score

    assert score("Wall Street ends lower as tech weighs") < score("Robot makers face new safety rules")


def test_company_only_in_the_summary_of_another_companys_ticker_headline() -> None:
    tagger = ProspectTagger(PROFILES)
    item = TextItem(
        "x", "WIDGET SYSTEMS <WDG> UNVEILS NEW BOARDS", "Widget said the boards fit Acme Robotics Inc <ACMR> PCs."
    )
    _index, rows, _ = tagger._rows([item])
    assert rows[0].get("c:titled_other") == 1.0
    headline = TextItem("y", "ACME ROBOTICS <ACMR> UNVEILS NEW BOARDS", "Acme Robotics said the boards fit Widget PCs.")
    assert "c:titled_other" not in tagger._rows([headline])[1][0]


def test_company_only_in_the_summary_of_a_headline_naming_no_prospect() -> None:
    tagger = ProspectTagger(PROFILES)
    alone = TextItem("x", "Regulator sues two robot makers", "The regulator is suing Acme Robotics and Widget Corp.")
    assert tagger._rows([alone])[1][0].get("c:untitled") == 1.0
    beside = TextItem("y", "Summit Foods buys a robot fleet", "The grocer chose Acme Robotics over Widget Corp.")
    index, rows, _ = tagger._rows([beside])
    acme = next(row for (_, cand), row in zip(index, rows, strict=True) if cand.prospect == "acme")
    assert "c:untitled" not in acme
