"""Pure decisions, table-driven: backoff, Retry-After, budgets, netguard, identity, sanitising."""

from __future__ import annotations

import ipaddress
from collections import deque
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.fetch import next_attempt_delay, parse_retry_after
from aggregator.fetch.identity import assign_keys, canonical_link, dedupe_key, normalise_date
from aggregator.fetch.netguard import parse_networks, refusal
from aggregator.fetch.politeness import RobotsEntry, budget_allows, parse_robots, robots_verdict
from aggregator.fetch.sanitize import clean_html, clean_text, html_to_text, safe_url

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("failures", "retry_after", "expected"),
    [
        (0, None, H),
        (1, None, 2 * H),
        (3, None, 8 * H),
        (10, None, 24 * H),  # capped by backoff_max
        (10_000, None, 24 * H),  # no overflow
        (0, 3 * H, 3 * H),  # Retry-After longer than the interval wins
        (3, 30 * timedelta(minutes=1), 8 * H),  # ...but never shortens the backoff
        (0, timedelta(days=365), 24 * H),  # and is capped too
    ],
)
def test_next_attempt_delay(failures: int, retry_after: timedelta | None, expected: timedelta) -> None:
    assert next_attempt_delay(failures, H, timedelta(days=1), retry_after) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", NOW + timedelta(seconds=120)),
        ("Sat, 01 Mar 2025 13:00:00 GMT", NOW + H),
        ("Sat, 01 Mar 2025 11:00:00 GMT", NOW),  # in the past: now
        ("soon", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: datetime | None) -> None:
    assert parse_retry_after(header, NOW) == expected


def test_budget_sliding_window() -> None:
    sent: deque[datetime] = deque()
    for _ in range(3):
        assert budget_allows(sent, NOW, 3) is None
        sent.append(NOW)
    assert budget_allows(sent, NOW + timedelta(seconds=30), 3) == NOW + timedelta(minutes=1)
    assert budget_allows(sent, NOW + timedelta(seconds=60), 3) is None and not sent


def test_robots_rules() -> None:
    entry = RobotsEntry(parse_robots("User-agent: *\nDisallow: /private\n"), NOW)
    assert robots_verdict(entry, "https://x.test/news", "funnelfeed")
    assert not robots_verdict(entry, "https://x.test/private/a", "funnelfeed")
    assert not robots_verdict(RobotsEntry(None, NOW, disallow_all=True), "https://x.test/", "funnelfeed")


ALLOWED = parse_networks(["10.1.0.0/16", "127.0.0.1/32"])


@pytest.mark.parametrize(
    ("ip", "external", "configured", "refused"),
    [
        ("93.184.216.34", True, False, None),  # public: always fine
        ("10.9.9.9", False, True, "allow_networks"),  # private, not allowed
        ("169.254.169.254", False, True, "allow_networks"),  # cloud metadata (link-local)
        ("::ffff:127.0.0.2", False, True, "allow_networks"),  # v4-mapped loopback
        ("::1", False, True, "allow_networks"),
        ("0.0.0.0", False, True, "allow_networks"),
        ("10.1.2.3", False, False, None),  # internal source, redirected into intranet: fine
        ("10.1.2.3", True, True, None),  # external source configured on the intranet host itself
        ("10.1.2.3", True, False, "external source was redirected"),  # public → intranet redirect
    ],
)
def test_netguard_refusal(ip: str, external: bool, configured: bool, refused: str | None) -> None:
    reason = refusal(ipaddress.ip_address(ip), allowed=ALLOWED, external=external, configured_host=configured)
    assert (reason is None) if refused is None else (refused in (reason or ""))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.COM:443/a?utm_source=x&id=3&fbclid=y#top", "https://example.com/a?id=3"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com:8080/x?gclid=1", "http://example.com:8080/x"),
        ("http://example.com/x?b=2&a=1", "http://example.com/x?b=2&a=1"),
    ],
)
def test_canonical_link(url: str, expected: str) -> None:
    assert canonical_link(url) == expected


