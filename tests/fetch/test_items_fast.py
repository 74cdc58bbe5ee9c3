"""The fast paths of sanitising and keying give exactly what the plain code gave.

``build_items`` output feeds content hashes and item keys: a fast path that changed a
single character would make stored items look updated (or new) after an upgrade. Each
fast path is checked here against the straightforward code it replaced (kept below as
the reference), on hand-picked edge cases and on random mixtures of them.
"""

from __future__ import annotations

import random
import re
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from itertools import accumulate
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import pytest

from aggregator.fetch import FetchError, identity, sanitize
from aggregator.fetch.feeds import parse_feed

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"

_TAG_START = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)")


def reference_cap_depth(markup: str, max_depth: int) -> str:
    """The original ``_cap_depth``: one Python step per tag."""
    found = _TAG_START.findall(markup)
    steps = [-1 if closing else (0 if name.lower() in sanitize._VOID else 1) for closing, name in found]
    totals = list(accumulate(steps))
    depths = [total - low if low < 0 else total for total, low in zip(totals, accumulate(totals, min), strict=True)]
    if max(depths, default=0) <= max_depth:
        return markup
    too_deep = next(i for i, depth in enumerate(depths) if depth > max_depth)
    for index, match in enumerate(_TAG_START.finditer(markup)):
        if index == too_deep:
            return markup[: match.start()]
    raise AssertionError("not reached")


#: pieces whose depth steps are easy to get wrong: void tags in any case, names that only
#: start like a void tag, non-ASCII letters that re.IGNORECASE would fold to ASCII ones
TAG_PIECES = [
    "<", "</", ">", "x", " ", "<br>", "<BR/>", "<brx>", "<br-x>", "<br:x>", "<p>", "</p>", "<img ", "<IMG>",
    "<imgs>", "<lin\u212a>", "<link>", "<\u017fource>", "<source>", "<a:b>", "<col-x>", "<col>", "<div>",
    "</div>", "</br>", "<1>", "<wbr>", "<Wbr>", "<\u0130nput>", "<input>", "<hr/>", "</ p>", "<-a>",
]  # fmt: skip


@pytest.mark.parametrize(
    "markup",
    [
        "",
        "<div>" * 100 + "deep" + "</div>" * 100,
        "</p>" * 10 + "<div>" * 70,
        "<br>" * 200,
        "<p>" * 64 + "<lin\u212a>",
        "<p>" * 64 + "<link>" + "<p>",
        "<P>" * 30 + "</p>" * 40 + "<p>" * 65,
        "<b>" * 66,
    ],
)
def test_cap_depth_matches_reference(markup: str) -> None:
    for max_depth in (0, 1, 3, 64):
        assert sanitize._cap_depth(markup, max_depth) == reference_cap_depth(markup, max_depth)


def test_cap_depth_matches_reference_on_random_markup() -> None:
    rnd = random.Random(20261127)
    for _ in range(20_000):
        markup = "".join(rnd.choice(TAG_PIECES) for _ in range(rnd.randrange(40)))
        for max_depth in (0, 1, 2, 5):
            assert sanitize._cap_depth(markup, max_depth) == reference_cap_depth(markup, max_depth), markup


def _code_points() -> list[int]:
    """Every BMP code point (controls, surrogates, U+FFFE/F live there) and a sample of the rest."""
    return [*range(0x10000), *range(0x10000, 0x110000, 97), 0x10FFFF]


def test_invalid_chars_are_the_regex_class_without_surrogates() -> None:
    for code in _code_points():
        matched = sanitize._INVALID.search(chr(code)) is not None
        assert matched == (chr(code) in sanitize._INVALID_CHARS or 0xD800 <= code <= 0xDFFF), hex(code)


@pytest.mark.parametrize("base", ["a" * 300, "caf\u00e9 " * 80, "\u2019 quote " * 40, "\U0001f600 x" * 150])
def test_strip_invalid_matches_the_regex_for_every_code_point(base: str) -> None:
    """Whatever the string's width (ASCII, Latin-1, UCS-2, UCS-4), one odd character anywhere is found."""
    assert len(base) >= sanitize._CHECK_FROM
    for code in _code_points():
        char = chr(code)
        for text in (base + char, char + base, base[:150] + char + base[150:]):
            assert sanitize.strip_invalid(text) == sanitize._INVALID.sub("", text), hex(code)


