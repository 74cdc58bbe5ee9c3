"""Label files with a bad line: `train` and `evaluate` name the file and line, never a traceback or a silent drop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator.cli import main
from classifiers import STAGES, LabelError, read_jsonl

CONFIG = """
classifier:
  model_path: model.pkl
prospects:
  - {id: apple, name: Apple Inc., aliases: [Apple, AAPL]}
  - {id: target, name: Target Corporation, aliases: [Target, TGT]}
"""

GOOD = [
    {"title": "Apple signs a supply deal", "stages": ["closing"], "prospects": ["apple"]},
    {"title": "Target stores hit by an outage", "stages": ["servicing"], "prospects": ["target"]},
]

BAD_LINES = [
    ("[1]", 'line 4: expected a JSON object like {"title": "...", "stages": ["pricing"]}, got an array'),
    ('"text"', 'line 4: expected a JSON object like {"title": "...", "stages": ["pricing"]}, got a string'),
    ("42", "line 4: expected a JSON object"),
    ("{not json", "line 4: not JSON (Expecting property name enclosed in double quotes)"),
    (
        '{"title": "Apple raises prices", "stages": ["pricng"]}',
        "line 4: unknown stage 'pricng'; did you mean 'pricing'?",
    ),
    (
        '{"title": "Apple raises prices", "stages": ["upsell"]}',
        "line 4: unknown stage 'upsell' (stages: " + ", ".join(STAGES) + ")",
    ),
    (
        '{"title": "Apple raises prices", "stages": "pricing"}',
        "line 4: 'stages' must be a list of stage names like [\"pricing\"], got a string",
    ),
    (
        '{"title": "Apple raises prices", "stages": ["pricing"], "prospects": ["appel"]}',
        "line 4: unknown prospect 'appel'; did you mean 'apple'?",
    ),
    (
        '{"title": "Globex wins", "stages": [], "prospects": ["globex"]}',
        "line 4: unknown prospect 'globex' (not a prospect id in ",
    ),
]


def write(tmp_path: Path, bad_line: str) -> tuple[Path, Path]:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    labels = tmp_path / "f.jsonl"
    # a blank line before the bad one: lines are counted as an editor counts them
    labels.write_text("\n".join([*(json.dumps(r) for r in GOOD), "", bad_line]) + "\n", encoding="utf-8")
    return config, labels


@pytest.mark.parametrize("command", ["train", "evaluate"])
@pytest.mark.parametrize(
    ("bad_line", "message"),
    BAD_LINES,
    ids=[
        "array",
        "string",
        "number",
        "not-json",
        "misspelt-stage",
        "unknown-stage",
        "stages-not-a-list",
        "misspelt-prospect",
        "unknown-prospect",
    ],
)
def test_a_bad_label_line_is_named(tmp_path: Path, command: str, bad_line: str, message: str) -> None:
    config, labels = write(tmp_path, bad_line)
    result = CliRunner().invoke(main, [command, "--config", str(config), "--labels", str(labels)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # no traceback
    assert f"Error: {labels} {message}" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "model.pkl").exists()


@pytest.mark.parametrize("bad_line", ["[1]", '{"title": "x", "stages": ["pricng"]}'])
def test_train_without_config_names_a_bad_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad_line: str) -> None:
    write(tmp_path, bad_line)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["train", "--labels", "f.jsonl"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert result.output.startswith("Error: f.jsonl line 4: ")
    assert list(tmp_path.glob("*.pkl")) == []


def test_train_without_config_keeps_prospects_it_cannot_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no config.yaml there are no prospect ids to check against: labels keep theirs for a later config."""
    write(tmp_path, '{"title": "Globex wins a contract", "stages": ["closing"], "prospects": ["globex"]}')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["train", "--labels", "f.jsonl", "--output", "m.pkl"])
    assert result.exit_code == 0, result.output
    assert '"labels": 3' in result.output


def test_read_jsonl_raises_label_error(tmp_path: Path) -> None:
    _, labels = write(tmp_path, '{"title": "x", "stages": ["pricng"]}')
    with pytest.raises(LabelError) as caught:
        read_jsonl(labels)
    assert str(caught.value) == f"{labels} line 4: unknown stage 'pricng'"
    assert caught.value.unknown == "pricng" and caught.value.choices == STAGES and caught.value.noun == "stage"
    assert isinstance(caught.value, ValueError)


def test_read_jsonl_keeps_every_label_of_good_lines(tmp_path: Path) -> None:
    _, labels = write(tmp_path, '{"title": "Apple names a new CFO", "stages": ["proposing", "qualifying"]}')
    items = read_jsonl(labels, prospects={"apple", "target"})
    assert [(e.stages, e.prospects) for e in items] == [
        (("closing",), ("apple",)),
        (("servicing",), ("target",)),
        (("proposing", "qualifying"), ()),
    ]
