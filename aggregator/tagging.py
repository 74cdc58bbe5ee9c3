"""Glue between the classifiers package and stored items.

Builds a ``classifiers.Tagger`` from the configuration in force and the trained
model, and turns its answer into storage tags. The source's own ``prospects:``
rule and an export's account column are applied here, because only the
aggregator knows about sources.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aggregator.config.schema import Config, ProspectConfig
from aggregator.storage import Tag
from aggregator.types import ItemData, SourceSpec

if TYPE_CHECKING:
    from classifiers import ProspectProfile

log = logging.getLogger(__name__)

#: The classifier reads the title and the lead of the text: the signal for a prospect or a
#: stage is up front (the labelled data are headlines and summaries: 758 of the 759 DEV
#: summaries are shorter than this, p99 400 characters), and character n-grams over a
#: 50 KB full-content entry would cost a hundred times more for nothing.
SUMMARY_CHARS = 600
_ACCOUNT_LIST = re.compile(r"[;|]")


@dataclass(frozen=True)
class TagInput:
    """What the tagger reads of one item: small, so it is cheap to send to a tagging process."""

    key: str
    title: str
    lead: str
    link: str
    prospect_hint: str | None
    source_prospects: tuple[str, ...]


def tag_inputs(spec: SourceSpec | None, items: Sequence[ItemData]) -> list[TagInput]:
    """The parts of ``items`` (from the source ``spec``) that tagging reads."""
    source_prospects = tuple(spec.prospects) if spec else ()
    return [TagInput(i.key, i.title, i.text[:SUMMARY_CHARS], i.link or "", i.prospect_hint, source_prospects)
            for i in items]


def profiles_from_config(config: Config) -> list[ProspectProfile]:
    """The classifier's view of the configured prospects."""
    from classifiers import ProspectProfile

    return [
        ProspectProfile(id=p.id, name=p.name, aliases=tuple(p.aliases), domains=tuple(p.domains),
                        people=tuple(p.people), keywords=tuple(p.keywords),
                        negative_keywords=tuple(p.negative_keywords))
        for p in config.prospects
    ]


def stage_vocab(config: Config) -> dict[str, list[str]]:
    """The stage words support staff wrote in config.yaml (weak labels for the stage model)."""
    return {str(stage): list(words) for stage, words in config.stages.items()}


def resolve_account(hint: str | None, prospects: Sequence[ProspectConfig]) -> str | None:
    """One account name (id, name or alias, any case) → prospect id."""
    if not hint:
        return None
    wanted = hint.strip().casefold()
    for p in prospects:
        if wanted in {p.id.casefold(), p.name.casefold(), *(a.casefold() for a in p.aliases)}:
            return p.id
    return None


def resolve_accounts(hint: str | None, prospects: Sequence[ProspectConfig]) -> tuple[list[str], list[str]]:
    """An export's account column → (prospect ids, names that match no prospect).

    A row may name several accounts, separated by ``;`` or ``|``, or by ``,`` where the
    whole value is not itself a name ("Acme, Inc." stays one account).
    """
    if not hint or not hint.strip():
        return [], []
    found: list[str] = []
    unknown: list[str] = []
    for part in _ACCOUNT_LIST.split(hint):
        pieces = part.split(",")
        start = 0
        while start < len(pieces):  # the longest run of comma-separated pieces that names a prospect
            for end in range(len(pieces), start, -1):
                account = resolve_account(",".join(pieces[start:end]), prospects)
                if account is not None:
                    if account not in found:
                        found.append(account)
                    start = end
                    break
            else:
                if pieces[start].strip():
                    unknown.append(pieces[start].strip())
                start += 1
    return found, unknown


def unmatched_accounts_note(items: Sequence[ItemData], prospects: Sequence[ProspectConfig]) -> str | None:
    """For health: account names in an export that match no prospect (those rows have no owner)."""
    unknown: Counter[str] = Counter()
    for item in items:
        unknown.update(resolve_accounts(item.prospect_hint, prospects)[1])
    if not unknown:
        return None
    shown = ", ".join(f"{name!r} ({count} row{'s' if count > 1 else ''})" for name, count in unknown.most_common(5))
    more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
    return (f"accounts that match no prospect's id, name or alias in config.yaml: {shown}{more}; "
            "add them (or aliases) so their rows reach the reps who follow them")


def seed_model(config: Config, model_path: Path):  # type: ignore[no-untyped-def]
    """The model trained from shipped seeds + config vocabulary, cached on disk beside model_path.

    Training takes seconds; every worker process and `preview` would otherwise pay it.
    The cache key covers the seed files and the vocabulary, so an edit retrains.
    """
    import classifiers
    from classifiers import default_model, load_model, save_model

    digest = hashlib.sha256(repr(sorted(config.stages.items())).encode())
    for seed in sorted((Path(classifiers.__file__).parent / "seeds").glob("*.jsonl")):
        digest.update(seed.read_bytes())
    cache = model_path.with_name(f".{model_path.stem}-seeds-{digest.hexdigest()[:12]}.pkl")
    try:
        cached = load_model(cache)
        if cached is not None:
            return cached
    except Exception:
        log.warning("ignoring unreadable seed-model cache %s", cache)
    model = default_model(stage_vocab(config))
    try:
        temp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        save_model(model, temp)
        temp.replace(cache)
    except OSError as exc:
        log.info("cannot cache the seed model at %s: %s", cache, exc)
    return model


class ItemTagger:
    """Tags items for one configuration; rebuilt when config or model changes."""

    def __init__(self, config: Config, model_path: str | Path | None = None) -> None:
        from classifiers import Tagger, load_model

        self.config = config
        path = Path(model_path or config.classifier.model_path)
        model = None
        try:
            model = load_model(path) if path.exists() else None
        except Exception as exc:  # a broken model file must not stop fetching
            log.error("cannot load the stage model %s (%s); using the shipped seed model", path, exc)
        if model is None:
            model = seed_model(config, path)
        self._tagger = Tagger(profiles_from_config(config), model,
                              min_prospect_score=config.classifier.min_prospect_score,
                              vocab=stage_vocab(config),
                              prospect_model=config.classifier.prospect_model)
        self._lock = threading.Lock()

    def tag(self, spec: SourceSpec | None, items: Sequence[ItemData]) -> list[list[Tag]]:
        """Prospect and stage tags for ``items`` of the source ``spec``."""
        return self.tag_inputs(tag_inputs(spec, items))

    def tag_inputs(self, inputs: Sequence[TagInput]) -> list[list[Tag]]:
        """Tags for items of any sources at once (one batch costs far less than many small ones)."""
        from classifiers import TextItem

        texts = [TextItem(id=i.key, title=i.title, summary=i.lead, link=i.link, source_prospects=i.source_prospects)
                 for i in inputs]
        with self._lock:  # sklearn objects are not guaranteed thread-safe
            results = self._tagger.tag_many(texts)
        out: list[list[Tag]] = []
        for data, result in zip(inputs, results, strict=True):
            tags: list[Tag] = [("prospect", pid, t.score, t.origin) for pid, t in result.prospects.items()]
            accounts, _ = resolve_accounts(data.prospect_hint, self.config.prospects)
            if accounts:
                tags = [t for t in tags if t[1] not in accounts] + [("prospect", a, 1.0, "export") for a in accounts]
            tags.extend(("stage", stage, score, "model") for stage, score in result.stages.items())
            out.append(tags)
        return out