@pytest.mark.parametrize("length", [0, 1, sanitize._CHECK_FROM - 1, sanitize._CHECK_FROM, 5000])
def test_strip_invalid_on_mixed_text(length: int) -> None:
    rnd = random.Random(length)
    pieces = ["a", " ", "\t", "\n", "\r", "\x00", "\x0b", "\x1f", "\x7f", "\u00e9", "\ud800", "\udfff", "\ufffe",
              "\uffff", "\ufffd", "\U0001f600", "\u2028"]  # fmt: skip
    for _ in range(200):
        text = "".join(rnd.choice(pieces[:5] * 20 + pieces) for _ in range(length))
        assert sanitize.strip_invalid(text) == sanitize._INVALID.sub("", text)


def reference_title_words(title: str) -> list[str]:
    """The original ``_title_words``: NFKD for every title."""
    match = identity._SUFFIX.search(title)
    if match and len(title[: match.start()].split()) >= 4:
        title = title[: match.start()]
    decomposed = unicodedata.normalize("NFKD", title.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return [w for w in identity._NON_WORD.sub(" ", plain).split() if w not in identity._STOPWORDS]


TITLES = [
    "",
    "Acme Corp raises $50M Series B led by Sequoia",
    "ACME corp raises $50m series B, led by Sequoia \u2013 TechNews",
    "Caf\u00e9 \u00dcber na\u00efve r\u00e9sum\u00e9 \ufb01nance",
    "Stra\u00dfe \u0130stanbul \u212aelvin \u017fong",  # casefold turns some into ASCII, some not
    "\uff21\uff42\uff43 full width \uff44\uff45\uff46",
    "a\u0301ccent combining e\u0308 o\u0302ther",
    "\u6771\u4eac \u30cb\u30e5\u30fc\u30b9 \u901f\u5831 | Site",
    "One two three four - Publisher",
    "x\x00y \u00b2 \u2460 \u00bd fractions",
]


@pytest.mark.parametrize("title", TITLES)
def test_title_words_match_reference(title: str) -> None:
    assert identity._title_words(title) == reference_title_words(title)


def test_title_words_match_reference_for_every_bmp_character() -> None:
    for code in range(0x10000):
        title = f"word {chr(code)}x and more Words{chr(code)}"
        assert identity._title_words(title) == reference_title_words(title), hex(code)


LINKS = [
    None,
    "",
    "https://Example.COM:443/a/b?utm_source=x&id=3&fbclid=zz#frag",
    "http://ex.com:80/?a=1&a=2&b",
    "https://ex.com:8443/p?UTM_Medium=a&Mc_Cid=1&q=%20x+y",
    "https://[::1]:99999/bad",
    "https://ex.com/p?a=%zz&b=\u00e9",
    "  https://ex.com/p?  ",
]


@pytest.mark.parametrize("link", LINKS)
@pytest.mark.parametrize("title", ["Hi", "Three real words", "Caf\u00e9 na\u00efve \u00e9t\u00e9 words"])
def test_dedupe_key_given_the_canonical_link(title: str, link: str | None) -> None:
    canonical = identity.canonical_link(link)
    assert identity.dedupe_key_canonical(title, canonical, "d" * 64) == identity.dedupe_key(title, link, "d" * 64)


def test_assign_keys_given_canonical_links() -> None:
    entries = [
        (guid, link, f"h{i}")
        for i, (guid, link) in enumerate(zip(["g", None, "g", " ", None, "x"] * 2, LINKS + LINKS[:4], strict=True))
    ]
    canonical = [(guid, identity.canonical_link(link), digest) for guid, link, digest in entries]
    assert identity.assign_keys_canonical(canonical) == identity.assign_keys(entries)


def reference_safe_url(url: str | None, base: str | None = None) -> str | None:
    """The original ``safe_url``: urljoin and urlsplit for every link."""
    if not url:
        return None
    url = re.sub(r"\s+", "", sanitize._INVALID.sub("", url))[: sanitize.MAX_URL_CHARS]
    if not url:
        return None
    try:
        absolute = urljoin(base, url) if base else url
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme.lower() not in sanitize.URL_SCHEMES or not parts.netloc:
        return None
    return absolute


URL_PIECES = {
    "scheme": ["http://", "https://", "HTTP://", "Https://", "ftp://", "javascript:", "", "//", "http:", "http:/"],
    "host": ["ex.com", "EX.com", "a-b.c0", "[::1]", "[bad", "u@ex.com", "ex.com:80", "ex.com:99999", "ex\uff0ecom", "",
             "\u00e9.com", "ex.com."],
    "path": ["", "/", "/a/b", "/a;b", "/a;", "a", "/x%20y", "/\u00e9", "/[x]", "/a b", "/a\tb", "//x", "/./../x"],
    "query": ["", "?", "?a=1", "?a;b", "??", "?a=1&utm_source=x", "?\u00e9"],
    "fragment": ["", "#", "#x", "#x#y", "#?", "# x"],
    "noise": ["", "", "", " ", "\n", "\x00", "\u00a0", "\x1f", "\ufffe"],
}  # fmt: skip
BASES = [None, "", "http://127.0.0.1/x", "https://ex.com/dir/", "HTTPS://ex.com", "http://[::1", "https://ex\uff0ecom/",
         "ftp://x/", "https://ex.com:8080/d/?q#f", "relative/base"]  # fmt: skip


def test_safe_url_matches_reference() -> None:
    rnd = random.Random(5)
    order = ["noise", "scheme", "host", "noise", "path", "query", "noise", "fragment", "noise"]
    for _ in range(20_000):
        url = "".join(rnd.choice(URL_PIECES[part]) for part in order)
        for base in BASES:
            assert sanitize.safe_url(url, base) == reference_safe_url(url, base), (url, base)


def test_str_split_is_the_regex_whitespace_class() -> None:
    """safe_url removes whitespace with ``str.split``; the regex ``\\s`` it replaced matched the same characters."""
    for code in range(0x110000):
        assert chr(code).isspace() == (re.fullmatch(r"\s", chr(code)) is not None), hex(code)


@pytest.mark.parametrize("base", BASES)
def test_clean_html_caches_the_checked_base(base: str | None) -> None:
    markup = '<a href="/rel">r</a><a href="https://abs.example/x">a</a><img src="i.png"><a href="javascript:x">j</a>'
    for _ in range(2):  # the second call is served from the cache
        assert sanitize.clean_html(markup, base) == sanitize._cleaner(reference_safe_url(base)).clean(markup)


def reference_canonical_link(url: str | None) -> str | None:
    """The original ``canonical_link``: urlsplit, parse_qsl and urlencode for every link."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip() or None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in identity.TRACKING_PARAMS and not k.lower().startswith(identity.TRACKING_PREFIXES)
    ]
    return urlunsplit((scheme, host, parts.path or "/", urlencode(query), ""))


@pytest.mark.parametrize(
    "link", [*LINKS, "https://EX.com", "http://ex.com#", "https://ex.com/a#b?c", "http://h", "https://."]
)
def test_canonical_link_matches_reference(link: str | None) -> None:
    assert identity.canonical_link(link) == reference_canonical_link(link)


def test_canonical_link_matches_reference_on_random_links() -> None:
    rnd = random.Random(11)
    order = ["noise", "scheme", "host", "noise", "path", "query", "noise", "fragment", "noise"]
    for _ in range(30_000):
        link = "".join(rnd.choice(URL_PIECES[part]) for part in order)
        assert identity.canonical_link(link) == reference_canonical_link(link), link
        cleaned = sanitize.safe_url(link, "https://base.example/d/")
        assert identity.canonical_link(cleaned) == reference_canonical_link(cleaned), cleaned


def _corpus_differences(path: str) -> list[str]:
    """Every fast path against its reference, on what one corpus file's entries really hold."""
    base = "https://corpus.test/feeds/feed.xml"
    try:
        feed = parse_feed((CORPUS / path).read_bytes(), url=base, content_type=None)
    except FetchError:
        return []
    differences = []
    for entry in feed.entries:
        markup = entry.content_html[: sanitize.MAX_HTML_CHARS]
        stripped = sanitize._INVALID.sub("", markup)
        link = reference_safe_url(entry.link, base)
        checks = {
            "strip_invalid": sanitize.strip_invalid(markup) == stripped,
            "cap_depth": sanitize._cap_depth(stripped, sanitize.MAX_DEPTH)
            == reference_cap_depth(stripped, sanitize.MAX_DEPTH),
            "safe_url": sanitize.safe_url(entry.link, base) == link,
            "canonical_link": identity.canonical_link(link) == reference_canonical_link(link),
            "title_words": identity._title_words(entry.title) == reference_title_words(entry.title),
        }
        differences += [f"{path}: {name} {entry.title[:60]!r}" for name, same in checks.items() if not same]
    return differences


def test_fast_paths_match_references_over_the_corpus() -> None:
    if not (CORPUS / "manifest.json").is_file():
        pytest.skip(f"the shared corpus is not at {CORPUS} (absent from a fresh clone)")
    paths = sorted(
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file() and p.suffix != ".json" and p.name != "SOURCES.md" and "real-pages" not in p.parts
    )
    assert len(paths) > 2000
    with ProcessPoolExecutor(2) as pool:
        differences = [d for found in pool.map(_corpus_differences, paths, chunksize=64) for d in found]
    assert differences == []
