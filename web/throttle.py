"""Slow down password guessing: a few failures per account, then a pause.

Keyed by user name, not by client address: behind a reverse proxy every client has the
proxy's address, and guessing one account from many addresses is the attack to stop.
In memory and per process: a restart forgives, which is acceptable for a brake on
online guessing (argon2 already makes each guess costly).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class SignInThrottle:
    """At most ``max_failures`` wrong passwords per user name within ``window``."""

    def __init__(self, max_failures: int = 5, window: timedelta = timedelta(minutes=5),
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.max_failures, self.window, self.clock = max_failures, window, clock
        self._failures: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        failures = self._failures.setdefault(key.strip().casefold(), deque())
        while failures and now - failures[0] >= self.window:
            failures.popleft()
        return failures

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again; 0 when it may try now."""
        now = self.clock()
        with self._lock:
            failures = self._recent(key, now)
            if len(failures) < self.max_failures:
                return 0
            return max(1, int((failures[0] + self.window - now).total_seconds()) + 1)

    def failed(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            self._recent(key, now).append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key.strip().casefold(), None)
