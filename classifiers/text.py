"""Text clean-up shared by prospect matching and stage features.

Feeds carry HTML remnants and entity damage (``&lt;A HREF=...&gt;``, ``#39;``,
``\\$``); left in, markup words such as ``target=`` in a link would look like
company names, so they are removed before anything looks at the text.
"""

from __future__ import annotations

import html
import re

from classifiers.types import TextItem

_BROKEN_ENTITY = re.compile(r"(?<![&\w])#(\d{2,4});")
# Real HTML tags: closing tags, lowercase tags, or tags with attributes. Upper-case
# bare tags such as <F> or <DRAM> are wire-service ticker notation and are kept.
_HTML_TAG = re.compile(r"</[A-Za-z][^>]*>|<[a-z][a-z0-9]*\s*/?>|<[A-Za-z][A-Za-z0-9]*\s[^>]*>")


def clean(text: str) -> str:
    """Unescape entities (twice: feeds often double-escape), drop HTML tags, squeeze spaces."""
    # Each substitution is skipped where its pattern cannot match (most texts): the same text, a scan less.
    if "#" in text:
        text = _BROKEN_ENTITY.sub(lambda m: "&#" + m.group(1) + ";", text)
    text = html.unescape(html.unescape(text)).replace("\\$", "$").replace("\\", " ")
    if "<" in text:
        text = _HTML_TAG.sub(" ", text)
    return " ".join(text.split())  # str.split and \s agree on what is a space (every code point checked)


def item_text(item: TextItem) -> str:
    """Title and summary as one clean string (the title first: it carries most signal)."""
    title = clean(item.title)
    summary = clean(item.summary)
    return f"{title}. {summary}" if summary else title


def is_shouting(text: str) -> bool:
    """True for ALL-CAPS text (old wire headlines), where letter case says nothing."""
    letters = sum(map(str.isalpha, text))
    if letters < 8:
        return False
    return sum(map(str.isupper, text)) / letters > 0.8
