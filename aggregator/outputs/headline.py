"""What to call an item wherever it is listed: its title, or the start of its text.

RSS 2.0 items need only a title *or* a description, and JSON Feed items (microblog posts)
often have no title at all. Listed by an empty title, such an item is an invisible link
in the web view and "(untitled)" in a feed reader; its first words say what it is.
"""

from __future__ import annotations

HEADLINE_CHARS = 90
UNTITLED = "(untitled)"


def headline(title: str | None, text: str | None, limit: int = HEADLINE_CHARS) -> str:
    """The item's title (stored titles are already one line); if it has none, its text cut at a word near
    ``limit`` with "…"."""
    title = (title or "").strip()
    if title:
        return title
    text = " ".join((text or "").split())
    if not text:
        return UNTITLED
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"
