"""Tagging in worker processes, so tagging uses every core instead of one interpreter lock.

Each process builds its own ``ItemTagger`` once (the seed model comes from the disk
cache the parent wrote), then tags batches sent to it. The pool belongs to one
configuration and model file; the pipeline replaces it when either changes.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from aggregator.config.schema import Config
from aggregator.storage import Tag
from aggregator.tagging import ItemTagger
from aggregator.types import ItemData, SourceSpec

_TAGGER: ItemTagger | None = None


def _init(config: Config) -> None:
    global _TAGGER
    _TAGGER = ItemTagger(config)


def _tag(spec: SourceSpec | None, items: Sequence[ItemData]) -> list[list[Tag]]:
    assert _TAGGER is not None, "tag pool process not initialised"
    return _TAGGER.tag(spec, items)


def _ready() -> bool:
    return _TAGGER is not None


class TagPool:
    """A process pool whose workers hold a tagger for ``config``."""

    def __init__(self, config: Config, workers: int, model_mtime: float | None) -> None:
        self.config = config
        self.model_mtime = model_mtime
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init, initargs=(config,))
        self._workers = workers

    def warm_up(self) -> None:
        """Start every process and build its tagger now, not on the first fetched item."""
        for future in [self._pool.submit(_ready) for _ in range(self._workers * 2)]:
            future.result()

    async def tag(self, spec: SourceSpec | None, items: Sequence[ItemData]) -> list[list[Tag]]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, _tag, spec, list(items))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
