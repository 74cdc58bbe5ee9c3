"""Find every alias, person and ticker of every prospect in a text in one pass.

All aliases of all prospects are compiled into ONE regular expression shaped as a
character trie, so matching cost grows with the text, not with the number of
prospects (thousands of prospects stay fast). Names match case-insensitively
(and are then refused when written all in lowercase, as in "apple pie"); tickers
and other all-caps aliases match case-sensitively.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from classifiers.types import ProspectProfile

_TICKER = re.compile(r"^[A-Z][A-Z0-9]{0,5}(?:\.[A-Z0-9]{1,2})?$")
_LEGAL_SUFFIX = re.compile(
    r",?\s+(?:inc|corp|corporation|co|company|plc|p\.l\.c|ltd|limited|ag|sa|nv|llc)\.?$", re.IGNORECASE
)
_EXCHANGE_BEFORE = re.compile(r"(?:NYSE|NASDAQ|Nasdaq|AMEX|LSE|LON|TSX|NYSEARCA|OTC)\s*:\s*$")
_TICKER_AFTER = re.compile(r"^(?:\.[A-Z]{1,2})?\s*[>)]")


@dataclass(frozen=True)
class Mention:
    """One place where a prospect's alias, ticker or person occurs."""

    prospect: str
    alias: str
    start: int
    end: int
    kind: str  # "name", "ticker" or "person"
    ticker_context: bool  # written as <F>, (F), $F or NYSE: F
    lowercase: bool  # written in lower case, i.e. an ordinary word


def _trie_pattern(words: Iterable[str]) -> str:
    """Regex source matching any of ``words``, preferring the longest."""
    trie: dict[str, dict] = {}  # type: ignore[type-arg]
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict) -> str:  # type: ignore[type-arg]
        end = "" in node
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if end:
            return "(?:" + body + ")?"
        return body

    return emit(trie)


def name_variants(profile: ProspectProfile) -> list[str]:
    """The name as written, the name without its legal suffix, and every alias."""
    names = [profile.name.strip().rstrip("."), _LEGAL_SUFFIX.sub("", profile.name.strip()).strip()]
    names.extend(a.strip() for a in profile.aliases)
    return [n for n in dict.fromkeys(names) if n]


def is_ticker(alias: str) -> bool:
    """All-caps short aliases (AAPL, F, GM, RDS.A) are matched case-sensitively."""
    return bool(_TICKER.match(alias))


class AliasMatcher:
    """Compiled matcher over the names, aliases, tickers, people and domains of many prospects."""

    def __init__(self, profiles: Iterable[ProspectProfile]) -> None:
        self._names: dict[str, list[tuple[str, str, str]]] = {}  # lower -> (pid, alias, kind)
        self._tickers: dict[str, list[tuple[str, str, str]]] = {}
        self._domains: dict[str, list[str]] = {}
        for profile in profiles:
            for alias in name_variants(profile):
                table = self._tickers if is_ticker(alias) else self._names
                key = alias if table is self._tickers else alias.lower()
                table.setdefault(key, []).append((profile.id, alias, "ticker" if table is self._tickers else "name"))
            for person in profile.people:
                if person.strip():
                    self._names.setdefault(person.strip().lower(), []).append((profile.id, person, "person"))
            for domain in profile.domains:
                self._domains.setdefault(domain.lower().strip().lstrip("."), []).append(profile.id)
        parts = []
        if self._names:
            parts.append("(?P<n>(?i:" + _trie_pattern(self._names) + "))")
        if self._tickers:
            # Not the "S" of a possessive or contraction written in capitals ("SAINSBURY'S", "LLOYD'S").
            parts.append("(?<![A-Za-z]['\u2019])(?P<t>" + _trie_pattern(self._tickers) + ")")
        # Where no alias can start (most places) a match fails at one character class, before trying
        # each branch of the trie; the class is what the trie's first characters match, so nothing changes.
        starts = []
        if self._names:
            starts.append("(?i:[" + "".join(sorted({re.escape(name[0]) for name in self._names})) + "])")
        if self._tickers:
            starts.append("[" + "".join(sorted({re.escape(ticker[0]) for ticker in self._tickers})) + "]")
        first = "(?=" + "|".join(starts) + ")"
        source = first + r"(?<![\w&])(?:" + "|".join(parts) + r")(?![\w]|&\w)" if parts else r"(?!x)x"
        self._pattern = re.compile(source)
        # Some domain written in the link: needed for any to be its host or a parent of it (see domain_prospects).
        self._domain_hint = re.compile("|".join(re.escape(d) for d in self._domains))

    def mentions(self, text: str) -> list[Mention]:
        """Every prospect mention in ``text`` (names and tickers), left to right."""
        found: list[Mention] = []
        for match in self._pattern.finditer(text):
            found.extend(self._to_mentions(text, match))
        return found

    def _to_mentions(self, text: str, match: re.Match[str]) -> list[Mention]:
        matched = match.group(0)
        start, end = match.span()
        if match.lastgroup == "n":
            entries = self._names.get(matched.lower(), [])
            lowercase = matched == matched.lower() and matched != matched.upper()
            ticker_ctx = False
        else:
            entries = self._tickers.get(matched, [])
            lowercase = False
            ticker_ctx = self._ticker_context(text, start, end)
        return [Mention(pid, alias, start, end, kind, ticker_ctx, lowercase) for pid, alias, kind in entries]

    @staticmethod
    def _ticker_context(text: str, start: int, end: int) -> bool:
        """True where the text itself says 'this is a ticker': <F>, (F), $F, NYSE: F."""
        before = text[max(0, start - 12) : start]
        after = text[end : end + 6]
        if before.endswith("$"):
            return True
        if _EXCHANGE_BEFORE.search(before):
            return True
        return bool(before.rstrip().endswith(("<", "(")) and _TICKER_AFTER.match(after))

    def domain_prospects(self, link: str) -> list[str]:
        """Prospects whose domain is the link's host or a parent domain of it."""
        if not link or not self._domains:
            return []
        if link.isascii():
            # The host is a piece of the link once urlsplit has removed tabs and line breaks; for ASCII,
            # lowercasing the link lowercases that piece. No domain in the link: none is the host's (and
            # parsing the link costs more than the whole look-up otherwise).
            plain = link.lower()
            if "\t" in plain or "\r" in plain or "\n" in plain:
                plain = plain.replace("\t", "").replace("\r", "").replace("\n", "")
            if not self._domain_hint.search(plain):
                return []
        try:
            host = (urlsplit(link).hostname or "").lower().rstrip(".")
        except ValueError:
            return []
        labels = host.split(".")
        found: list[str] = []
        for i in range(len(labels) - 1):
            found.extend(self._domains.get(".".join(labels[i:]), []))
        return list(dict.fromkeys(found))
