"""Health notes: what support staff may want to fix although a source's fetch worked.

A permanent redirect (the feed moved: config.yaml should say where), page selectors that
found nothing in some items, skipped export rows. Stored with the source's health and
replaced by each successful fetch.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from aggregator.pipeline import Pipeline
from aggregator.runtime import open_runtime
from tests.fetch.support import Server
from tests.helpers import rss

MOVED = "moved permanently to {url}: update the source's url in config.yaml"


def _notes_after_passes(tmp_path: Path, source: str, passes: int = 1) -> list[str | None]:
    config = tmp_path / "config.yaml"
    config.write_text(f"database: sqlite:///{tmp_path / 'db.sqlite'}\nfetch: {{allow_networks: [127.0.0.1/32]}}\n"
                      f"sources:\n  - {source}\n")
    runtime = open_runtime(config)

    async def run() -> list[str | None]:
        pipeline = Pipeline(runtime, parse_workers=0, tag_workers=0)
        notes = []
        try:
            for _ in range(passes):
                [outcome] = await pipeline.run_pass(runtime.holder.sources)
                assert outcome.status in ("ok", "not_modified"), outcome.error
                row = runtime.storage.source(outcome.source)
                assert row is not None
                notes.append(row.notes)
        finally:
            await pipeline.aclose()
        return notes

    try:
        return asyncio.run(run())
    finally:
        runtime.close()


@pytest.mark.parametrize(("statuses", "moved"), [
    ((301,), True), ((308,), True), ((301, 308), True), ((302,), False), ((301, 302), False), ((307,), False),
])
def test_a_permanent_redirect_is_noted(server: Server, tmp_path: Path, statuses: tuple[int, ...], moved: bool) -> None:
    final = server.route("/new/feed.xml", body=rss("moved"))
    url = final + "?token=s3cret"  # a query may carry a secret: notes show the URL without it
    for index, status in reversed(list(enumerate(statuses))):
        url = server.route(f"/old{index}.xml", status=status, headers={"Location": url})
    [notes] = _notes_after_passes(tmp_path, f"{{id: s, url: '{url}', kind: feed, visibility: external}}")
    assert notes == (MOVED.format(url=final) if moved else None)
    assert "s3cret" not in (notes or "")


def test_notes_are_replaced_by_the_next_successful_fetch(server: Server, tmp_path: Path) -> None:
    """A page whose summary selector misses one item: noted; once the page is fixed, the note goes."""
    articles = [b"<article><h2><a href='/a'>First</a></h2><p>Lead one</p></article>",
                b"<article><h2><a href='/b'>Second</a></h2></article>"]
    pages = [b"<html><body>" + b"".join(articles) + b"</body></html>",
             b"<html><body>" + articles[0] * 2 + b"</body></html>"]
    served = iter(pages)
    server.routes["/news"] = lambda req: req.reply(200, next(served), {"Content-Type": "text/html"})
    source = (f"{{id: p, url: '{server.url('/news')}', kind: page, visibility: external, robots: false, "
              "select: {item: article, title: h2, link: h2 a@href, summary: p}}")
    first, second = _notes_after_passes(tmp_path, source, passes=2)
    assert first == "the summary selector 'p' found nothing in 1 of 2 items: those items have no summary"
    assert second is None
