"""Shared fixtures: real SQLite files, a real PostgreSQL server, the shared corpus."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg import create_database, find_pg_bin, postgres_server

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
_counter = itertools.count()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared (corpus, labels): read-only, absent from a fresh clone."""
    if not (SHARED / "corpus").is_dir():
        pytest.skip(f"{SHARED} is absent (a fresh clone has no shared corpus/labels)")
    return SHARED


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    if not find_pg_bin("initdb"):
        pytest.skip("PostgreSQL binaries not installed (apt-get install postgresql); .ci/run installs them")
    with postgres_server() as url:
        yield url


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    return create_database(pg_server, f"t{next(_counter)}")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'funnelfeed.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run a test against both databases, each for real."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'funnelfeed.db'}"
    return str(request.getfixturevalue("pg_url"))
