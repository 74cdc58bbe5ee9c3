"""Being a good guest: concurrency limits, per-host budgets, robots.txt, backoff.

Decisions (budget, backoff, Retry-After, robots verdicts) are pure or take the clock
as an argument; only :class:`Politeness` holds state, and it never sleeps: when a
host's budget is spent the fetch is *deferred* and the scheduler tries again later.
"""

from __future__ import annotations

import asyncio
import email.utils
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.robotparser import RobotFileParser

Clock = Callable[[], datetime]

WINDOW = timedelta(minutes=1)
ROBOTS_TTL = timedelta(hours=12)
ROBOTS_RETRY = timedelta(minutes=30)


def utc_now() -> datetime:
    """The real clock (aware UTC); tests inject their own."""
    return datetime.now(UTC)


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """When a ``Retry-After`` header (seconds or HTTP date) lets us back; None if absent/garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=min(int(value), 10 * 365 * 86400))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when.astimezone(UTC), now)


def next_attempt_delay(
    consecutive_failures: int,
    every: timedelta,
    backoff_max: timedelta,
    retry_after: timedelta | None = None,
) -> timedelta:
    """How long to wait before fetching a source again.

    No failures: the normal interval ``every``. After n failures: ``every * 2**n``
    (exponential backoff), never more than ``backoff_max``. A server's Retry-After is
    honoured when it asks for longer, but also capped by ``backoff_max`` so that a
    hostile or mistaken header cannot silence a source forever.

    >>> next_attempt_delay(2, timedelta(minutes=10), timedelta(days=1))
    datetime.timedelta(seconds=2400)
    """
    if consecutive_failures <= 0:
        delay = every
    else:
        exponent = min(consecutive_failures, 32)  # 2**32 * any interval is past any cap
        delay = min(every * (2**exponent), backoff_max)
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    return min(delay, max(backoff_max, every))


def budget_allows(sent: deque[datetime], now: datetime, per_minute: int) -> datetime | None:
    """None if one more request fits the sliding one-minute window, else when it will.

    Drops timestamps older than the window from ``sent`` (the only mutation).
    """
    while sent and now - sent[0] >= WINDOW:
        sent.popleft()
    if len(sent) < per_minute:
        return None
    return sent[0] + WINDOW


@dataclass
class RobotsEntry:
    """A host's parsed robots.txt (None = allow all) and when to fetch it again."""

    parser: RobotFileParser | None
    expires: datetime
    disallow_all: bool = False
    reason: str | None = None  # why everything is disallowed, when robots.txt itself failed


def parse_robots(text: str) -> RobotFileParser:
    """Parse robots.txt text without fetching anything (RobotFileParser.read would)."""
    parser = RobotFileParser()
    parser.parse(text.splitlines())
    return parser


def robots_verdict(entry: RobotsEntry, url: str, agent: str) -> bool:
    """True if ``agent`` may fetch ``url`` by this entry (RFC 9309 semantics)."""
    if entry.disallow_all:
        return False
    if entry.parser is None:
        return True
    return entry.parser.can_fetch(agent, url)


@dataclass
class _HostState:
    semaphore: asyncio.Semaphore
    sent: deque[datetime] = field(default_factory=deque)
    blocked_until: datetime | None = None


class Politeness:
    """Shared politeness state for one Fetcher: semaphores, budgets, robots cache."""

    def __init__(self, *, concurrency: int, per_host: int, per_host_per_minute: int, clock: Clock) -> None:
        self._concurrency = concurrency
        self._per_host = per_host
        self._per_minute = per_host_per_minute
        self._clock = clock
        self._global: asyncio.Semaphore | None = None
        self._hosts: dict[str, _HostState] = {}
        self.robots: dict[str, RobotsEntry] = {}

    @property
    def limits(self) -> dict[str, int]:
        """The limits this state enforces, as the constructor takes them."""
        return {"concurrency": self._concurrency, "per_host": self._per_host,
                "per_host_per_minute": self._per_minute}

    def _host(self, host: str) -> _HostState:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _HostState(asyncio.Semaphore(self._per_host))
        return state

    @property
    def global_slots(self) -> asyncio.Semaphore:
        """Semaphore bounding all fetches at once (created inside the running loop)."""
        if self._global is None:
            self._global = asyncio.Semaphore(self._concurrency)
        return self._global

    def host_slots(self, host: str) -> asyncio.Semaphore:
        """Semaphore bounding fetches running at once against ``host``."""
        return self._host(host).semaphore

    def take(self, host: str) -> datetime | None:
        """Spend one request of ``host``'s budget; None if spent, else when to come back."""
        state = self._host(host)
        now = self._clock()
        if state.blocked_until is not None:
            if now < state.blocked_until:
                return state.blocked_until
            state.blocked_until = None
        later = budget_allows(state.sent, now, self._per_minute)
        if later is None:
            state.sent.append(now)
        return later

    def block(self, host: str, until: datetime) -> None:
        """Honour a server's Retry-After for every source on ``host``."""
        state = self._host(host)
        if state.blocked_until is None or until > state.blocked_until:
            state.blocked_until = until
