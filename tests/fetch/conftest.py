"""Fixtures for fetch tests: loopback servers (127.0.0.1, and 127.0.0.2 as the intranet) and a clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fetch.support import FakeClock, Server, SilentServer, serve, serve_silent


@pytest.fixture
def server() -> Iterator[Server]:
    """An HTTP server on 127.0.0.1 (allowed by the test settings)."""
    yield from serve("127.0.0.1")


@pytest.fixture
def intranet() -> Iterator[Server]:
    """An HTTP server on 127.0.0.2, standing in for a private intranet host."""
    yield from serve("127.0.0.2")


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    """A server that accepts connections and never answers."""
    yield from serve_silent()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
