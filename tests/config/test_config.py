"""config.yaml validation: every mistake located by file:line:column and key path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest
from click.testing import CliRunner

from aggregator.cli import main
from aggregator.config import effective_sources, load_config, load_config_text
from aggregator.config.schema import STAGES, Config, Stage
from aggregator.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]

BROKEN = """\
database: sqlite:///x.db
prospects:
  - id: acme
    name: Acme
    aliass: [A]
  - id: acme
    name: Dup
templates:
  - id: t1
    url: "https://news.example/rss?q={nmae}"
    kind: feed
    visibility: external
    every: 1 hour
sources:
  - id: s1
    url: htp://x
    kind: feeds
    prospects: [acmee]
  - id: s2
    url: https://ok.example/
    kind: feed
    visibility: extrenal
  - id: s3
    url: https://ok.example/x
    kind: feed
    visibility: internal
    every: [1]
    auth: {header: Authorization, env: FUNNELFEED_TEST_MISSING_TOKEN}
reps:
  - id: r1
    name: R
    accounts:
      - {prospect: acme, stage: qualifiying}
      - {prospect: initek, stage: pricing}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "config.yaml", environ={})
    return [str(p) for p in info.value.problems]


def test_shipped_config_is_valid() -> None:
    config = load_config(REPO / "config.yaml")
    assert config.prospects and config.sources and config.reps
    # Every schema field appears in the shipped example, so it documents them all.
    text = (REPO / "config.yaml").read_text()
    for name in Config.model_fields:
        assert re.search(rf"^{name}:", text, re.M), f"config.yaml does not show top-level key {name}"


def test_every_mistake_is_reported_at_once_with_location() -> None:
    problems = problems_of(BROKEN)
    expected = [
        ("config.yaml:5:5: prospects[0].aliass:", "did you mean 'aliases'"),
        ("config.yaml:6:5: prospects[1].id:", "duplicate id 'acme'"),
        ("config.yaml:10:5: templates[0].url:", "unknown placeholder {nmae}; did you mean 'name'"),
        ("config.yaml:13:5: templates[0].every:", "'1 hour' is not a duration"),
        ("config.yaml:15:5: sources[0].visibility:", "required key 'visibility' is missing"),
        ("config.yaml:16:5: sources[0].url:", "'htp://x' is not a URL"),
        ("config.yaml:17:5: sources[0].kind:", "did you mean 'feed'"),
        ("config.yaml:18:17: sources[0].prospects[0]:", "unknown prospect 'acmee'; did you mean 'acme'"),
        ("config.yaml:22:5: sources[1].visibility:", "did you mean 'external'"),
        ("config.yaml:27:5: sources[2].every:", "duration"),
        ("config.yaml:28:5: sources[2].auth:", "FUNNELFEED_TEST_MISSING_TOKEN is not set"),
        ("config.yaml:33:26: reps[0].accounts[0].stage:", "did you mean 'qualifying'"),
        ("config.yaml:34:10: reps[0].accounts[1].prospect:", "unknown prospect 'initek'"),
    ]
    for where, what in expected:
        assert any(p.startswith(where) and what in p for p in problems), (where, what, problems)
    assert len(problems) == len(expected), problems


def test_yaml_12_semantics_no_norway_problem() -> None:
    config = load_config_text(
        "prospects:\n  - {id: 'no', name: no, aliases: [12:30, yes, off]}\n", environ={}
    )
    prospect = config.prospects[0]
    assert prospect.name == "no"  # YAML 1.1 would have made this False
    assert prospect.aliases == ["12:30", "yes", "off"]  # not 750 (sexagesimal) nor booleans
    # Unquoted 010 is the integer 10 in YAML 1.2 (never octal 8): where text is expected
    # that is an error asking for quotes, not a silent conversion.
    problems = problems_of("prospects:\n  - {id: acme, name: Acme, aliases: [010]}\n")
    assert "prospects[0].aliases[0]" in problems[0] and "quote" in problems[0]


def test_duplicate_keys_are_errors() -> None:
    problems = problems_of("database: sqlite:///a.db\ndatabase: sqlite:///b.db\n")
    assert len(problems) == 1 and "duplicate key" in problems[0] and "config.yaml:2:" in problems[0]


def test_yaml_syntax_error_is_located() -> None:
    problems = problems_of("prospects:\n  - id: acme\n    name: [unclosed\n")
    assert problems[0].startswith("config.yaml:") and "YAML error" in problems[0]


def test_alias_expansion_is_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("stages: {pricing: *a8}")
    problems = problems_of("\n".join(lines) + "\n")
    assert "too many YAML aliases" in problems[0]


def test_visibility_has_no_default() -> None:
    problems = problems_of("sources:\n  - {id: s, url: 'https://x.example/', kind: feed}\n")
    assert "visibility" in problems[0] and "there is no default" in problems[0]


def test_secret_headers_must_come_from_env() -> None:
    problems = problems_of(
        "sources:\n  - id: s\n    url: https://x.example/\n    kind: feed\n    visibility: external\n"
        "    headers: {Authorization: Bearer abc}\n"
    )
    assert "carries a secret" in problems[0]


def test_templates_expand_per_prospect_url_encoded() -> None:
    config = load_config_text(
        "prospects:\n  - {id: acme, name: Acme & Sons, domains: [acme.example]}\n"
        "  - {id: bare, name: Bare}\n"
        "templates:\n  - {id: news, url: 'https://n.example/rss?q={name}', kind: feed, visibility: external}\n"
        "  - {id: site, url: 'https://{domain}/feed', kind: feed, visibility: external}\n",
        environ={},
    )
    specs = {s.id: s for s in effective_sources(config)}
    assert specs["news.acme"].url == "https://n.example/rss?q=Acme%20%26%20Sons"
    assert specs["news.acme"].prospects == ("acme",)
    assert "site.acme" in specs and "site.bare" not in specs  # no domain to fill in


def test_check_command_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(main, ["check", "--config", str(REPO / "config.yaml")])
    assert good.exit_code == 0 and "OK: 3 prospects" in good.output
    bad = tmp_path / "config.yaml"
    bad.write_text(BROKEN)
    result = runner.invoke(main, ["check", "--config", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:5:5: prospects[0].aliass" in result.output
    missing = runner.invoke(main, ["check", "--config", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "file not found" in missing.output


def test_the_stage_literal_names_the_classifiers_stages_in_funnel_order() -> None:
    assert get_args(Stage) == STAGES
