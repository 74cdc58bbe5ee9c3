"""What an item is called in lists and feeds when it has no title."""

from __future__ import annotations

from datetime import UTC, datetime

import feedparser

from aggregator.outputs.feeds import FeedDoc, render_feed
from aggregator.outputs.headline import HEADLINE_CHARS, UNTITLED, headline
from aggregator.outputs.streams import Entry
from aggregator.storage.streams import StreamItem

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_a_title_wins() -> None:
    assert headline("  Acme hires a CIO ", "Some text") == "Acme hires a CIO"


def test_no_title_gives_the_text_whole_when_short() -> None:
    assert headline("", "Good morning students and teachers!") == "Good morning students and teachers!"
    assert headline(None, " two\n words ") == "two words"


def test_a_long_text_is_cut_at_a_word_with_an_ellipsis() -> None:
    text = "word " * 40
    cut = headline("", text)
    assert cut.endswith("word…") and len(cut) <= HEADLINE_CHARS
    unbroken = "x" * 200  # no space to cut at: cut at the limit
    assert headline("", unbroken) == "x" * (HEADLINE_CHARS - 1) + "…"


def test_nothing_at_all_is_untitled() -> None:
    assert headline("", "") == headline(None, None) == UNTITLED


def test_feeds_name_a_title_less_item_by_its_text() -> None:
    """A feed reader lists entries by title: the first words, not "(untitled)", tell the rep what it is."""
    item = StreamItem(id=1, source_id="blog", source_title="Blog", source_url="", key="p1", visibility="external",
                      title="", link="https://blog.example/p1", content_html="<p>Acme opens a plant</p>",
                      author=None, published=T0, updated=None, last_changed=T0, group_id=1, tags=(),
                      text="Acme opens a plant")
    doc = FeedDoc(id="urn:test", title="Feed", description="d", self_url="https://x.example/f/t/all.rss",
                  home_url="https://x.example", author="funnelfeed",
                  entries=[Entry(item=item, also=(), prospects=("acme",), stages=())])
    for fmt in ("rss", "atom"):
        assert feedparser.parse(render_feed(fmt, doc)).entries[0].title == "Acme opens a plant"
