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


@pytest.mark.parametrize("value", ["9999999999d", "99999999999999999999999s", "1e400", ".inf", ".nan", "3651d"])
def test_huge_or_infinite_durations_are_problems_not_tracebacks(value: str) -> None:
    problems = problems_of(f"fetch: {{every: {value}}}\n")
    assert len(problems) == 1 and problems[0].startswith("config.yaml:1:9: fetch.every:"), problems
    assert "duration" in problems[0]
    assert load_config_text("fetch: {every: 3650d, deadline: 90}\n", environ={}).fetch.every.days == 3650


def test_page_selectors_that_are_not_css_are_found_by_check() -> None:
    problems = problems_of(
        "sources:\n  - id: p\n    url: https://x.example/\n    kind: page\n    visibility: external\n"
        "    select: {item: '<<<', title: 'h2[', link: 'a@href', date: '@datetime', summary: ''}\n"
    )
    assert [p.split(": ", 2)[1] for p in problems] == ["sources[0].select.item", "sources[0].select.title",
                                                     "sources[0].select.summary"], problems
    assert "'<<<' is not a valid CSS selector" in problems[0] and "write it like article" in problems[0]
    assert "cannot be empty" in problems[2]


def test_template_placeholders_must_be_bare() -> None:
    def template(url: str) -> str:
        return f"templates:\n  - {{id: t, url: '{url}', kind: feed, visibility: external}}\n"

    conversion = problems_of(template("https://n.example/?q={name!r}&i={id:>5}"))
    assert len(conversion) == 2 and "write {name}" in conversion[0] and "write {id}" in conversion[1]
    unbalanced = problems_of(template("https://n.example/?q={name"))
    assert len(unbalanced) == 1 and "has no partner" in unbalanced[0] and "{{" in unbalanced[0]
    literal = load_config_text(template("https://n.example/{{x}}?q={name}") +
                               "prospects:\n  - {id: a, name: A B}\n", environ={})
    assert effective_sources(literal)[0].url == "https://n.example/{x}?q=A%20B"


def test_a_password_in_a_source_url_is_a_problem_and_is_not_repeated() -> None:
    problems = problems_of(
        "sources:\n  - {id: s, url: 'https://bob:hunter2@x.example/', kind: feed, visibility: external}\n"
        "  - {id: t, url: 'https://bob@x.example/', kind: feed, visibility: external}\n"
    )
    assert len(problems) == 1 and "sources[0].url" in problems[0] and "password_env" in problems[0]
    assert "hunter2" not in problems[0] and "bob:***" in problems[0]


@pytest.mark.parametrize(("url", "words"), [
    ("mysql://u:pw@db/x", "'mysql' is not a database funnelfeed can use"),
    ("postgres://db/x", "'postgres' is not a database"),
    ("sqlite://ff.db", "three slashes"),
    ("sqlite:///", "names no file"),
])
def test_database_urls_funnelfeed_cannot_use_are_problems(url: str, words: str) -> None:
    problems = problems_of(f"database: '{url}'\n")
    assert len(problems) == 1 and problems[0].startswith("config.yaml:1:1: database:") and words in problems[0]
    assert "pw" not in problems[0]


