"""The fast plain-text pass over sanitised HTML gives what a second nh3 pass gives.

``build_items`` computes an item's text with ``text_of_clean_html`` (one regular
expression over ``clean_html``'s output) instead of parsing the HTML again. A changed
text would change content hashes, so stored items would look "updated" after an
upgrade: both functions must agree exactly, on hostile markup and on every entry of
the shared corpus.
"""

from __future__ import annotations

import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from aggregator.fetch import FetchError
from aggregator.fetch.feeds import parse_feed
from aggregator.fetch.sanitize import clean_html, clean_text, html_to_text, text_of_clean_html

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"

HOSTILE = [
    '<a href="https://e.com/?a=1&b=2" title="x > y">link</a> after',
    '<img alt="1 > 0 <b>not a tag</b>" src="https://e.com/i.png">caption',
    "<p>one</p><p>two &amp; three &lt;b&gt; not bold</p>",
    "text <!-- a comment with <p> inside --> more",
    "<script>alert('<p>x</p>')</script>visible<style>p{}</style>",
    "<![CDATA[ <p>cdata</p> ]]> tail",
    "a<b>b</b>c<br>d<br/>e<hr>f",
    "<table><tr>stray<td>cell</td></tr></table>after",
    '<div title="&quot;quoted&quot; &gt; here">x</div>',
    "x < y and y > z, 3 &lt 4, &nbsp;&#160;&#xA0;nbsp",
    "&#0;&#1;&#x1F; controls \x00\x0b and \ufffe",
    "<p>\u00a0\u2003 unicode\u3000spaces\u2028line\u2029para\x85next</p>",
    "<ul><li>a<li>b</ul><ol><li>c</ol><dl><dt>d<dd>e</dl>",
    "<h1>Title</h1><pre>  keep   spaces? </pre><blockquote>q</blockquote>",
    "<" * 50 + "b>" * 50,
    "<div>" * 100 + "deep" + "</div>" * 100,
    '<a href="javascript:alert(1)">js</a><a href="/rel">rel</a>',
    "<unknown-tag attr='single > quoted'>kept text</unknown-tag>",
    '<p onclick="a>b">event</p><svg><text>drawn</text></svg>math',
    "",
]


@pytest.mark.parametrize("markup", HOSTILE)
def test_fast_text_equals_second_nh3_pass(markup: str) -> None:
    cleaned = clean_html(markup, "https://example.com/post/")
    assert text_of_clean_html(cleaned) == html_to_text(cleaned)


def test_clean_text_collapses_what_the_regex_collapsed() -> None:
    """``str.split()`` and the regex ``\\s`` agree on every code point."""
    spaces = "".join(chr(c) for c in range(0x3000 + 1) if re.fullmatch(r"\s", chr(c)))
    assert spaces == "".join(chr(c) for c in range(0x3000 + 1) if chr(c).isspace())
    assert clean_text(f"  a{spaces}b \t\n c  ") == "a b c"


def _corpus_differences(path: str) -> list[str]:
    try:
        feed = parse_feed((CORPUS / path).read_bytes(), url="https://corpus.test/feed", content_type=None)
    except FetchError:
        return []
    differences = []
    for entry in feed.entries:
        cleaned = clean_html(entry.content_html, "https://corpus.test/feed")
        if text_of_clean_html(cleaned) != html_to_text(cleaned):
            differences.append(f"{path}: {entry.title[:60]!r}")
    return differences


def test_fast_text_equals_second_nh3_pass_over_the_corpus() -> None:
    if not (CORPUS / "manifest.json").is_file():
        pytest.skip(f"the shared corpus is not at {CORPUS} (absent from a fresh clone)")
    paths = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".json"
                   and p.name not in ("SOURCES.md",) and "real-pages" not in p.parts)
    assert len(paths) > 2000
    with ProcessPoolExecutor(2) as pool:
        differences = [d for found in pool.map(_corpus_differences, paths, chunksize=64) for d in found]
    assert differences == []
