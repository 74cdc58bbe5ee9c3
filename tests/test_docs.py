"""The documentation keeps up with the code: every command in README, every setting in config.yaml."""

from __future__ import annotations

import re
from pathlib import Path

from aggregator.cli import main
from aggregator.config.schema import ClassifierSettings, FetchSettings, WebSettings

REPO = Path(__file__).resolve().parents[1]


def test_every_command_is_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    for name in main.commands:
        assert f"`funnelfeed {name}" in readme, f"README's command table lacks `funnelfeed {name}`"


def test_every_setting_is_shown_in_the_shipped_config() -> None:
    text = (REPO / "config.yaml").read_text()
    for model in (FetchSettings, WebSettings, ClassifierSettings):
        for name in model.model_fields:
            assert re.search(rf"^\s+{name}:", text, re.M), f"config.yaml does not show {model.__name__}.{name}"


def test_readme_starts_with_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text()
    first_block = readme.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line for line in first_block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2 and "funnelfeed serve" in commands[0] and "pytest" in commands[1]
    ci = (REPO / ".ci" / "run").read_text()
    assert commands[1] in ci, ".ci/run must run exactly README's test command"