def test_a_bad_database_url_from_the_environment_is_named(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("prospects: []\n")
    monkeypatch.setenv("FUNNELFEED_DATABASE_URL", "mysql://u:secretpw@127.0.0.1:1/db")
    result = CliRunner().invoke(main, ["sources", "--config", str(config)])
    assert result.exit_code == 1
    assert "FUNNELFEED_DATABASE_URL: 'mysql' is not a database" in result.output
    assert "secretpw" not in result.output


def test_a_relative_sqlite_file_is_next_to_config_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "srv"
    folder.mkdir()
    (folder / "config.yaml").write_text("database: sqlite:///data/ff.db\n")
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("FUNNELFEED_DATABASE_URL", raising=False)
    assert load_config(folder / "config.yaml").database == f"sqlite:///{folder / 'data' / 'ff.db'}"
    result = CliRunner().invoke(main, ["sources", "--config", str(folder / "config.yaml")])
    assert result.exit_code == 0, result.output
    assert (folder / "data" / "ff.db").is_file() and not list(elsewhere.iterdir())


def test_the_shipped_config_shows_every_key() -> None:
    """README: "the shipped file is a working, commented example of every key"."""
    from pydantic import BaseModel

    from aggregator.config import schema

    text = (REPO / "config.yaml").read_text()
    models = [m for m in vars(schema).values()
              if isinstance(m, type) and issubclass(m, BaseModel) and m.__module__ == schema.__name__]
    for model in models:
        for name in model.model_fields:
            assert re.search(rf"\b{name}:", text), f"config.yaml does not show {model.__name__}.{name}"


def test_check_names_prospects_a_domain_template_skips(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "prospects:\n  - {id: acme, name: Acme, domains: [acme.example]}\n  - {id: bare, name: Bare}\n"
        "templates:\n  - {id: site, url: 'https://{domain}/feed', kind: feed, visibility: external}\n"
        "  - {id: news, url: 'https://n.example/?q={name}', kind: feed, visibility: external}\n"
    )
    result = CliRunner().invoke(main, ["check", "--config", str(config)])
    assert result.exit_code == 0
    assert "OK: 2 prospects, 3 sources" in result.output
    assert "note: template 'site' uses {domain}, so it makes no source for bare" in result.output
    assert "template 'news'" not in result.output


def test_a_config_saved_as_windows_1252_is_located_with_the_fix(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_bytes("prospects:\n  - {id: socgen, name: Société Générale}\n".encode("cp1252"))
    with pytest.raises(ConfigError) as info:
        load_config(config)
    [problem] = [str(p) for p in info.value.problems]
    assert problem.startswith(f"{config}:2:28: the file is not UTF-8 (byte 0xe9, perhaps 'é'")
    assert "save config.yaml as UTF-8" in problem


def test_a_tab_in_the_indentation_is_named() -> None:
    problems = problems_of("prospects:\n\t- {id: acme, name: A}\n")
    assert problems[0].startswith("config.yaml:2:1: YAML error") and "indent with spaces, never tabs" in problems[0]


def test_prospect_domains_must_be_host_names() -> None:
    problems = problems_of(
        "prospects:\n  - id: acme\n    name: Acme\n"
        "    domains: ['https://www.acme.example/', acme.example/news, ACME.example, shop.acme.example]\n"
    )
    assert problems == [
        "config.yaml:4:15: prospects[0].domains[0]: 'https://www.acme.example/' is not a domain: "
        "write the host name alone, e.g. acme.example",
        "config.yaml:4:44: prospects[0].domains[1]: 'acme.example/news' is not a domain: "
        "write the host name alone, e.g. acme.example",
    ]


def test_a_rep_name_longer_than_the_database_keeps_is_a_problem() -> None:
    """PostgreSQL refused it at every command with a DataError traceback (reps.name is VARCHAR(200))."""
    problems = problems_of("reps:\n  - {id: r, name: '" + "N" * 201 + "'}\n")
    assert len(problems) == 1 and problems[0].startswith("config.yaml:2:13: reps[0].name:")
    assert "at most 200 characters" in problems[0]
    assert load_config_text("reps:\n  - {id: r, name: '" + "N" * 200 + "'}\n", environ={}).reps[0].name


def test_wrong_shapes_say_what_to_write() -> None:
    problems = problems_of(
        "prospects:\n  - {id: a, name: '', aliases: Acme}\n"
        "reps:\n  - {id: r, name: R, accounts: [acme]}\n"
        "sources: x\n"
        "templates:\n  - {id: t, url: 'https://n.example/{name}', kind: feed, visibility: external, robots: maybe}\n"
    )
    assert problems == [
        "config.yaml:2:13: prospects[0].name: cannot be empty",
        "config.yaml:2:23: prospects[0].aliases: expected a list, e.g. [Acme] or one '- item' per line "
        "below the key (got 'Acme')",
        "config.yaml:4:33: reps[0].accounts[0]: expected 'key: value' entries here with keys such as "
        "prospect, stage (got 'acme')",
        "config.yaml:5:1: sources: expected a list of entries, each starting with '- ' on its own line (got 'x')",
        "config.yaml:7:80: templates[0].robots: expected true or false (got 'maybe')",
    ]


def test_an_international_domain_fills_a_template_host_in_its_ascii_form() -> None:
    config = load_config_text(
        "prospects:\n  - {id: buecher, name: Bücher & Co, domains: [bücher.example]}\n"
        "templates:\n  - {id: site, url: 'https://{domain}/feed?q={name}', kind: feed, visibility: external}\n",
        environ={},
    )
    [spec] = effective_sources(config)
    assert spec.url == "https://xn--bcher-kva.example/feed?q=B%C3%BCcher%20%26%20Co"
