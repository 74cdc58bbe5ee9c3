"""Which items a rep's stream holds: addresses, titles, and the selection itself (pure).

A rep has three kinds of stream, each in RSS, Atom and JSON Feed:

- ``all``                    everything about every account the rep follows;
- ``p/<prospect>``           everything about one account;
- ``p/<prospect>/deal``      that account at the stage the rep's deal is at *now*
                             (follows config, so a deal moving on needs no re-import);
- ``p/<prospect>/<stage>``   that account at a named stage.

Selection applies the one entitlement rule (``aggregator.entitlements.may_see_item``)
to every item *before* near-duplicates are merged, so a merged entry never names a
source the rep may not see.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from aggregator.config.schema import STAGES, RepConfig
from aggregator.entitlements import Viewer, may_see_item
from aggregator.storage.streams import StreamItem

__all__ = [
    "DEAL",
    "FORMATS",
    "Entry",
    "Stream",
    "StreamRef",
    "Target",
    "parse_target",
    "rep_streams",
    "resolve_stream",
    "select_entries",
    "split_stories",
]

Format = Literal["rss", "atom", "json"]
FORMATS: tuple[Format, ...] = ("rss", "atom", "json")
#: The stage segment meaning "wherever this rep's deal is now".
DEAL = "deal"
_ID = r"[a-z0-9][a-z0-9_-]{0,62}"
_PATH_RE = re.compile(rf"^(?:(?P<all>all)|p/(?P<prospect>{_ID})(?:/(?P<stage>{_ID}))?)\.(?P<fmt>rss|atom|json)$")


@dataclass(frozen=True)
class StreamRef:
    """A stream's address below the token, independent of format."""

    prospect: str | None = None  # None: everything for the rep
    stage: str | None = None  # a stage id, DEAL, or None for every stage

    def path(self, fmt: str) -> str:
        """``all.atom``, ``p/acme.rss``, ``p/acme/deal.json``."""
        if self.prospect is None:
            return f"all.{fmt}"
        return f"p/{self.prospect}{'/' + self.stage if self.stage else ''}.{fmt}"


@dataclass(frozen=True)
class Target:
    """What a path below ``/f/<token>/`` asks for: the OPML file, or a stream in a format."""

    kind: Literal["opml", "stream"]
    ref: StreamRef = StreamRef()
    fmt: str = "opml"


def parse_target(path: str) -> Target | None:
    """Parse ``opml``, ``all.rss``, ``p/acme.atom``, ``p/acme/pricing.json``; None if malformed."""
    if path == "opml":
        return Target("opml")
    match = _PATH_RE.match(path)
    if match is None:
        return None
    stage = match["stage"]
    if stage is not None and stage != DEAL and stage not in STAGES:
        return None
    return Target("stream", StreamRef(match["prospect"], stage), match["fmt"])


@dataclass(frozen=True)
class Stream:
    """A stream resolved for one rep: what it filters on and how a feed reader shows it."""

    ref: StreamRef
    rep_id: str
    prospects: frozenset[str]
    stage: str | None
    title: str
    description: str
    folder: str


def _stage_label(stage: str) -> str:
    return stage.capitalize()


def _sentence(text: str) -> str:
    """``text`` with one full stop: names such as "Apple Inc." already end with one."""
    return text if text.endswith(".") else text + "."


def resolve_stream(rep: RepConfig, ref: StreamRef, names: Mapping[str, str]) -> Stream | None:
    """The stream ``ref`` means for ``rep``, or None when the rep does not follow that account."""
    if ref.prospect is None:
        prospects = frozenset(a.prospect for a in rep.accounts)
        return Stream(ref, rep.id, prospects, None, f"Everything for {rep.name}",
                      f"News and internal updates on all accounts {rep.name} follows.", "funnelfeed")
    account = next((a for a in rep.accounts if a.prospect == ref.prospect), None)
    if account is None:
        return None
    name = names.get(account.prospect, account.prospect)
    if ref.stage is None:
        return Stream(ref, rep.id, frozenset({account.prospect}), None, f"{name}: all stages",
                      f"Everything known about {name}, at every funnel stage.", name)
    stage = account.stage if ref.stage == DEAL else ref.stage
    note = " (your deal's stage)" if stage == account.stage else ""
    return Stream(ref, rep.id, frozenset({account.prospect}), stage,
                  f"{name}: {_stage_label(stage)}{note}",
                  _sentence(f"What helps at the {_stage_label(stage)} stage with {name}"), name)


def rep_streams(rep: RepConfig) -> list[StreamRef]:
    """The streams listed in a rep's OPML: everything, then per account all and deal stage."""
    refs = [StreamRef()]
    for account in rep.accounts:
        refs += [StreamRef(account.prospect), StreamRef(account.prospect, DEAL)]
    return refs


@dataclass(frozen=True)
class Entry:
    """One story in a feed: its first visible item, plus the other sources that carried it."""

    item: StreamItem
    also: tuple[StreamItem, ...]
    prospects: tuple[str, ...]
    stages: tuple[str, ...]

    @property
    def internal(self) -> bool:
        return self.item.visibility == "internal"


def _prospect_tags(item: StreamItem) -> list[tuple[str, str]]:
    return [(value, origin) for kind, value, origin in item.tags if kind == "prospect"]


def _in_stream(stream: Stream, item: StreamItem) -> bool:
    values = {(kind, value) for kind, value, _ in item.tags}
    if not any(("prospect", p) in values for p in stream.prospects):
        return False
    return stream.stage is None or ("stage", stream.stage) in values


class _Sourced(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def source_id(self) -> str: ...


S = TypeVar("S", bound=_Sourced)


def split_stories(group: Iterable[S]) -> list[list[S]]:
    """A near-duplicate group as stories, each with at most one item per source, first item leading.

    Near-duplicates are the same story from *other* sources. Two items of one source in a group
    are two posts (a microblog's posts share one page address and differ by #fragment): merged,
    all but one would vanish behind "Also reported by" the same source. The web view splits alike.
    """
    stories: list[list[S]] = []
    for item in sorted(group, key=lambda i: i.id):
        story = next((s for s in stories if all(m.source_id != item.source_id for m in s)), None)
        if story is None:
            stories.append([item])
        else:
            story.append(item)
    return stories


def select_entries(viewer: Viewer, stream: Stream, candidates: Iterable[StreamItem],
                   limit: int) -> list[Entry]:
    """The newest ``limit`` stories of ``stream`` that ``viewer`` may see, near-duplicates merged."""
    groups: dict[int, list[StreamItem]] = {}
    for item in candidates:
        if not _in_stream(stream, item):
            continue
        if not may_see_item(viewer, item.visibility, _prospect_tags(item)):
            continue
        groups.setdefault(item.group_id, []).append(item)
    entries = []
    for group in groups.values():
        for members in split_stories(group):
            first, rest = members[0], members[1:]
            prospects = sorted({v for i in members for k, v, _ in i.tags if k == "prospect"})
            stages = sorted({v for i in members for k, v, _ in i.tags if k == "stage"},
                            key=lambda s: STAGES.index(s) if s in STAGES else len(STAGES))
            entries.append(Entry(first, tuple(rest), tuple(prospects), tuple(stages)))
    entries.sort(key=lambda e: (e.item.published, e.item.id), reverse=True)
    return entries[:limit]
