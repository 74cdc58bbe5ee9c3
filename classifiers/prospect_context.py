"""How a news item talks about a company it names: subject, list member, passer-by or another thing.

Company news is written to a few patterns, and where a name sits in them says whether
the item is *about* that company:

- the **subject** opens the headline or one of its clauses ("Apple recalls ...",
  "UPDATE 1-Tesla cuts ...", "... ; Nokia surges on ...", "...; Will Alphabet spin
  off Waymo?") or the summary ("NEW YORK (Reuters) - Ford Motor said ..."), alone or
  with others ("Delta, American Announce Cuts", "Toyota, GM and seven other automakers
  filed suit");
- **lists** name many companies and none of them is the subject: fund portfolios
  ("XYZ Capital Buys A, B, C, Sells ..."), market wraps ("Stocks turn up; ...", and
  the movers named only in a wrap's summary), earnings calendars and stock lists
  ("A, B And More"). A plain "A, B and C" is not one by itself: it may name every
  party of the story ("lawsuit against A, B, C");
- **passers-by** are named through another company or person: a former employer
  ("ex-Apple executive", "former BP chief"), a platform or component ("on Apple TV",
  "for IBM PCs", "based on Intel 82576"), an example ("rivals like Amazon.com"),
  a backer or rival ("Tesla rival Rivian"), the source credited at the end of a
  headline ("..., Sky says"), the place in a dateline ("Houston, TX (Sports Network) -");
- **other things** share the name: a longer proper name around it ("Pershing Square",
  "Sky Express", "SKY EXPRESS <SKYX>" with a ticker of its own), another company's
  product ("Boeing's new Delta 4 rocket"), a model number or code ("Delta 4",
  "GAP-107B8"), or the everyday word ("the Sky's the limit", "cuts that may target
  20,000 workers", written in lower case elsewhere in the text).

Capitals say little about names in a headline written in capitals or Title Case, but
the summary under such a headline is prose and is read as prose.

This module turns those patterns into features for the prospect disambiguation model.
Everything here reads only the item's own text; nothing depends on particular companies.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from classifiers.matching import Mention

_TOKEN = re.compile(r"[A-Za-z0-9]+")
# Headline kickers before the story proper: "UPDATE 1-", "BRIEF-", "Exclusive:", "Market Update:".
_KICKER = re.compile(
    r"(?:[A-Z][A-Z0-9]{1,15}(?:\s\d{1,2})?-(?=\S)|(?:[A-Z][\w&']*\s?){1,3}(?:\d{1,2})?:\s+|[A-Z][a-z]+-(?=[A-Z]))"
)
# Datelines that open wire summaries: "NEW YORK (Reuters) - ", "Houston, TX (Sports Network) - ", "AFP - "
# (not "Apple Inc (AAPL) - ": a service's name is written in lower case after its capital).
_DATELINE = re.compile(
    r"(?:[A-Z][A-Za-z .,'-]{0,40}\((?:Reuters|AP|AFP|Reuters\.com|CP|PA|[A-Z][a-z][\w .&-]{1,30})\)\s*-{1,2}\s*"
    r"|(?:Reuters|AFP|AP)\s*-{1,2}\s*)"
)
# Where a new clause of a headline begins: after ";", ":", "|", "?", " - ", "...".
_CLAUSE_BREAK = re.compile(r"[;:|?!]\s+|\s-{1,2}\s+|\.\.\.\s*")
# Market wraps, stock lists and earnings calendars: the headline is about the market, not one company.
_MARKET_CUE = re.compile(
    r"\b(?:stocks|wall st(?:reet)?|s&p|dow|nasdaq|ftse|dax|nikkei|movers|roundup|wrap|"
    r"earnings (?:preview|season|calendar|expectations|week)|week ahead|52-week|record highs|"
    r"to watch|in focus|bulls and bears|faang|mad money|cramer|price target changes|premarket|market update|"
    r"short (?:sellers|interest|trades)|options bets)\b",
    re.IGNORECASE,
)
# Fund-portfolio and holdings headlines: "XYZ Fund Buys A, B, Sells C", "13F Shows New Stakes In ...".
_FUND_CUE = re.compile(
    r"\b(?:fund|funds|portfolio|13f|13d|holdings? in|stakes? in|llc|lp|advisors|capital management|"
    r"wealth management|asset management|investment management)\b",
    re.IGNORECASE,
)
_TRADE_VERB = re.compile(r"\b(?:Buys|Sells|Adds(?: to)?|Trims|Exits|Boosts|Cuts)\b")
# "A, B And More", "... and other tech stocks", "A, B, C, ...": the list goes on beyond the names given
# (an ellipsis counts only after a comma or in a headline that lists, not as a mere truncation mark).
_MORE_CUE = re.compile(r"\b(?:and|&) (?:more|others?)\b|\bother\b|\betc\b|,\s*(?:\.\.\.|\u2026)", re.IGNORECASE)
_ELLIPSIS = re.compile(r"\.\.\.|\u2026")
# A short series number or numeral after a name ("Delta 4", "Sprint II"); model numbers such as
# "Boeing 737" and years ("Glencore 2014 profit") are left out: those still concern the company.
_NUMBER_AFTER = re.compile(
    r" (?:\d{1,2}|[IVX]{1,4})\b(?![\d.,%])(?!\s*(?:pct|percent|mln|bln|billion|million|dlrs))"
    r"|-\d+[A-Z]\w*"  # a product code: "GAP-107B8"
)
# A noun and then a capitalised word in the same sentence: "Tesla rival Rivian" (not "... Nextel rivals. Fed up").
_NAMED_AFTER = re.compile(r"\s+[\w-]+\s+[A-Z]")
# A wire ticker right after a name, past a legal suffix or possessive: "Boeing Co (BA)", "Texaco Inc <TX>".
_TICKER_AFTER_NAME = re.compile(
    r"(?:,?\s+(?:Inc|Corp|Corporation|Co|Company|Plc|PLC|Ltd|AG|SA|NV|LLC|Group|Holdings)\b\.?)?(?:'s)?\s*"
    r"(?:<([A-Z][A-Z0-9]{0,6})(?:\.[A-Z]{1,2})?>|\((?:[A-Za-z]+\s*:\s*)?([A-Z][A-Z0-9]{0,6})(?:\.[A-Z]{1,2})?\))"
)
# "X said ...", "X Inc <XX> reported ...": the company speaks or acts.
_SAID_AFTER = re.compile(
    r"(?:,? (?:Inc|Corp|Co|Ltd|Plc|PLC|AG|LLC)\.?)?(?:\s*<[^>]{1,12}>|\s*\([^)]{1,16}\))?\s*"
    r"(?:said|says|announced|reported|posted|plans|will|is|has|agreed|named)\b",
    re.IGNORECASE,
)
_VERB_S = re.compile(r"[a-z]+(?<![su]s)(?<!ss)(?<!ie)(?<!ic)s")  # "Buys", "Pursues", "Beats" (not "Politics")
# How a verb right after a name in a Title Case headline looks ("Apple Leads", "Sprint Ticking", "Ford Cuts").
_VERB_LIKE = re.compile(r"(?:[a-z]+(?<![su]s)(?<!ss)s|[a-z]+ing|[a-z]{3,}ed)$")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


VERBS_AFTER = _words(
    """to will may might can could should would must is was are has had set cut hit put beat bid quit sue win
    won lost sold bought made said say sees eyes wins up down unveils not"""
)
FORMER = frozenset(("ex", "former", "formerly", "onetime", "one-time", "erstwhile"))
PREPOSITIONS = _words(
    "on for with by from via at to into against than over of in about under behind after as beside besides vs versus"
)
# Nouns after a name that make it a reference point for another company ("Tesla rival Rivian").
RELATION_AFTER = frozenset(("rival", "rivals", "competitor", "competitors", "peer", "peers", "alum", "alumni"))
# Nouns after a name that make it a platform others build for ("Apple users", "IBM-compatible", "for IBM PCs").
PLATFORM_AFTER = frozenset(("users", "user", "platform", "platforms", "compatible", "pcs", "pc", "clones"))
# Words that introduce a list of examples: "rivals like A and B", "tech giants including A, B and C".
LIST_INTRODUCERS = frozenset(("like", "including", "includes", "such", "among", "incl"))
# Words that open a clause inside a headline or sentence ("... As Delta, American Announce Cuts").
CLAUSE_OPENERS = _words("as while after when because since though although but so and then once if")
# Words after a list of names that make the names its joint subject ("A and B are ...", "A, B all plan ...").
SUBJECT_WORDS = _words("all both are were have announce announced plan agree say report face join team")
# A capitalised name other than the prospect's, then a possessive, then up to three words: "Boeing's new Delta".
_OWNER_BEFORE = re.compile(
    r"([A-Z][\w.&-]*)(?:\s+(?:Inc|Corp|Co|Ltd|Plc|PLC))?\.?['\u2019]s\s+(?:[a-z][\w-]*\s+){0,3}$"
)
# A longer capitalised name that carries a wire ticker of its own: "SKY EXPRESS <SKYX>".
_LONGER_NAME_TICKER = re.compile(
    r"((?:\s+[A-Z][\w&.-]*){1,3})\s*(?:<([A-Z][A-Z0-9]{0,6})(?:\.[A-Z]{1,2})?>|\(([A-Z][A-Z0-9]{0,6})(?:\.[A-Z]{1,2})?\))"
)
# A headline that ends by crediting its source: "..., Sky Says", "... - Acme News reports".
_SOURCE_CREDIT = re.compile(r"\s*(?:News|TV)?\s*(?:says|said|reports|reported)\s*$", re.IGNORECASE)
# Words that continue a company name without making it another one (legal suffixes).
_NAME_SUFFIX = _words("inc corp corporation co company plc ltd limited group holdings ag sa nv")
# Auxiliaries that open a question headline before its subject: "Will Alphabet Spin Off Waymo?".
AUXILIARIES = _words("will can could should would does did do is are was were has have had may might must")
# Modal verbs: the word after one is a verb ("... Cuts That May Target 20000 Workers"), unless they open a question.
MODALS = _words("will would can could should may might must")
# News agencies credited in brackets at the end of a headline: "... Case (AP)" (not a company's ticker).
_AGENCIES = _words("AP AFP CP PA UPI DJ")
# Small words that may sit between capitalised headline words without being names.
FUNCTION_WORDS = _words("a an the and or but of in on at to for with by from as is are was be its it this that up new")


@dataclass(frozen=True)
class ItemContext:
    """What is computed once per item, before looking at any one mention."""

    text: str
    title_len: int
    shouting: bool
    title_case: bool
    kicker_end: int  # where the headline proper starts (after "UPDATE 1-" and the like)
    clause_starts: frozenset[int]  # offsets in the title where a clause begins
    summary_start: int  # offset where the summary's first sentence starts (after a dateline); -1 if none
    market_cue: bool
    fund_cue: bool
    more_cue: bool
    trade_verbs: int


def item_context(text: str, title_len: int, shouting: bool, title_case: bool) -> ItemContext:
    """The per-item part of the context features (``text`` is title, ". ", summary)."""
    title = text[:title_len]
    kicker = _KICKER.match(title)
    kicker_end = kicker.end() if kicker and kicker.end() < title_len else 0
    starts = {kicker_end}
    for brk in _CLAUSE_BREAK.finditer(title, kicker_end):
        if brk.end() < title_len:
            starts.add(brk.end())
    summary_start = -1
    if len(text) > title_len + 2:
        summary_start = title_len + 2
        dateline = _DATELINE.match(text, summary_start)
        if dateline:
            summary_start = dateline.end()
    return ItemContext(
        text=text,
        title_len=title_len,
        shouting=shouting,
        title_case=title_case,
        kicker_end=kicker_end,
        clause_starts=frozenset(starts),
        summary_start=summary_start,
        market_cue=bool(_MARKET_CUE.search(title)),
        fund_cue=bool(_FUND_CUE.search(title)),
        more_cue=bool(_MORE_CUE.search(title)) or (title.count(",") >= 2 and bool(_ELLIPSIS.search(title))),
        trade_verbs=len(_TRADE_VERB.findall(title)),
    )


def _word_before(text: str, start: int, floor: int = 0) -> str:
    words = _TOKEN.findall(text[max(floor, start - 30) : start])
    return words[-1] if words else ""


_LIST_VERBS = VERBS_AFTER | SUBJECT_WORDS
_LIST_TOKEN = re.compile(r"[A-Za-z0-9$\"'(\u2018\u201c][\w.&'\u2019$)-]*|[,;&/]")
_JOINERS = frozenset((",", ";", "&", "/", "and", "or", "vs", "vs.", "versus"))
_SUFFIX_TOKENS = _NAME_SUFFIX | {"'s", "\u2019s"}


def _is_name_token(token: str) -> bool:
    head = token.lstrip("\"'(\u2018\u201c$")
    return bool(head) and (head[0].isupper() or head[0].isdigit())


def _enumerate(
    text: str, start: int, end: int, floor: int, ceiling: int, caps: bool = False
) -> tuple[int, int, str, int, int]:
    """``enumeration`` plus where the list starts and ends in ``text``.

    With ``caps`` (a headline where every word is capitalised) a member stops at a word that reads as
    a verb ("Delta, American Announce Cuts": the list is Delta and American).
    """
    after = list(_LIST_TOKEN.finditer(text, end, min(ceiling, end + 200)))
    before = list(_LIST_TOKEN.finditer(text, max(floor, start - 200), start))[::-1]
    counts = []
    introducer = ""
    list_start, list_end = start, end
    for tokens in (before, after):
        size = 0
        k = 0
        if tokens is after:  # "Apple Inc, ...", "Apple's ...": still the same name
            while k < len(tokens) and tokens[k].group(0).lower().strip(".,") in _SUFFIX_TOKENS:
                list_end = tokens[k].end()
                k += 1
        while k + 1 < len(tokens) and size < 8:
            if tokens[k].group(0) == "," and tokens[k + 1].group(0).lower() in ("and", "or") and k + 2 < len(tokens):
                k += 1  # the serial comma: "A, B, and C"
            elif tokens is before and tokens[k].group(0).lower() in ("and", "or") and tokens[k + 1].group(0) == ",":
                k += 1  # the same, read backwards
            if tokens[k].group(0).lower() not in _JOINERS or not _is_name_token(tokens[k + 1].group(0)):
                break
            size += 1
            k += 1
            run = 0
            while (
                k < len(tokens)
                and _is_name_token(tokens[k].group(0))
                and tokens[k].group(0).lower() not in _JOINERS
                and run < 4
                and not (caps and run and tokens[k].group(0).lower() in _LIST_VERBS)
            ):
                if tokens is before:
                    list_start = tokens[k].start()
                else:
                    list_end = tokens[k].end()
                k += 1
                run += 1
        if tokens is before:
            words = [t.group(0) for t in tokens[k:] if t.group(0) not in _JOINERS]
            introducer = words[0].lower() if words else ""
        counts.append(size)
    return counts[0], counts[1], introducer, list_start, list_end


def enumeration(text: str, start: int, end: int, floor: int, ceiling: int, caps: bool = False) -> tuple[int, int, str]:
    """How many capitalised names are listed before and after the one at ``start:end`` ("A, B and C": B has 1, 1),
    and the word just before the list (lower case; "" at the start of the text).

    Only looks between ``floor`` and ``ceiling`` (the title, or the summary). Members are
    runs of up to four capitalised words or tickers joined by commas, "and", "&", "or", "vs", "/".
    """
    return _enumerate(text, start, end, floor, ceiling, caps)[:3]


@dataclass(frozen=True)
class _Local:
    """What sits right around one mention."""

    style: str  # "caps" in ALL-CAPS or Title Case headlines, where capitals say little; else "sentence"
    prev_low: str
    next_low: str
    cap_before: bool  # "Pershing Square", "Harvard Square": a capitalised word glued before the name
    cap_after: bool  # "Sky Express", "Southern California": a capitalised non-verb glued after it
    verb_after: bool  # "Apple Leads", "Sprint Ticking": the next word reads as a verb
    number_after: bool  # "Delta 4", "Sprint II": a series number
    ticker: str  # the wire ticker written right after the name ("" if none)
    named_after: bool  # the word after the next one is capitalised ("Tesla rival Rivian")


def _local(ctx: ItemContext, mention: Mention) -> _Local:
    text = ctx.text
    start, end = mention.start, mention.end
    in_title = start < ctx.title_len
    floor = 0 if in_title else ctx.title_len + 2
    prev_word = _word_before(text, start, floor)
    prev_low = prev_word.lower()
    next_words = _TOKEN.findall(text[end : end + 40])
    next_raw = next_words[0] if next_words else ""
    next_low = next_raw.lower()
    style = "caps" if in_title and (ctx.shouting or ctx.title_case) else "sentence"  # the summary is prose
    verb_after = bool(next_low) and (next_low in VERBS_AFTER or bool(_VERB_LIKE.match(next_low)))
    cap_before = bool(
        prev_word
        and prev_word[:1].isupper()
        and prev_low not in FUNCTION_WORDS
        and prev_low not in AUXILIARIES
        # In a capitalised headline, a verb before the name is not part of it ("EU Pursues Oracle").
        and not (style == "caps" and (prev_low in VERBS_AFTER or bool(_VERB_S.fullmatch(prev_low))))
        and text[max(0, start - len(prev_word) - 1) : start] == prev_word + " "
        and start not in ctx.clause_starts
        and start != ctx.summary_start
    )
    # A capitalised word glued after the name: in running text a Titlecase word (not an acronym such as
    # "CEO" or "TV"); in a headline written in capitals, any word that does not read as a verb.
    glued = text[end : end + 1] == " " and text[end + 1 : end + 2].isupper()
    cap_after = bool(
        glued
        and next_low not in _NAME_SUFFIX
        and next_low not in FUNCTION_WORDS
        and (not next_raw.isupper() if style == "sentence" else not verb_after)
    )
    ticker = _TICKER_AFTER_NAME.match(text, end)
    return _Local(
        style=style,
        prev_low=prev_low,
        next_low=next_low,
        cap_before=cap_before,
        cap_after=cap_after,
        verb_after=verb_after,
        number_after=bool(_NUMBER_AFTER.match(text, end)),
        ticker=(ticker.group(1) or ticker.group(2)) if ticker else "",
        named_after=bool(_NAMED_AFTER.match(text, end)),
    )


def mention_features(
    ctx: ItemContext,
    mention: Mention,
    mentions: Sequence[Mention],
    common: bool,
    own_tickers: frozenset[str] = frozenset(),
    others: Sequence[Mention] = (),
) -> dict[str, float]:
    """Context features of a candidate prospect, from its primary ``mention`` and all its ``mentions``.

    ``common`` says whether the alias is also an everyday word; ``own_tickers`` are the prospect's
    ticker aliases (a different ticker written after the name means a different company); ``others``
    are the mentions of every candidate in the item (for "Boeing's new Delta 4 rocket").
    """
    text = ctx.text
    start, end = mention.start, mention.end
    in_title = start < ctx.title_len
    floor = 0 if in_title else ctx.title_len + 2
    ceiling = ctx.title_len if in_title else len(text)
    here = _local(ctx, mention)
    written = [m for m in mentions if not m.lowercase] or [mention]
    around = [here if m is mention else _local(ctx, m) for m in written]
    feats: dict[str, float] = {}

    def on(name: str, value: float = 1.0) -> None:
        if value:
            feats[name] = value

    # -- lists ------------------------------------------------------------------------
    listed_before, listed_after, introducer, list_start, list_end = _enumerate(
        text, start, end, floor, ceiling, here.style == "caps"
    )
    enum = 1 + listed_before + listed_after
    on("enum2", float(enum == 2))
    on("enum3", float(enum >= 3))
    on("enum_size", min(enum, 6) / 3.0 if enum > 1 else 0.0)
    on("joins_next", float(listed_after > 0))
    # -- where: subject of a headline clause or of the summary --------------------------
    opens = start in ctx.clause_starts or (in_title and text[max(0, start - 4) : start].lower() == "the ")
    # "...; Will Alphabet Spin Off Waymo?": the subject of a question follows its auxiliary.
    aux_start = start - len(here.prev_low) - 1
    opens = opens or (in_title and here.prev_low in AUXILIARIES and aux_start in ctx.clause_starts)
    named_thing = here.cap_after and here.style == "sentence"
    subject = enum == 1 and here.next_low not in RELATION_AFTER and not named_thing
    if in_title:
        on("title_subject", float(start == ctx.kicker_end and subject))
        on("clause_subject", float(opens and start != ctx.kicker_end and subject))
        on("title_list_head", float(start == ctx.kicker_end and enum > 1))
        on("market_cue", float(ctx.market_cue))
        on("fund_cue", float(ctx.fund_cue))
        on("more_cue", float(ctx.more_cue))
        on("trade_verbs", float(min(ctx.trade_verbs, 2)))
        on("fund_trade", float(ctx.fund_cue and ctx.trade_verbs > 0))
        on("market_not_subject", float(ctx.market_cue and not opens))
        on("list_and_cue", float(enum > 1 and (ctx.market_cue or ctx.fund_cue or ctx.more_cue)))
        on("verb_after", float(here.verb_after))
    else:
        if ctx.summary_start >= 0:
            lead = text[ctx.summary_start : start]
            on("summary_subject", float(len(_TOKEN.findall(lead)) <= 1 and subject))
        on("title_market_cue", float(ctx.market_cue))
    on("said_after", float(bool(_SAID_AFTER.match(text, end))))
    # "Houston, TX (Sports Network) - ": the place and the news service of a dateline.
    on("in_dateline", float(not in_title and start < ctx.summary_start))
    if 2 <= enum <= 4:
        # "Delta, American Announce Cuts", "Apple and Facebook are ...": the names share the subject.
        list_opens = (
            list_start in ctx.clause_starts
            or list_start == ctx.summary_start
            or introducer in CLAUSE_OPENERS
            or (list_start == floor and not in_title)
        )
        # The verb may come a few words on, within the same clause ("... and seven other automakers filed").
        clause = re.split(r"[,;:.]", text[list_end : min(ceiling, list_end + 60)])[0]
        following = [w.lower() for w in _TOKEN.findall(clause)[:5]]
        verbish = bool(following) and (
            following[0] in _LIST_VERBS
            or bool(_VERB_LIKE.match(following[0]))
            or any(w in _LIST_VERBS or (len(w) > 4 and w.endswith("ed")) for w in following[1:])
        )
        on("joint_subject", float(list_opens and verbish))
        on("list_after_preposition", float(introducer in PREPOSITIONS))
    # -- passers-by -------------------------------------------------------------------
    ex_before = text[max(floor, start - 3) : start].lower() == "ex-"
    on("former", float(here.prev_low in FORMER or ex_before))
    on("example", float(introducer in LIST_INTRODUCERS or here.prev_low in LIST_INTRODUCERS))
    on("preposition_before", float(here.prev_low in PREPOSITIONS))
    on("relation_after", float(any(a.next_low in RELATION_AFTER and a.named_after for a in around)))
    on("platform_after", float(any(a.next_low in PLATFORM_AFTER for a in around)))
    # "IBM-compatible", "Apple-like" (not "Oracle-PeopleSoft", where both companies are parties).
    on("hyphen_compound", float(text[end : end + 1] == "-" and text[end + 1 : end + 2].islower()))
    # -- another thing with the same name -------------------------------------------------
    on(f"cap_before_{here.style}", float(here.cap_before))
    on(f"cap_after_{here.style}", float(here.cap_after))
    # The prospect's own ticker written beside its name confirms it (other tickers prove little:
    # companies change tickers, and the wire uses exchange suffixes).
    on("own_ticker", float(any(a.ticker in own_tickers for a in around if a.ticker)))
    on("number_after", float(any(a.number_after for a in around)))
    # Another configured company owns the thing named ("Britain's Tesco" names no owner).
    owners = [_OWNER_BEFORE.search(text, max(0, m.start - 60), m.start) for m in written] if others else []
    on(
        "other_owner",
        float(
            any(
                o.start(1) in range(m.start, m.end) and m.prospect != mention.prospect
                for o in owners
                if o
                for m in others
            )
        ),
    )
    longer = _LONGER_NAME_TICKER.match(text, end)
    if (
        longer
        and longer.group(1).split()[0].lower().strip(".") not in _NAME_SUFFIX
        and (longer.group(2) or longer.group(3)) not in _AGENCIES
    ):
        on("other_name_ticker", float((longer.group(2) or longer.group(3)) not in own_tickers))
    # "HSBC preparing job cuts, Sky says": credited at the end of a headline that another company opens
    # (not "Christmas sales beat forecasts, Tesco says", the company's own news).
    if in_title and text[max(0, start - 2) : start] in (", ", "- "):
        another_first = any(m.prospect != mention.prospect and m.start < start and not m.lowercase for m in others)
        on("source_credit", float(another_first and bool(_SOURCE_CREDIT.match(text[end : ctx.title_len]))))
        if "source_credit" in feats:
            feats.pop("said_after", None)
    if common:
        on(f"common_cap_before_{here.style}", float(here.cap_before))
        on(f"common_cap_after_{here.style}", float(here.cap_after))
        on("common_the_before", float(here.prev_low == "the" and not mention.alias.lower().startswith("the ")))
        # "Job Cuts That May Target 20000 Workers": the word used as a verb.
        aux_opens = start - len(here.prev_low) - 1 in ctx.clause_starts
        on("common_verb_use", float(here.prev_low in MODALS and not aux_opens))
        on("common_lower_elsewhere", float(any(m.lowercase for m in mentions)))
        named = [a.style == "sentence" and (a.cap_after or a.cap_before) for a in around]
        here_named = here.style == "sentence" and (here.cap_after or here.cap_before)
        on("common_named_thing", float(here_named or 2 * sum(named) > len(named)))
    # -- the same evidence pooled, so that rare patterns share one well-estimated weight --------
    pooled = {
        "any_subject": ("title_subject", "clause_subject", "summary_subject", "said_after", "joint_subject"),
        # A stock list, market wrap or fund portfolio; a plain "A, B and C" may name every party of the story.
        "any_list": ("list_and_cue", "market_not_subject", "fund_trade"),
        "any_passer_by": ("former", "example", "relation_after", "platform_after"),
        "any_other_sense": (
            "common_named_thing",
            "common_the_before",
            "common_lower_elsewhere",
            "common_verb_use",
            "number_after",
            "other_owner",
            "other_name_ticker",
        ),
    }
    for name, keys in pooled.items():
        on(name, float(any(k in feats for k in keys)))
    return feats


# Fixed log-odds shifts for the patterns above: the score before any item is confirmed, and a
# strong, pre-set feature for the learned model (a dozen examples per pattern are too few to learn
# each weight well). Round numbers on purpose: these encode how news is written, not fitted values.
EVIDENCE: dict[str, float] = {
    "any_subject": 1.0,  # opens the headline, a clause or the summary
    "said_after": 0.5,  # "X said ..."
    "title_and_summary": 1.0,  # named again in the summary
    "own_ticker": 1.0,  # "Boeing Co (BA)"
    "title_only": -1.0,  # a summary that never names it again
    "any_list": -1.0,  # one of many names in a list headline
    "list_and_cue": -1.0,  # ... of a market wrap, fund portfolio or "and more" list
    "enum3": -0.5,
    "more_cue": -0.5,
    "fund_cue": -0.5,
    "any_passer_by": -1.5,  # former employer, example, rival, platform
    "any_other_sense": -1.5,  # a longer proper name, "the sky", the word in lower case elsewhere
    "source_credit": -2.0,  # "..., Sky Says": the source of the story, not its subject
    "in_dateline": -3.0,  # "Houston, TX (Sports Network) - "
    "title_market_cue": -1.0,  # only in the summary of a market wrap: one of the movers
    "titled_other": -1.5,  # only in the summary, under a headline naming another company with its ticker
    "other_owner": -1.0,  # "Boeing's new Delta 4 rocket": another company's product
    "other_name_ticker": -1.5,  # "SKY EXPRESS <SKYX>": a longer name listed under a ticker of its own
    "number_after": -1.0,  # "Sprint II", "Delta 4": a series, a rocket, a fund
    "cap_after_sentence": -1.0,  # "Prudential Financial": a longer name in running text
    "common_cap_after_caps": -0.5,  # "Southern California Investor Conference"
    "common_cap_before_caps": -0.5,  # "Pershing Square", "Trade Gap"
}
SUMMARY_ONLY = -1.0  # named only in the summary


def context_evidence(context: dict[str, float], summary_only: bool) -> float:
    """The log-odds shift the context features give a candidate, with the fixed weights of ``EVIDENCE``."""
    return sum(w for k, w in EVIDENCE.items() if context.get(k)) + (SUMMARY_ONLY if summary_only else 0.0)
