"""Plain frozen values the tagging engine takes and returns.

They import nothing from ``aggregator`` or ``web`` so the engine can be used
(and tested) on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STAGES: tuple[str, ...] = (
    "prospecting",
    "qualifying",
    "pricing",
    "proposing",
    "negotiating",
    "closing",
    "delivering",
    "servicing",
)
"""The eight funnel stages, in funnel order (see DOMAIN.md)."""

ORIGINS: tuple[str, ...] = ("source", "alias", "domain", "person", "model", "person-correction")
"""Where a prospect tag came from, so people can see why an item was tagged."""


@dataclass(frozen=True)
class ProspectProfile:
    """What the engine knows about one prospect (built from config, no I/O)."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    negative_keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class TextItem:
    """The only parts of an item the tagger may look at."""

    id: str
    title: str
    summary: str = ""
    link: str = ""
    source_prospects: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProspectTag:
    """A prospect tag with its confidence and the evidence kind that produced it."""

    score: float
    origin: str


@dataclass(frozen=True)
class ItemTags:
    """Tagging result for one item: prospects above threshold and stage scores above threshold."""

    prospects: dict[str, ProspectTag] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class LabeledItem:
    """A text item with its gold (or corrected) labels, used for training and evaluation."""

    item: TextItem
    stages: tuple[str, ...] = ()
    prospects: tuple[str, ...] = ()
    weight: float = 1.0
    origin: str = "labels"