def test_keys_prefer_unique_guid_then_link_then_hash() -> None:
    keys = assign_keys(
        [
            ("g1", "http://x/1", "h1"),
            ("dup", "http://x/2?utm_medium=rss", "h2"),  # duplicate guid → link
            ("dup", "http://x/3", "h3"),
            (None, "http://x/4", "h4"),
            (None, None, "h5"),  # nothing → content hash
            ("  ", "http://x/6", "h6"),  # blank guid counts as missing
        ]
    )
    assert keys == ["g1", "http://x/2", "http://x/3", "http://x/4", "sha256:h5", "http://x/6"]


def test_dedupe_key_groups_variants() -> None:
    a = dedupe_key("Acme Corp raises $50M Series B led by Sequoia", None, "a")
    b = dedupe_key("ACME corp raises $50m series B, led by Sequoia \u2013 TechNews", "http://y", "b")
    c = dedupe_key("Acme Corp cuts 500 jobs", None, "c")
    assert a == b != c
    assert dedupe_key("Hi", "http://x/?utm_source=1", "z") == dedupe_key("", "http://x/", "q")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-02-01T10:00:00+02:00", datetime(2025, 2, 1, 8, 0, tzinfo=UTC)),
        ("Sat, 01 Feb 2025 10:00:00 EST", datetime(2025, 2, 1, 15, 0, tzinfo=UTC)),
        ("2025-02-01 10:00", datetime(2025, 2, 1, 10, 0, tzinfo=UTC)),  # naive → UTC
        ("2099-01-01T00:00:00Z", None),  # far future
        ("next tuesday", None),
        ("0001-01-01", None),
        ("", None),
    ],
)
def test_normalise_date(value: str, expected: datetime | None) -> None:
    assert normalise_date(value, NOW) == expected


@pytest.mark.parametrize(
    "markup",
    [
        '<a href="javascript:alert(1)">x</a>',
        '<a href="jav&#x09;ascript:alert(1)">x</a>',
        '<a href="&#106;avascript:alert(1)">x</a>',
        '<a href="JaVaScRiPt:alert(1)">x</a>',
        '<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>',
        '<a href="vbscript:msgbox(1)">x</a>',
    ],
)
def test_dangerous_links_removed(markup: str) -> None:
    cleaned = clean_html(markup, "https://example.com/")
    assert "href" not in cleaned and "script" not in cleaned.lower()


def test_clean_html_policy() -> None:
    dirty = (
        '<p onclick="x()">Hi<script>alert(1)</script><style>p{}</style>'
        '<img src="/i.png" onerror="x()"><a href="/rel">r</a>\x00\x0b</p>'
    )
    assert clean_html(dirty, "https://example.com/post/") == (
        '<p>Hi<img src="https://example.com/i.png">'
        '<a href="https://example.com/rel" rel="noopener noreferrer nofollow">r</a></p>'
    )


def test_caps_and_depth() -> None:
    assert len(clean_text("x" * 10_000, limit=500)) == 500
    deep = "<div>" * 10_000 + "core" + "</div>" * 10_000
    assert clean_html(deep).count("<div>") <= 64
    # Stray closing tags close nothing, so they cannot buy room for deeper nesting after them;
    # a "/>" on a non-void element is ignored by HTML parsers, and so by the depth count.
    assert clean_html("</div>" * 1_000 + "<div>" * 1_000 + "core").count("<div>") <= 64
    assert clean_html("<span/>" * 1_000 + "core").count("<span>") <= 64
    # Deep but balanced nesting that goes back down is cut where it first gets too deep.
    assert clean_html(("<b>" * 40 + "x" + "</b>" * 40) * 30 + "<i>" * 100 + "y").count("<i>") <= 64
    assert clean_html("<p>" + "<br>" * 500 + "kept</p>").endswith("kept</p>")  # void elements do not nest
    assert html_to_text("<p>a</p><p>b &amp; c</p>") == "a b & c"
    assert safe_url("javascript:alert(1)") is None and safe_url("/x", "https://e.com/a/") == "https://e.com/x"
