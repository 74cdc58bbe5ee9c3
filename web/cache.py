"""A small time-to-live cache for account-wide aggregates (stage counts, the volume chart, index counts).

Item lists are always read fresh; only aggregates over a whole account, which cost
tens of milliseconds on a large one, are kept for ``ttl`` seconds. Any write made
through the web app clears the cache, so people see their own corrections at once;
newly fetched items reach the counts within ``ttl``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from aggregator.entitlements import Viewer

T = TypeVar("T")


def viewer_key(viewer: Viewer) -> Hashable:
    """Viewers who see the same items share entries: every privileged viewer, or reps with the same accounts."""
    return "*" if viewer.privileged else tuple(sorted(viewer.accounts))


class TTLCache:
    def __init__(self, ttl: float = 30.0, max_entries: int = 2048) -> None:
        self.ttl, self.max_entries = ttl, max_entries
        self._data: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            hit = self._data.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            if len(self._data) >= self.max_entries:
                self._data.clear()
            self._data[key] = (now + self.ttl, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
