"""Pure parts, table-driven: paths, stream resolution, selection, tokens, validators, redaction."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.config.schema import AccountConfig, RepConfig
from aggregator.entitlements import Viewer
from aggregator.outputs.conditional import http_date, not_modified
from aggregator.outputs.redact import TokenRedactingFilter, redact
from aggregator.outputs.streams import DEAL, StreamRef, Target, parse_target, resolve_stream, select_entries
from aggregator.outputs.tokens import hash_token, hashes_match, new_token, well_formed
from aggregator.storage.streams import StreamItem

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(("path", "expected"), [
    ("opml", Target("opml")),
    ("all.rss", Target("stream", StreamRef(), "rss")),
    ("p/acme.atom", Target("stream", StreamRef("acme"), "atom")),
    ("p/acme/deal.json", Target("stream", StreamRef("acme", DEAL), "json")),
    ("p/acme/pricing.rss", Target("stream", StreamRef("acme", "pricing"), "rss")),
    ("p/acme/nonsense.rss", None),
    ("p/acme.html", None),
    ("p/../etc.rss", None),
    ("all.rss/", None),
    ("", None),
    ("opml.xml", None),
])
def test_parse_target(path: str, expected: Target | None) -> None:
    assert parse_target(path) == expected


def test_stream_paths_round_trip() -> None:
    for ref in (StreamRef(), StreamRef("acme"), StreamRef("acme", DEAL)):
        for fmt in ("rss", "atom", "json"):
            assert parse_target(ref.path(fmt)) == Target("stream", ref, fmt)


REP = RepConfig(id="alice", name="Alice", accounts=[AccountConfig(prospect="acme", stage="pricing")])


def test_resolve_stream_follows_the_deal_and_refuses_other_accounts() -> None:
    deal = resolve_stream(REP, StreamRef("acme", DEAL), {"acme": "Acme"})
    assert deal is not None and deal.stage == "pricing" and deal.title == "Acme: Pricing (your deal's stage)"
    assert resolve_stream(REP, StreamRef("globex"), {}) is None
    everything = resolve_stream(REP, StreamRef(), {})
    assert everything is not None and everything.prospects == {"acme"} and everything.stage is None


def test_stream_descriptions_end_with_one_full_stop() -> None:
    for name in ("Acme", "Apple Inc."):
        deal = resolve_stream(REP, StreamRef("acme", DEAL), {"acme": name})
        assert deal is not None and deal.description == f"What helps at the Pricing stage with {name.rstrip('.')}."


def item(ident: int, visibility: str, tags: list[tuple[str, str, str]], group: int | None = None,
         hours: int = 0) -> StreamItem:
    return StreamItem(id=ident, source_id=f"s{ident}", source_title=f"S{ident}", source_url="", key=str(ident),
                      visibility=visibility, title=f"t{ident}", link=None, content_html="", author=None,
                      published=T0 - timedelta(hours=hours), updated=None, last_changed=T0,
                      group_id=group or ident, tags=tuple((k, v, o) for k, v, o in tags))


def test_select_applies_entitlements_before_merging_duplicates() -> None:
    stream = resolve_stream(REP, StreamRef("acme"), {})
    assert stream is not None
    viewer = Viewer("rep", frozenset({"acme"}))
    items = [
        item(1, "external", [("prospect", "acme", "alias")], hours=3),
        item(2, "external", [("prospect", "acme", "alias")], group=1, hours=2),  # same story
        item(3, "internal", [("prospect", "acme", "alias"), ("prospect", "globex", "export")], group=1),
        item(4, "internal", [("prospect", "acme", "export"), ("prospect", "globex", "alias")], hours=1),
        item(5, "internal", [("stage", "pricing", "model")]),  # no account: nobody's
        item(6, "external", [("prospect", "globex", "alias")]),  # not this stream
    ]
    entries = select_entries(viewer, stream, items, limit=10)
    assert [(e.item.id, [a.id for a in e.also]) for e in entries] == [(4, []), (1, [2])]
    assert entries[0].internal and not entries[1].internal
    assert select_entries(viewer, stream, items, limit=1)[0].item.id == 4


def test_posts_of_one_source_in_a_group_stay_separate_entries() -> None:
    """Microblog posts share a page address (#fragments differ), so they can share a group: none may vanish."""
    stream = resolve_stream(REP, StreamRef("acme"), {})
    assert stream is not None
    acme = [("prospect", "acme", "alias")]
    posts = [item(1, "external", acme, hours=3), item(2, "external", acme, group=1, hours=2),
             item(3, "external", acme, group=1, hours=1)]
    posts = [replace(p, source_id="blog") for p in posts] + [replace(item(4, "external", acme, group=1),
                                                                       source_id="wire")]
    entries = select_entries(Viewer("rep", frozenset({"acme"})), stream, posts, limit=10)
    assert sorted((e.item.id, [a.id for a in e.also]) for e in entries) == [(1, [4]), (2, []), (3, [])]


def test_tokens() -> None:
    token = new_token()
    assert well_formed(token) and len(token) == 43 and token != new_token()
    assert not well_formed(token[:-1]) and not well_formed(token + "x") and not well_formed("a/b" * 15)
    assert hashes_match(hash_token(token), hash_token(token))
    assert not hashes_match(None, hash_token(token)) and not hashes_match(hash_token("x"), hash_token(token))


def test_conditional() -> None:
    lm = datetime(2026, 11, 2, 9, 30, 15, 500, tzinfo=UTC)
    assert not_modified({"if-none-match": '"a", W/"b"'}, '"b"', lm)
    assert not not_modified({"if-none-match": '"a"', "if-modified-since": http_date(lm)}, '"b"', lm)
    assert not_modified({"if-modified-since": http_date(lm)}, '"b"', lm)
    assert not not_modified({"if-modified-since": http_date(lm - timedelta(seconds=2))}, '"b"', lm)
    assert not not_modified({"if-modified-since": "garbage"}, '"b"', lm)
    assert not not_modified({}, '"b"', lm)


def test_access_log_lines_lose_the_token() -> None:
    token = new_token()
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", f"/f/{token}/p/acme.rss?x=1", "1.1", 200), None)
    assert TokenRedactingFilter().filter(record)
    line = record.getMessage()
    assert token not in line and "/f/<token>/p/acme.rss?x=1" in line
    assert redact(f"GET /f/{token}") == "GET /f/<token>"
