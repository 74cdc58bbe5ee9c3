"""Real headless Chromium (Debian's /usr/bin/chromium via Playwright) against a real uvicorn server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aggregator.entitlements import Viewer
from aggregator.runtime import Runtime
from aggregator.storage import browse, utcnow
from aggregator.types import ItemData
from tests.web.server import running
from tests.web.support import PASSWORD, SEEDED, make_world
from web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium "
                                                      "(apt-get install chromium; .ci/run installs it)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
WATCH_SCRIPTS = """
window.__added = [];
window.__dialogs = 0;
new MutationObserver((records) => {
  for (const r of records) for (const n of r.addedNodes) if (n.nodeName === 'SCRIPT') window.__added.push(n.outerHTML);
}).observe(document, {childList: true, subtree: true});
"""


@pytest.fixture(scope="module")
def world(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, str]]:
    runtime = make_world(template_db, tmp_path_factory.mktemp("browser"))
    with running(create_app(runtime)) as base:
        yield runtime, base
    runtime.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def sign_in(page: object, base: str, user: str) -> None:
    page.goto(f"{base}/login")  # type: ignore[attr-defined]
    page.fill("input[name=username]", user)  # type: ignore[attr-defined]
    page.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    page.click("form[action='/login'] button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url(f"{base}/")  # type: ignore[attr-defined]


def test_rep_and_manager_journey(world: tuple[Runtime, str], browser: object, tmp_path: Path) -> None:
    _runtime, base = world
    context = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, base, "jane")
    page.click("a[href='/prospects/acme']")
    assert page.locator("h1").inner_text() == "Acme Corporation"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "prospect-page.png"))

    page.click("a.stage-tab[data-stage='closing']")
    page.wait_for_url(re.compile(r"stage=closing"))
    titles = page.locator("article.item h3").all_inner_texts()
    assert titles and all("Acme" in t for t in titles) and SEEDED.acme_external not in titles

    page.fill("textarea[name=body][aria-label='New note']", "Hand-off: CIO prefers phased rollout.")
    page.click("form.note-form button[type=submit]")
    assert page.locator(".notes .note-body").first.inner_text() == "Hand-off: CIO prefers phased rollout."

    card = page.locator("article.item").first
    card.locator("summary", has_text="Correct tags").click()
    card.locator("input[name=values][value=delivering]").check()
    card.locator("button", has_text="Save stages").click()
    page.wait_for_load_state()
    corrected = page.locator("article.item").first
    assert corrected.locator(".pill.s-delivering").count() == 1

    page.click("button:has-text('Sign out')")
    sign_in(page, base, "mia")
    page.click("nav.main-nav a[href='/contributions']")
    row = page.locator("tr[data-user='jane'] td.num")
    assert row.all_inner_texts() == ["1", "1", "0"]
    assert "Hand-off: CIO prefers phased rollout." in page.locator(".feed-list").inner_text()

    page.goto(f"{base}/prospects/acme")
    with page.expect_download() as download_info:
        page.click("a[href='/prospects/acme/dossier.html']")
    saved = tmp_path / "dossier.html"
    download_info.value.save_as(saved)
    html = saved.read_text(encoding="utf-8")
    assert "Dossier: Acme Corporation" in html and "Hand-off: CIO prefers phased rollout." in html
    assert "<script" not in html
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()


def test_hostile_item_renders_inert(world: tuple[Runtime, str], browser: object) -> None:
    runtime, base = world
    with runtime.storage.engine.connect() as conn:
        hostile = conn.exec_driver_sql("SELECT id FROM items WHERE key = 'h1'").scalar_one()
    mia = runtime.storage.user("mia")
    assert mia is not None and mia.id is not None
    runtime.storage.add_note("acme", mia.id, '<script>alert("note")</script><img src=x onerror=alert(11)>',
                             utcnow(), item_id=hostile)
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    sign_in(page, base, "mia")
    page.add_init_script(WATCH_SCRIPTS)
    for path in ("/prospects/acme?stage=pricing", "/search?q=hostile", f"/items/{hostile}",
                 '/search?q="><script>alert(12)</script><img src=x onerror=alert(13)>'):
        page.goto(base + path)
        item = page.locator("article.item", has_text="Acme hostile").first
        if "onerror" in path:  # a search term reflected into the page: shown as text only
            assert "alert(12)" in page.locator("p.empty").inner_text()
        else:
            assert "<script>" in item.locator(".item-title").inner_text()  # shown as text
            item.locator("details.full summary").click()  # open the sanitised content
            item.locator(".item-title").click()
            item.locator("a", has_text="click").click() if item.locator("a", has_text="click").count() else None
        if path.startswith("/items/"):
            assert 'alert("note")' in item.locator(".note-body").inner_text()
        page.wait_for_timeout(300)
        assert dialogs == []
        assert page.evaluate("window.__added") == []
        assert page.evaluate("document.scripts.length") == 0
        handlers = page.evaluate("""[...document.querySelectorAll('*')].flatMap(e =>
            [...e.attributes].filter(a => a.name.startsWith('on') || /^\\s*(javascript|data):/i.test(a.value))
            .map(a => e.nodeName + ' ' + a.name))""")
        assert handlers == []
    context.close()


PAGE_CHECKS = """() => {
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
  const levels = [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1]);
  return {overflow: document.documentElement.scrollWidth - window.innerWidth,
          duplicateIds: ids.filter((id, i) => ids.indexOf(id) !== i),
          h1: levels.filter(l => l === 1).length,
          skips: levels.filter((l, i) => i > 0 && l - levels[i - 1] > 1).length};
}"""


@pytest.mark.parametrize("width", [1360, 375])
def test_pages_fit_a_phone_have_unique_ids_and_ordered_headings(world: tuple[Runtime, str], browser: object,
                                                                width: int) -> None:
    runtime, base = world
    context = browser.new_context(viewport={"width": width, "height": 800})  # type: ignore[attr-defined]
    page = context.new_page()
    sign_in(page, base, "mia")
    story = ItemData(key="two-stages", title="Acme renews and expands its ERP contract", link=None,
                     content_html="", text="", published=utcnow(), content_hash="two-stages")
    runtime.storage.store_items("news", "external", [story], utcnow(), tag=lambda _s, items: [[
        ("prospect", "acme", 1.0, "alias"), ("stage", "closing", 0.9, "model"),
        ("stage", "servicing", 0.9, "model")] for _ in items])  # listed in two overview sections
    unbroken = ItemData(key="unbroken", title="Acme" + "X" * 300, link="https://news.example/" + "y" * 300,
                        content_html="", text="z" * 500, published=utcnow(), content_hash="unbroken")
    runtime.storage.store_items("news", "external", [unbroken], utcnow(), tag=lambda _s, items: [[
        ("prospect", "acme", 1.0, "alias"), ("stage", "closing", 0.9, "model")] for _ in items])  # a feed's junk
    views, _ = browse.items(runtime.storage, Viewer("manager"), browse.ItemFilter(query=SEEDED.acme_internal))
    for path in ("/", "/prospects/acme", "/prospects/acme?stage=all", "/search?q=Acme", "/sources",
                 "/contributions", f"/items/{views[0].id}"):
        page.goto(base + path)
        found = page.evaluate(PAGE_CHECKS)
        assert found == {"overflow": 0, "duplicateIds": [], "h1": 1, "skips": 0}, (path, found)
    context.close()
