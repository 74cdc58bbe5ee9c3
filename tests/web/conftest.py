"""Fixtures: one seeded database built per session, copied for every test that needs a world."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aggregator.runtime import Runtime, open_runtime
from tests.web.support import build_template, make_world, seed, write_config
from web.app import create_app

os.environ.setdefault("FUNNELFEED_TEST_SECRET", "test-secret-not-for-production")


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("template"))


@pytest.fixture
def world_db(request: pytest.FixtureRequest) -> str:
    """Which database the world lives in; modules opt in to PostgreSQL with
    ``pytestmark = pytest.mark.parametrize("world_db", ["sqlite", "postgresql"], indirect=True)``."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def runtime(template_db: Path, tmp_path: Path, world_db: str, request: pytest.FixtureRequest,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    if world_db == "postgresql":
        monkeypatch.setenv("FUNNELFEED_DATABASE_URL", str(request.getfixturevalue("pg_url")))
        rt = open_runtime(write_config(tmp_path / "world"))
        seed(rt)
    else:
        rt = make_world(template_db, tmp_path / "world")
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), base_url="http://testserver") as c:
        yield c
