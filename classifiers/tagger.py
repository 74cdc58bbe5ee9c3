"""The one object the rest of the product calls: prospects and stages for items."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence

from classifiers.prospects import ProspectTagger
from classifiers.text import item_text
from classifiers.training import TrainedModel, gather, train
from classifiers.types import ItemTags, ProspectProfile, TextItem

_DEFAULT_LOCK = threading.Lock()
_DEFAULT_CACHE: dict[tuple[tuple[str, tuple[str, ...]], ...], TrainedModel] = {}


def default_model(vocab: Mapping[str, Sequence[str]] | None = None) -> TrainedModel:
    """A model trained from the shipped seeds plus the config's stage words, built once per process."""
    key = tuple(sorted((stage, tuple(words)) for stage, words in (vocab or {}).items()))
    with _DEFAULT_LOCK:
        if key not in _DEFAULT_CACHE:
            _DEFAULT_CACHE[key] = train(gather(vocab=vocab or {}))
        return _DEFAULT_CACHE[key]


class Tagger:
    """Tags items with prospects (score + origin) and funnel stages (score).

    ``stage_model`` None means: use the default model built from the shipped seeds.
    ``prospect_model`` picks the prospect model (see ``ProspectTagger.MODELS``).
    The prospect side learns from the confirmed items stored in the model.
    """

    def __init__(
        self,
        profiles: Iterable[ProspectProfile],
        stage_model: TrainedModel | None = None,
        min_prospect_score: float = 0.5,
        vocab: Mapping[str, Sequence[str]] | None = None,
        prospect_model: str | None = None,
    ) -> None:
        self.model = stage_model if stage_model is not None else default_model(vocab)
        self.prospects = ProspectTagger(profiles, min_score=min_prospect_score, model=prospect_model)
        self.prospects.fit(self.model.confirmed)

    def tag(self, item: TextItem) -> ItemTags:
        """Tags for one item."""
        return self.tag_many([item])[0]

    def tag_many(self, items: Sequence[TextItem]) -> list[ItemTags]:
        """Tags for many items; stage features are computed in one vectorised pass."""
        if not items:
            return []
        texts = [item_text(item) for item in items]
        prospect_tags = self.prospects.tag_many(items, texts)
        stage_tags = self.model.stage_model.predict(texts)
        return [ItemTags(p, s) for p, s in zip(prospect_tags, stage_tags, strict=True)]
