"""`funnelfeed serve` holds FUNNELFEED_ADMIN_PASSWORD to the rule `funnelfeed users add` applies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from aggregator.cli import main
from aggregator.storage import open_storage
from tests.runtime.test_serve import free_port
from web.security import MIN_PASSWORD, verify_password


def write_config(tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "ff.db"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: sqlite:///{db}\nprospects:\n  - {{id: acme, name: Acme Corporation, aliases: [Acme]}}\n"
    )
    return config, db


def run_serve(config: Path, password: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUNNELFEED_")}
    env |= {"FUNNELFEED_ADMIN_USER": "admin", "FUNNELFEED_ADMIN_PASSWORD": password}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "aggregator",
            "serve",
            "--config",
            str(config),
            "--no-fetch",
            "--port",
            str(free_port()),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_serve_refuses_a_short_admin_password(tmp_path: Path) -> None:
    config, db = write_config(tmp_path)
    result = run_serve(config, "abc")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: FUNNELFEED_ADMIN_PASSWORD must have at least {MIN_PASSWORD} characters"]
    assert "funnelfeed serving" not in result.stderr
    storage = open_storage(f"sqlite:///{db}")
    try:
        assert storage.user("admin") is None  # nobody was created with the short password
    finally:
        storage.close()


def test_serve_keeps_an_existing_admin_when_the_new_password_is_short(tmp_path: Path) -> None:
    config, db = write_config(tmp_path)
    added = CliRunner().invoke(
        main,
        ["users", "add", "admin", "--role", "support", "--password-stdin", "--config", str(config)],
        input="a long password\n",
    )
    assert added.exit_code == 0, added.output
    result = run_serve(config, "x" * (MIN_PASSWORD - 1))
    assert result.returncode == 1, result.stderr
    assert f"FUNNELFEED_ADMIN_PASSWORD must have at least {MIN_PASSWORD} characters" in result.stderr
    assert "Traceback" not in result.stderr
    storage = open_storage(f"sqlite:///{db}")
    try:
        stored = storage.user("admin")
        assert stored is not None and verify_password(stored.password_hash, "a long password")
    finally:
        storage.close()


def test_users_add_applies_the_same_minimum(tmp_path: Path) -> None:
    config, _ = write_config(tmp_path)
    short = CliRunner().invoke(
        main,
        ["users", "add", "lee", "--role", "manager", "--password-stdin", "--config", str(config)],
        input="x" * (MIN_PASSWORD - 1) + "\n",
    )
    assert short.exit_code == 1
    assert f"the password must have at least {MIN_PASSWORD} characters" in short.output
