"""When each source is fetched next: pure decisions with an injected clock and randomness.

Per-source due times live in the database (``sources.next_due``), so a restart
neither stampedes every source at once nor skips any, and several worker
processes share one schedule. APScheduler drives the dispatch loop that claims
due sources; see ``aggregator.service``.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

#: First retry after a failure; doubles with each consecutive failure up to backoff_max.
BASE_BACKOFF = timedelta(minutes=2)


def next_due(now: datetime, every: timedelta, *, status: str, consecutive_failures: int,
             backoff_max: timedelta, jitter: float = 0.1, retry_after: datetime | None = None,
             rng: random.Random | None = None) -> datetime:
    """The next time a source should be fetched after an attempt with ``status``.

    - success or not-modified: one interval later, plus up to ``jitter`` of it;
    - failure: exponential backoff from 2 minutes, capped at ``backoff_max`` and never
      sooner than the normal interval would be for the n-th failure beyond the cap;
    - deferred by a per-host budget: a short, jittered delay (not a failure);
    - a server's Retry-After is honoured when it asks for longer.
    """
    rand = (rng or random).random()
    if status == "deferred":
        due = now + timedelta(seconds=5 + 25 * rand)
    elif status == "error":
        failures = max(1, consecutive_failures)
        delay = min(BASE_BACKOFF * (2 ** min(failures - 1, 20)), backoff_max)
        due = now + delay + delay * jitter * rand
    else:
        due = now + every + every * jitter * rand
    if retry_after is not None and retry_after > due:
        due = retry_after
    return due


def initial_spread(now: datetime, every: timedelta, rng: random.Random | None = None) -> datetime:
    """A first due time spread over one interval (at most a minute) so new sources don't all fire at once."""
    window = min(every, timedelta(minutes=1))
    return now + window * (rng or random).random()


def lease_length(deadline: timedelta) -> timedelta:
    """How long a claimed source stays leased: past the hard deadline of its fetch twice over, plus
    queueing slack, so only a dead process's lease ever expires."""
    return deadline * 2 + timedelta(seconds=5)
