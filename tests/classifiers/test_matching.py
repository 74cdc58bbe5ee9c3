"""The alias matcher and the disambiguation priors on hand-written examples."""

from __future__ import annotations

from classifiers import ProspectProfile, ProspectTagger, TextItem
from classifiers.matching import AliasMatcher
from classifiers.text import clean

PROFILES = [
    ProspectProfile("apple", "Apple Inc.", ("Apple", "AAPL"), ("apple.com",), negative_keywords=("pie", "orchard")),
    ProspectProfile("target", "Target Corporation", ("Target", "Target Corp", "TGT"), ("target.com",)),
    ProspectProfile("ford", "Ford Motor Company", ("Ford", "F"), ("ford.com",)),
    ProspectProfile("agilent", "Agilent Technologies, Inc.", ("Agilent", "A"), people=("Jane Moreau",)),
    ProspectProfile("sprint", "Sprint Corporation", ("Sprint", "Sprint Nextel", "S")),
]


def _tags(title: str, summary: str = "", link: str = "", source: tuple[str, ...] = ()) -> dict[str, str]:
    tagger = ProspectTagger(PROFILES)
    tags = tagger.tag_many([TextItem("x", title, summary, link, source)])[0]
    return {pid: tag.origin for pid, tag in tags.items()}


def test_ordinary_words_are_not_prospects() -> None:
    assert _tags("apple pie recipe for the holidays") == {}
    assert _tags("Know your target audience before you write") == {}
    assert _tags("Apple Pie Recipe", "Bake the apple pie for an hour") == {}  # negative keyword


def test_company_names_are_tagged() -> None:
    assert _tags("Apple unveils iPhone with a larger screen") == {"apple": "alias"}
    assert _tags("Target Corp to open 30 stores") == {"target": "alias"}


def test_one_letter_tickers_need_ticker_context() -> None:
    assert _tags("A new plant opens; F grade for S and A students") == {}
    assert "ford" in _tags("Carmaker shares rise (NYSE: F) after results")
    assert "ford" in _tags("FORD <F> SETS NEW DIVIDEND")
    assert "ford" in _tags("Traders pile into $F before the earnings call")


def test_domains_people_and_source() -> None:
    assert _tags("Quarterly update", link="https://news.apple.com/x") == {"apple": "domain"}
    assert _tags("Jane Moreau speaks at conference") == {"agilent": "person"}
    assert _tags("Anything at all", source=("ford",)) == {"ford": "source"}
    assert _tags("Anything", link="https://notapple.com/") == {}


def test_matcher_prefers_longest_alias_and_word_boundaries() -> None:
    matcher = AliasMatcher(PROFILES)
    found = matcher.mentions("Sprint Nextel and Sprinter vans; S&P rises")
    assert [(m.prospect, m.alias) for m in found] == [("sprint", "Sprint Nextel")]


def test_matcher_scales_to_thousands_of_prospects() -> None:
    many = [ProspectProfile(f"p{i}", f"Company{i} Holdings", (f"Brand{i}", f"TK{i}")) for i in range(5000)]
    matcher = AliasMatcher([*many, *PROFILES])
    found = matcher.mentions("Brand4711 and Company12 Holdings beat Apple")
    assert {m.prospect for m in found} == {"p4711", "p12", "apple"}


def test_clean_removes_markup_but_keeps_wire_tickers() -> None:
    text = 'Delta &lt;A HREF="http://x/?ticker=DAL.N target=/q"&gt;DAL.N&lt;/A&gt; #39;s <DAL> \\$5'
    assert clean(text) == "Delta DAL.N 's <DAL> $5"


def test_broker_naming_a_rating_is_not_the_subject() -> None:
    profiles = [*PROFILES, ProspectProfile("barclays", "Barclays PLC", ("Barclays",))]
    tagger = ProspectTagger(profiles)
    tags = tagger.tag_many(
        [
            TextItem("1", "Barclays Downgrades Harrow Systems to Underweight"),
            TextItem("2", "UPDATE: Barclays Upgrades Orchid Bank Following Results"),
            TextItem("3", "Barclays profit rises on trading income"),
        ]
    )
    assert [set(t) for t in tags] == [set(), set(), {"barclays"}]


def test_possessive_s_in_capitals_is_not_a_ticker() -> None:
    matcher = AliasMatcher(PROFILES)
    found = matcher.mentions("LLOYD'S OFFERS CASH; HARROD\u2019S SALES UP; SPRINT <S> GAINS; (NYSE: S) rises")
    assert [(m.alias, m.ticker_context) for m in found if m.prospect == "sprint"] == [
        ("Sprint", False),
        ("S", True),
        ("S", True),
    ]


def test_lower_case_words_and_bare_one_letter_tickers_are_never_enough() -> None:
    tagger = ProspectTagger(PROFILES)
    scores = tagger.score_many([TextItem("1", "A target audience for S and F grades", "an apple a day")])[0]
    assert scores and all(tag.score < 0.1 for tag in scores.values())
