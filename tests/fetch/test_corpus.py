"""The shared corpus (../shared/corpus, read-only): every feed file against manifest.json, every real page.

manifest.json records what feedparser 6.0.14 finds in each file (entry count, first
entry title). ``parse_document`` must agree, except for the deliberate deviations
listed in DEVIATIONS and these general rules:

- Files feedparser recognises as nothing and finds no entries in (``format == ""``,
  ``entries == 0``) must be *errors*: garbage is never "no items".
- ``.json`` files: feedparser 6 has no JSON Feed parser, so the expected count is the
  length of the document's own ``items`` list (or an error when it has none).
- Titles are plain text here: the manifest's title is compared after the same
  whitespace collapsing (or, when feedparser kept markup in it, HTML-to-text).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aggregator.fetch import Fetcher, FetchError, parse_document
from aggregator.fetch.sanitize import clean_text, html_to_text
from aggregator.types import ItemData
from tests.fetch.support import FakeClock, Server, settings, spec

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
NOW = datetime(2030, 1, 1, tzinfo=UTC)  # the corpus's own dates must not count as "future"

# path → (expected entry count, or "error"; why we deliberately differ from feedparser)
DEVIATIONS: dict[str, tuple[int | str, str]] = {
    "feedparser-tests/wellformed/rss/entity_in_doctype.xml": ("error", "declares XML entities: refused"),
    "feedparser-tests/wellformed/rdf/doctype_contains_entity_decl.xml": ("error", "declares XML entities: refused"),
    "feedparser-tests/wellformed/lang/entry_content_xml_lang_blank_3.xml": (1, "two verbatim-identical entries"),
    "feedparser-tests/wellformed/node_precedence/atom10_arbitrary_element.xml": (1, "two identical entries"),
    "feedparser-tests/wellformed/node_precedence/atom10_title.xml": (1, "two identical entries"),
    "real-feeds/fastfeedparser/benchmark_data/72fea1ebfd02e90a.xml": (11, "9 entries repeated verbatim"),
    "real-feeds/node-feedparser/illegally-nested.xml": (11, "9 empty entries repeated verbatim"),
    "feedparser-tests/wellformed/sanitize/entry_title_crazy.xml": (1, "title is plain text; script text dropped"),
    "feedparser-tests/wellformed/sanitize/entry_title_object.xml": (1, "<object> content dropped from title"),
}


def _corpus() -> Path:
    if not (CORPUS / "manifest.json").is_file():
        pytest.skip(f"the shared corpus is absent ({CORPUS}); it is not part of the repository")
    return CORPUS


def _outcome(body: bytes, path: str, content_type: str | None = None) -> tuple[int | str, str | None]:
    source = spec("https://corpus.test/" + path)
    try:
        doc = parse_document(body, url=source.url, content_type=content_type, spec=source, now=NOW)
    except FetchError:
        return "error", None
    return len(doc.items), doc.items[0].title if doc.items else None


def _expected(entry: dict[str, Any], body: bytes) -> int | str:
    path = entry["path"]
    if path in DEVIATIONS:
        return DEVIATIONS[path][0]
    if path.endswith(".json"):
        try:
            data = json.loads(body)
            items = data.get("items")
            if items is None and isinstance(data.get("rss"), dict):  # RSS-in-JSON (ScriptingNews.json)
                items = data["rss"]["channel"]["item"]
        except (ValueError, AttributeError, KeyError, TypeError):
            return "error"
        return len(items) if isinstance(items, list) else "error"
    if entry["format"] == "" and entry["entries"] == 0:
        return "error"
    return int(entry["entries"])


def _title_matches(expected: str | None, got: str | None) -> bool:
    if expected is None:
        return got in (None, "")
    return got in (clean_text(expected, limit=500), html_to_text(expected, limit=500))


def _check(entry: dict[str, Any]) -> tuple[Any, ...] | None:
    """One manifest row: None when parse_document agrees, else what differs."""
    body = (CORPUS / entry["path"]).read_bytes()
    count, title = _outcome(body, entry["path"])
    expected = _expected(entry, body)
    checks_title = entry["path"] not in DEVIATIONS and not entry["path"].endswith(".json")
    if count != expected or (checks_title and count and not _title_matches(entry["first_entry_title"], title)):
        return (entry["path"], expected, count, entry["first_entry_title"], title)
    return None


def test_every_corpus_feed_matches_manifest() -> None:
    root = _corpus()
    manifest = json.loads((root / "manifest.json").read_text())
    assert len(manifest) == 2407
    started = time.perf_counter()
    # Two processes (the machine has two cores): the corpus is ~41 MB of feedparser work.
    with ProcessPoolExecutor(max_workers=2) as pool:
        mismatches = [m for m in pool.map(_check, manifest, chunksize=40) if m is not None]
    elapsed = time.perf_counter() - started
    assert not mismatches, f"{len(mismatches)} deviations not listed in DEVIATIONS: {mismatches[:20]}"
    print(f"corpus: {len(manifest)} files parsed in {elapsed:.1f} s")


def _subset(manifest: list[dict[str, Any]], n: int = 40) -> list[dict[str, Any]]:
    real = [e for e in manifest if e["path"].startswith("real-feeds/") and e["bytes"] < 150_000]
    step = max(len(real) // n, 1)
    picked = real[::step][:n]
    gz = [e for e in real if e["path"].endswith(("compressed.xml", "invalid-characters-gzipped.xml"))]
    return picked + [e for e in gz if e not in picked]


def _signature(items: tuple[ItemData, ...]) -> list[tuple[str, str, str | None]]:
    return [(i.key, i.title, i.link) for i in items]


async def test_real_feeds_over_http(server: Server) -> None:
    """40 real feeds served by a loopback server, fetched concurrently through Fetcher."""
    root = _corpus()
    manifest = json.loads((root / "manifest.json").read_text())
    chosen = _subset(manifest)
    expected: dict[str, list[tuple[str, str, str | None]] | str] = {}
    for n, entry in enumerate(chosen):
        body = (root / entry["path"]).read_bytes()
        path = f"/f{n}"
        ctype = "application/feed+json" if entry["path"].endswith(".json") else "application/xml"
        headers = {"Content-Type": ctype}
        if body[:2] == b"\x1f\x8b":  # node-feedparser's gzip files: what the server would send
            headers["Content-Encoding"] = "gzip"
            plain = gzip.decompress(body)
        else:
            plain = body
        server.route(path, body=body, headers=headers)
        try:
            doc = parse_document(plain, url=server.url(path), content_type=ctype, spec=spec(server.url(path)), now=NOW)
            expected[path] = _signature(doc.items)
        except FetchError as exc:
            expected[path] = str(exc)
    clock = FakeClock()
    clock.now = NOW
    async with Fetcher(settings(max_bytes=5_000_000, deadline=20, timeout=5, per_host=4), clock=clock) as fetcher:
        results = await asyncio.gather(
            *(fetcher.fetch(spec(server.url(p)), etag=None, last_modified=None) for p in expected)
        )
    assert len(results) >= 40
    for path, result in zip(expected, results, strict=True):
        want = expected[path]
        if isinstance(want, str):
            assert result.status == "error" and result.error == want
        else:
            assert result.status == "ok", (path, result.error)
            assert _signature(result.items) == want
    gzipped = [r for e, r in zip(chosen, results, strict=True) if e["path"].endswith("compressed.xml")]
    assert gzipped and all(r.status == "ok" and r.items for r in gzipped)  # feedparser alone finds none


def _real_pages() -> list[Path]:
    pages = sorted((_corpus() / "real-pages").rglob("*.html"))
    assert len(pages) == 78
    return pages


def test_every_real_page_is_ingested_as_a_page() -> None:
    """The 78 real pages, as `kind: page` sources without selectors: each either advertises a feed
    (which the fetcher then reads instead) or is watched as one item with its title and text."""
    root = _corpus() / "real-pages"
    discovered = watched = 0
    for path in _real_pages():
        url = "https://pages.test/" + path.relative_to(root).as_posix()
        doc = parse_document(path.read_bytes(), url=url, content_type="text/html", spec=spec(url, "page"), now=NOW)
        if doc.feed_url:
            assert doc.feed_url.startswith(("http://", "https://")) and not doc.items, path
            discovered += 1
        else:
            [item] = doc.items
            assert item.title and len(item.text) > 500 and item.link == url, path
            assert "\ufffd" not in item.title, path  # decoded in the right charset (gb2312, Shift_JIS...)
            watched += 1
    assert (discovered, watched) == (44, 34)


async def test_real_pages_over_http(server: Server) -> None:
    """Real pages that advertise no feed, served over loopback with their own bytes, fetched as pages."""
    root = _corpus() / "real-pages"
    chosen: list[tuple[str, str, Path]] = []
    for path in _real_pages():
        body = path.read_bytes()
        url = server.url(f"/p{len(chosen)}")
        doc = parse_document(body, url=url, content_type="text/html", spec=spec(url, "page"), now=NOW)
        if doc.feed_url is None:  # a discovered feed would be fetched from its real (outside) address
            server.route(f"/p{len(chosen)}", body=body, headers={"Content-Type": "text/html"})
            chosen.append((url, doc.items[0].title, path.relative_to(root)))
    server.route("/robots.txt", 404)
    async with Fetcher(settings(max_bytes=5_000_000, deadline=20, timeout=5, per_host=4), clock=FakeClock()) as f:
        results = await asyncio.gather(*(f.fetch(spec(url, "page"), etag=None, last_modified=None)
                                         for url, _, _ in chosen))
    assert len(chosen) == 34
    for (url, title, name), result in zip(chosen, results, strict=True):
        assert result.status == "ok", (name, result.error)
        assert [(i.link, i.title) for i in result.items] == [(url, title)], name
